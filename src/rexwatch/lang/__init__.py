"""Query languages compiled to ClickHouse SQL: filter patterns (``filterpattern``)."""
