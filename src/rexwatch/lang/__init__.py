"""Query languages compiled to ClickHouse SQL: filter patterns (``filterpattern``) and Logs Insights
(``insights``), each tokenizer -> parser -> AST -> generator."""
