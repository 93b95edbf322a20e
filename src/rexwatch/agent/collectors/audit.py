"""An application's PostgreSQL audit table, tailed by id into a log group (the audit rules read it).

Each new row (``id_column`` greater than the last one shipped) becomes one JSON log event: every
column by name, plus ``at`` (ISO 8601) from ``time_column``, which is also the event's timestamp.
At most ``batch`` rows are read per interval, oldest first. The last id is kept in the agent's state
directory and moves when the next collection starts, by when the previous rows are in the disk
buffer: delivery is at least once. A table seen for the first time starts at its current end
(``from = "start"`` ships what it already holds).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

import psycopg
from psycopg import sql

from rexwatch.agent.config import AgentConfig
from rexwatch.agent.model import Collected, LogLine

log = logging.getLogger(__name__)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, int | float | str | bool | dict | list) or v is None:
        return v
    return str(v)


class AuditCollector:
    name = "audit"

    def __init__(self, cfg: AgentConfig) -> None:
        assert cfg.audit is not None
        self.cfg = cfg.audit
        self.stream = self.cfg.stream.replace("{host}", cfg.name)
        self.state = cfg.state_path / f"audit-{self.cfg.table}.json"
        self.conn: psycopg.Connection | None = None
        self.last_id: int | None = self._load()
        self.pending_id: int | None = None
        table = [sql.Identifier(p) for p in self.cfg.table.split(".")]
        self.query = sql.SQL("SELECT * FROM {t} WHERE {id} > %s ORDER BY {id} LIMIT %s").format(
            t=sql.SQL(".").join(table), id=sql.Identifier(self.cfg.id_column))
        self.end_query = sql.SQL("SELECT coalesce(max({id}), 0) FROM {t}").format(
            t=sql.SQL(".").join(table), id=sql.Identifier(self.cfg.id_column))

    def _load(self) -> int | None:
        try:
            return int(json.loads(self.state.read_text())["last_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save(self, last_id: int) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_id": last_id}))
        tmp.replace(self.state)

    def _connect(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.cfg.dsn, autocommit=True, connect_timeout=5,
                                        application_name="rexwatch-agent")
            self.conn.execute("SET statement_timeout = '5s'")
        return self.conn

    def collect(self, now: float) -> Collected:
        # The rows of the previous collection are in the disk buffer by now: move the checkpoint.
        if self.pending_id is not None:
            self.last_id, self.pending_id = self.pending_id, None
            self._save(self.last_id)
        try:
            conn = self._connect()
            if self.last_id is None:
                if self.cfg.from_ == "start":
                    self.last_id = 0
                else:
                    row = conn.execute(self.end_query).fetchone()
                    self.last_id = int(row[0]) if row else 0
                    self._save(self.last_id)
                    return Collected()
            cur = conn.execute(self.query, (self.last_id, self.cfg.batch))
            cols = [d.name for d in cur.description or ()]
            rows = cur.fetchall()
        except psycopg.Error as e:
            log.warning("audit collector: %s", e)
            self.conn = None
            return Collected()
        lines = []
        for r in rows:
            doc = {c: _jsonable(v) for c, v in zip(cols, r, strict=False)}
            at = r[cols.index(self.cfg.time_column)] if self.cfg.time_column in cols else None
            if isinstance(at, dt.datetime):
                at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
                ts = int(at.timestamp() * 1000)
                doc.setdefault("at", _jsonable(at))
            else:
                ts = int(now * 1000)
            lines.append(LogLine(self.cfg.group, self.stream, ts, json.dumps(doc, separators=(",", ":"))))
        if rows:
            self.pending_id = int(rows[-1][cols.index(self.cfg.id_column)])
        return Collected(lines=lines)

    def close(self) -> None:
        # The agent closes collectors after buffering what they returned.
        if self.pending_id is not None:
            self._save(self.pending_id)
        if self.conn is not None:
            self.conn.close()


def valid_identifier(name: str) -> bool:
    return bool(_IDENT.fullmatch(name))



