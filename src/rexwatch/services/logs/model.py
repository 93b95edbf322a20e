"""The logs domain: what LogsService takes and returns. Times are epoch milliseconds.

Front doors convert these to and from their wire shapes (``aws/logs.py`` for the
AWS JSON protocol, ``api/routes/logs.py`` for REST); stores return ``Group`` and
``Stream`` records and Arrow tables of events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from rexwatch.errors import Invalid


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Group:
    """A log group as stored: ``id`` is its incarnation (a recreated group gets a new one)."""

    id: int
    name: str
    created_ms: int
    retention_days: int | None
    kms_key_id: str | None
    log_group_class: str
    deletion_protection: bool
    index_policy: str | None
    index_policy_ms: int | None
    # The team the group belongs to; None: no team (every caller sees it).
    team_id: int | None = None

    @property
    def index_fields(self) -> tuple[str, ...]:
        if not self.index_policy:
            return ()
        return tuple(orjson.loads(self.index_policy).get("Fields", ()))


@dataclass(frozen=True)
class Stream:
    id: int
    group_id: int
    name: str
    created_ms: int


@dataclass(frozen=True)
class LogGroup:
    """A log group as described to clients."""

    name: str
    arn: str  # without the trailing ":*"
    created_ms: int
    stored_bytes: int
    log_group_class: str
    deletion_protection: bool
    retention_days: int | None = None
    kms_key_id: str | None = None
    metric_filter_count: int = 0


@dataclass(frozen=True)
class LogStream:
    name: str
    arn: str
    created_ms: int
    stored_bytes: int = 0
    first_event_ms: int | None = None
    last_event_ms: int | None = None
    last_ingestion_ms: int | None = None


@dataclass(frozen=True)
class IndexPolicy:
    group_arn: str
    document: str
    updated_ms: int | None
    name: str = "default"
    source: str = "LOG_GROUP"


@dataclass(frozen=True)
class FieldIndex:
    group_arn: str
    field_name: str
    last_scan_ms: int | None


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A stored event. ``event_id`` is its commit sequence number as text; ``log_group`` is
    set when a search spans several groups."""

    timestamp: int
    message: str
    ingestion_time: int
    event_id: str
    log_stream: str
    log_group: str | None = None


@dataclass
class FilteredEvents:
    """A page of FilterLogEvents or tail, in (timestamp, seq) order (tail: seq order)."""

    events: list[LogEvent]
    next_token: str | None = None
    snapshot_seq: int | None = None  # the highest seq this search (all its pages) covers
    last_seq: int | None = None  # tail: pass it back as after_seq


@dataclass
class StreamEvents:
    """A page of GetLogEvents with the forward and backward tokens AWS hands out."""

    events: list[LogEvent]
    next_forward_token: str
    next_backward_token: str


@dataclass(frozen=True)
class RejectedEvents:
    """Positions in the request of events not stored (AWS: end indexes exclusive, start inclusive)."""

    too_old_end: int | None = None
    expired_end: int | None = None
    too_new_start: int | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.too_old_end, self.expired_end, self.too_new_start))


@dataclass(frozen=True)
class PutResult:
    next_sequence_token: str
    rejected: RejectedEvents = field(default_factory=RejectedEvents)


INPUT_EVENT = pa.struct([("timestamp", pa.int64()), ("message", pa.string())])


@dataclass(frozen=True)
class LogEventBatch:
    """Events to store: an Arrow struct array of (timestamp ms, message), in request order.

    Kept columnar so a 10,000-event request is never a list of Python objects.
    """

    events: pa.StructArray

    def __len__(self) -> int:
        return len(self.events)

    @classmethod
    def from_records(cls, records: Any, field_name: str = "logEvents") -> LogEventBatch:
        """From ``[{"timestamp": ms, "message": text}, ...]`` (the AWS and REST input shape)."""
        if not isinstance(records, list) or not records:
            raise Invalid(f"{field_name} must be a non-empty list of {{timestamp, message}}", field=field_name)
        try:
            return cls(pa.array(records, type=INPUT_EVENT))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
            raise Invalid(f"{field_name} must be a list of {{timestamp: integer ms, message: string}}: {e}",
                          field=field_name)

    @classmethod
    def from_columns(cls, timestamps: Any, messages: Any) -> LogEventBatch:
        """From parallel lists ``timestamps`` (epoch ms) and ``messages`` (the REST API's columnar shape)."""
        if not isinstance(timestamps, list) or not timestamps:
            raise Invalid("timestamps must be a non-empty list of integer ms", field="timestamps")
        if not isinstance(messages, list) or len(messages) != len(timestamps):
            raise Invalid(f"messages must be a list as long as timestamps ({len(timestamps)})", field="messages")
        try:
            ts = pa.array(timestamps, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
            raise Invalid(f"timestamps must be integer ms: {e}", field="timestamps")
        try:
            msgs = pa.array(messages, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
            raise Invalid(f"messages must be strings: {e}", field="messages")
        if ts.null_count or msgs.null_count:
            raise Invalid("timestamps and messages must not hold null", field="timestamps" if ts.null_count else "messages")
        return cls(pa.StructArray.from_arrays([ts, msgs], fields=list(INPUT_EVENT)))

    @classmethod
    def of(cls, events: Sequence[tuple[int, str]]) -> LogEventBatch:
        """From (timestamp ms, message) pairs, for Python callers."""
        ts, msgs = zip(*events, strict=True) if events else ((), ())
        return cls(pa.StructArray.from_arrays([pa.array(ts, pa.int64()), pa.array(msgs, pa.string())],
                                              fields=list(INPUT_EVENT)))
