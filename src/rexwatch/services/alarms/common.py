"""Constants, seams and small helpers shared by the alarms service modules."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, update

from rexwatch.errors import Invalid, InvalidToken
from rexwatch.services.alarms import evaluator as ev
from rexwatch.services.alarms.model import (
    StatQuery,
)
from rexwatch.stores.control.tables.alarms import alarm_history, alarms
from rexwatch.timeparse import as_utc

log = logging.getLogger("rexwatch.alarms")

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
ANOMALY_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
HISTORY_TYPES = (
    "ConfigurationUpdate",
    "StateUpdate",
    "Action",
    "AlarmContributorStateUpdate",
    "AlarmContributorAction",
)
MAX_ACTIONS = 5
MAX_DESCRIBE = 100
MAX_COMPOSITE_DEPTH = 10
HISTORY_DAYS = 30


class StatsSource(Protocol):
    """Where evaluation reads datapoints from: one call for many series."""

    def fetch(
        self, queries: Sequence[StatQuery], start: float, end: float
    ) -> dict[StatQuery, list[ev.Datapoint]]: ...


class Notifier(Protocol):
    """Puts a message for a topic into the delivery outbox, inside the caller's transaction."""

    def enqueue(
        self, conn: Connection, topic_arn: str, subject: str, message: str, dedup_id: str
    ) -> None: ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(d: dt.datetime | None) -> dt.datetime | None:
    if d is None:
        return None
    return as_utc(d)


def _ts(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _untoken(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise InvalidToken("NextToken is not valid", field="NextToken")


def _references(node: Any) -> set[str]:
    """Identifiers (metric or expression ids) a parsed metric math expression refers to."""
    import dataclasses

    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list | tuple):
            stack.extend(n)
        elif dataclasses.is_dataclass(n) and not isinstance(n, type):
            if type(n).__name__ == "Ref":
                out.add(n.name)
            stack.extend(getattr(n, f.name) for f in dataclasses.fields(n))
    return out


def _dims_key(dims: Iterable[dict[str, str]]) -> str:
    return "\n".join(sorted(f"{d['Name']}={d['Value']}" for d in dims))


def _num(v: Any, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number", field=name)
    if math.isnan(f) or math.isinf(f):
        raise Invalid(f"{name} must be a finite number", field=name)
    return f


@dataclass
class _Due:
    """The columns of an alarm that evaluation reads (the full row is loaded only on a transition)."""

    id: int
    name: str
    namespace: str | None
    metric_name: str | None
    config: dict[str, Any]
    state_value: str
    state_override: bool

    @property
    def dimensions(self) -> list[dict[str, str]]:
        return self.config.get("dimensions") or []


class _Batch:
    """Rows collected during one evaluation tick, written with one executemany each."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def flush(self, conn: Connection) -> None:
        if self.updates:
            cols = [k[1:] for k in self.updates[0] if k != "_id"]
            stmt = (
                update(alarms)
                .where(alarms.c.id == bindparam("_id"))
                .values({c: bindparam(f"_{c}") for c in cols})
            )
            conn.execute(stmt, self.updates)
        if self.history:
            conn.execute(insert(alarm_history), self.history)
        self.history, self.updates = [], []
