"""Alarm history: the items transitions, actions and configuration changes write, and their reads."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from rexwatch.errors import Invalid, InvalidToken
from rexwatch.services import access
from rexwatch.services.alarms.model import HistoryItem
from rexwatch.stores.control.alarm_history_repo import AlarmHistoryRepo
from rexwatch.timeparse import as_utc

HISTORY_TYPES = (
    "ConfigurationUpdate",
    "StateUpdate",
    "Action",
    "AlarmContributorStateUpdate",
    "AlarmContributorAction",
)
HISTORY_DAYS = 30  # as CloudWatch keeps it
MAX_RECORDS = 100


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def page_token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def read_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise InvalidToken("NextToken is not valid", field="NextToken")


class Writes:
    """History rows and alarm row updates collected while a transaction runs, written at its
    end with one executemany each (the tick's transitions for thousands of alarms)."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []


class History:
    def __init__(self, repo: AlarmHistoryRepo) -> None:
        self.repo = repo

    def record(
        self,
        conn: Connection,
        name: str,
        alarm_type: str,
        at: float,
        item_type: str,
        summary: str,
        data: dict | str,
        writes: Writes | None = None,
    ) -> None:
        """Add one item in the caller's transaction (or to ``writes``, flushed by the caller)."""
        row = {
            "alarm_name": name,
            "alarm_type": alarm_type,
            "timestamp": utc(at),
            "item_type": item_type,
            "summary": summary,
            "data": data if isinstance(data, str) else json.dumps(data, separators=(",", ":")),
        }
        if writes is not None:
            writes.history.append(row)
        else:
            self.repo.add(conn, [row])

    def flush(self, conn: Connection, writes: Writes) -> None:
        self.repo.add(conn, writes.history)
        writes.history = []

    def describe(
        self,
        *,
        name: str | None = None,
        types: Sequence[str] | None = None,
        item_type: str | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
        ascending: bool = False,
    ) -> tuple[list[HistoryItem], str | None]:
        if item_type is not None and item_type not in HISTORY_TYPES:
            raise Invalid(
                f"HistoryItemType must be one of {', '.join(HISTORY_TYPES)}", field="HistoryItemType"
            )
        limit = int(max_records or MAX_RECORDS)
        if not 1 <= limit <= MAX_RECORDS:
            raise Invalid(f"MaxRecords must be between 1 and {MAX_RECORDS}", field="MaxRecords")
        after = read_token(next_token)
        if after is not None and not isinstance(after, int):
            raise InvalidToken("NextToken is not valid", field="NextToken")
        items, last = self.repo.describe(
            name=name,
            types=types,
            item_type=item_type,
            start=as_utc(start) if start else None,
            end=as_utc(end) if end else None,
            after=after,
            ascending=ascending,
            limit=limit,
            teams=access.visible_teams(),
        )
        return items, (page_token(last) if last is not None else None)

    def prune(self, now: float, keep_days: int = HISTORY_DAYS) -> int:
        """Drop history older than ``keep_days``."""
        return self.repo.prune(utc(now - keep_days * 86400))
