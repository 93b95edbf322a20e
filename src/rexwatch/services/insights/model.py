"""The Logs Insights domain: what QueriesService returns. Times are epoch milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("Scheduled", "Running", "Complete", "Failed", "Cancelled", "Timeout", "Unknown")
DONE = ("Complete", "Failed", "Cancelled", "Timeout")


@dataclass(frozen=True)
class QueryStatistics:
    records_matched: float = 0.0
    records_scanned: float = 0.0
    bytes_scanned: float = 0.0
    log_groups_scanned: float = 0.0


@dataclass(frozen=True)
class QueryResult:
    """GetQueryResults: rows are text (or None for a field without a value), one per output column."""

    query_id: str
    status: str
    columns: list[str]
    rows: list[tuple[str | None, ...]]
    statistics: QueryStatistics = field(default_factory=QueryStatistics)
    error: str | None = None


@dataclass(frozen=True)
class QueryInfo:
    """DescribeQueries: one query and where it stands."""

    query_id: str
    query_string: str
    status: str
    create_ms: int
    log_group: str
    duration_ms: int
    bytes_scanned: float


@dataclass(frozen=True)
class QueryDefinition:
    id: str
    name: str
    query_string: str
    last_modified_ms: int
    log_group_names: list[str]


@dataclass(frozen=True)
class HistoryEntry:
    """One query a console user ran (the Insights page's history)."""

    id: int
    query_string: str
    log_group_names: list[str]
    created_ms: int
