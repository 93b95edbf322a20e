"""Query languages compiled to ClickHouse SQL (tokenizer -> parser -> AST -> generator)."""
