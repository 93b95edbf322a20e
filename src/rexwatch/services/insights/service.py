"""QueriesService: Logs Insights queries run asynchronously, as CloudWatch Logs runs them.

StartQuery compiles the query at once (bad queries fail the call with a
position) and queues it on a small bounded thread pool; GetQueryResults reads
the state. Each query runs as one ClickHouse statement over the logs engine's
``event_source`` with ``max_execution_time`` set from ``query_timeout_s``; a
query over its time is reported as Timeout. The pool has few workers
(``QUERY_WORKERS``) and a bounded queue (``MAX_ACTIVE``), so queries cannot
take the store from ingest for long or pile up; StopQuery cancels a queued
query and discards a running one's result.

Query state lives in this process's memory (the last ``KEEP`` queries, for
``KEEP_S``); saved query definitions live in the control store.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rexwatch.errors import Invalid, LimitExceeded, NotFound, QueryError, RexwatchError
from rexwatch.lang.insights import MAX_ROWS, CompiledQuery, compile_query
from rexwatch.services.insights.definitions import Definitions
from rexwatch.services.logs import LogsService
from rexwatch.services.logs import rules as log_rules

log = logging.getLogger("rexwatch.insights")

MAX_GROUPS = 50
QUERY_WORKERS = 2
MAX_ACTIVE = 30  # Scheduled + Running queries (CloudWatch's concurrency quota)
KEEP = 1000
KEEP_S = 7 * 86400
STATUSES = ("Scheduled", "Running", "Complete", "Failed", "Cancelled", "Timeout", "Unknown")
DONE = ("Complete", "Failed", "Cancelled", "Timeout")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class QueryRun:
    id: str
    query: str
    compiled: CompiledQuery
    groups: list[str]
    start_ms: int
    end_ms: int
    limit: int | None
    create_ms: int
    status: str = "Scheduled"
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    statistics: dict[str, float] = field(default_factory=lambda: {
        "recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0, "logGroupsScanned": 0.0})
    error: str | None = None
    duration_ms: int = 0
    cancelled: bool = False

    def results(self) -> list[list[dict[str, str]]]:
        """Rows in the AWS shape: a list of {field, value} per row, fields without a value left out."""
        cols = self.columns
        return [[{"field": c, "value": v} for c, v in zip(cols, row, strict=True) if v is not None]
                for row in self.rows]

    def describe(self) -> dict[str, Any]:
        return {"queryLanguage": "CWLI", "queryId": self.id, "queryString": self.query, "status": self.status,
                "createTime": self.create_ms, "logGroupName": self.groups[0],
                "queryDuration": self.duration_ms, "bytesScanned": self.statistics["bytesScanned"]}


_PLAIN_SOURCE = re.compile(r"^SELECT .+? FROM (\{db\}\.log_events WHERE .*)$", re.S)


def _scan_sql(source_sql: str) -> str:
    """count() and message bytes of the source. When the source is a plain filter over the events table,
    aggregate the table directly so ClickHouse reads only the message lengths, not the messages."""
    m = _PLAIN_SOURCE.match(source_sql.strip())
    if m and " FROM " not in m.group(1)[len("{db}.log_events"):]:
        return f"SELECT count(), sum(length(message)), 0 FROM {m.group(1)}"
    return f"SELECT count(), sum(length(message)), 0 FROM ({source_sql})"


def _counts_before_limit(executor: Any) -> bool:
    """The embedded engine can answer rows and ClickHouse's rows_before_limit_at_least in one call."""
    from rexwatch.stores.telemetry.chdb import ChdbExecutor

    return isinstance(executor, ChdbExecutor)


def _rows_and_count(executor: Any, sql: str, params: dict[str, Any]) -> tuple[list[tuple], int]:
    """Run ``sql`` in JSONCompact: its rows (all text or NULL) and the exact count before its LIMIT."""
    import orjson

    res = executor.engine.run(sql.replace("{db}", executor.database), "JSONCompact", params)
    data = orjson.loads(res.bytes()) if res is not None and res.bytes() else {"data": []}
    rows = [tuple(r) for r in data.get("data", [])]
    return rows, int(data.get("rows_before_limit_at_least", len(rows)))


def _shows_all_matches(run: QueryRun, rows: list[tuple]) -> bool:
    """A plain event query whose result is under its row cap holds every matching event."""
    from rexwatch.lang.insights import ast

    cap = min(n for n in (MAX_ROWS, run.limit) if n is not None)
    reducing = (ast.Stats, ast.Pattern, ast.Dedup, ast.Limit)
    return len(rows) < cap and not any(isinstance(c, reducing) for c in run.compiled.tree.commands)


def _is_timeout(exc: Exception) -> bool:
    text = str(exc)
    return "TIMEOUT_EXCEEDED" in text or "Code: 159." in text or "Timeout exceeded" in text


class QueriesService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.logs: LogsService = runtime.service(LogsService)
        self.definitions = Definitions(runtime.control)
        self.timeout_s = float(runtime.settings.query_timeout_s)
        from rexwatch.stores.telemetry.chdb import ChdbExecutor

        # The embedded engine runs statements on a small connection pool; one query worker leaves the
        # other connections to ingest and reads (and a query already uses every core), while a
        # ClickHouse server runs QUERY_WORKERS queries side by side.
        workers = 1 if isinstance(runtime.telemetry, ChdbExecutor) else QUERY_WORKERS
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="insights")
        self._runs: OrderedDict[str, QueryRun] = OrderedDict()
        self._lock = threading.Lock()
        runtime.on_close(self.close)

    def close(self) -> None:
        with self._lock:
            for run in self._runs.values():
                if run.status == "Scheduled":
                    run.status, run.cancelled = "Cancelled", True
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- StartQuery -------------------------------------------------------------------------------
    def start_query(self, query: str, *, group_names: list[str] | None = None, start_s: int, end_s: int,
                    limit: int | None = None) -> str:
        """Compile and queue a query over up to 50 groups (names or ARNs); start/end in epoch seconds."""
        if not isinstance(query, str) or not query.strip():
            raise Invalid("queryString is required", field="queryString")
        if len(query) > 10_000:
            raise Invalid("queryString is longer than 10000 characters", field="queryString")
        names = [log_rules.group_identifier(str(g)) for g in (group_names or [])]
        names = list(dict.fromkeys(names))
        if not names:
            raise Invalid("name at least one log group (logGroupName, logGroupNames or logGroupIdentifiers)",
                          field="logGroupNames")
        if len(names) > MAX_GROUPS:
            raise Invalid(f"a query can name at most {MAX_GROUPS} log groups, got {len(names)}",
                          field="logGroupNames")
        for name, v in (("startTime", start_s), ("endTime", end_s)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise Invalid(f"{name} must be epoch seconds, got {v!r}", field=name)
        if end_s < start_s:
            raise Invalid("endTime is before startTime", field="endTime")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROWS):
            raise Invalid(f"limit must be between 1 and {MAX_ROWS}", field="limit")
        compiled = compile_query(query)  # QueryError -> MalformedQueryException
        self.logs.catalog.groups(names)  # NotFound names the first missing group
        with self._lock:
            active = sum(1 for r in self._runs.values() if r.status in ("Scheduled", "Running"))
            if active >= MAX_ACTIVE:
                raise LimitExceeded(f"too many concurrent queries ({MAX_ACTIVE}); wait for some to finish")
            run = QueryRun(uuid.uuid4().hex, query, compiled, names, start_s * 1000, end_s * 1000 + 999, limit,
                           now_ms())
            self._runs[run.id] = run
            self._prune()
        self._pool.submit(self._execute, run)
        return run.id

    def _prune(self) -> None:
        cutoff = now_ms() - KEEP_S * 1000
        while self._runs:
            first = next(iter(self._runs.values()))
            if (len(self._runs) > KEEP or first.create_ms < cutoff) and first.status in DONE:
                self._runs.popitem(last=False)
            else:
                break

    # -- execution ----------------------------------------------------------------------------------
    def sql_for(self, run: QueryRun, *, with_matched: bool = False) -> tuple[str, dict[str, Any]]:
        """The statement a query runs (also used by the benchmark)."""
        source_sql, source_params = self.logs.event_source(run.groups, run.start_ms, run.end_ms)
        return run.compiled.to_sql(source_sql, source_params, indexed_fields=self._indexed(run), limit=run.limit,
                                   account_id=self.runtime.settings.account_id, with_matched=with_matched)

    def _indexed(self, run: QueryRun) -> frozenset[str]:
        """Fields every queried group extracts at ingest (index policies): read from the map, not the JSON."""
        groups = self.logs.catalog.groups(run.groups)
        return frozenset(f for f in run.compiled.discovered_fields if all(f in g.index_fields for g in groups))

    def _execute(self, run: QueryRun) -> None:
        with self._lock:
            if run.cancelled:
                return
            run.status = "Running"
        started = time.monotonic()
        x = self.runtime.telemetry
        try:
            sql, params = self.sql_for(run, with_matched=True)
            timeout = max(self.timeout_s, 0.001)
            settings = f"\nSETTINGS max_execution_time = {timeout:g}"
            matched: int | None = None
            if run.compiled.matched_strategy == "before_limit" and _counts_before_limit(x):
                rows, matched = _rows_and_count(x, sql + settings + ", exact_rows_before_limit = 1", params)
            else:
                rows = x.query_rows(sql + settings, params)
            time.sleep(0.002)  # let a waiting ingest batch take the engine between our statements
            if run.compiled.matched_strategy == "window":  # the last column counts the matched events
                matched = int(rows[0][-1]) if rows else 0
                rows = [r[:-1] for r in rows]
            elif _shows_all_matches(run, rows):
                matched = len(rows)
            stats = self._statistics(run, matched, timeout)
            elapsed = time.monotonic() - started
            with self._lock:
                if run.cancelled:
                    return
                run.columns, run.rows = list(run.compiled.output_columns), rows
                run.statistics = stats
                run.status = "Timeout" if elapsed > self.timeout_s else "Complete"
        except Exception as e:  # a query's failure is its status, never the server's
            with self._lock:
                if run.cancelled:
                    return
                if _is_timeout(e):
                    run.status, run.error = "Timeout", f"the query ran longer than {self.timeout_s:g} s"
                else:
                    run.status = "Failed"
                    run.error = e.message if isinstance(e, RexwatchError) else str(e).split("\n")[0][:500]
                    if not isinstance(e, (RexwatchError, QueryError)):
                        log.warning("insights query %s failed: %s", run.id, run.error)
        finally:
            run.duration_ms = int((time.monotonic() - started) * 1000)

    def _statistics(self, run: QueryRun, matched: int | None, timeout: float) -> dict[str, float]:
        """recordsScanned/bytesScanned over the time range, and recordsMatched when the query itself
        could not count it (a counting pass over the query's event filters)."""
        source_sql, params = self.logs.event_source(run.groups, run.start_ms, run.end_ms)
        if matched is None and run.compiled.matched_strategy in ("pass", "before_limit"):
            sql, params = run.compiled.statistics_sql(source_sql, params, indexed_fields=self._indexed(run),
                                                      account_id=self.runtime.settings.account_id)
        else:
            sql = _scan_sql(source_sql)
        out = self.runtime.telemetry.query_rows(f"{sql}\nSETTINGS max_execution_time = {timeout:g}", params)
        n, size, counted = (int(v or 0) for v in out[0]) if out else (0, 0, 0)
        if matched is None:
            matched = n if run.compiled.matched_strategy == "scanned" else counted
        return {"recordsMatched": float(matched), "recordsScanned": float(n), "bytesScanned": float(size),
                "logGroupsScanned": float(len(run.groups))}

    # -- reading state --------------------------------------------------------------------------------
    def _run(self, query_id: str) -> QueryRun:
        if not isinstance(query_id, str) or not query_id:
            raise Invalid("queryId is required", field="queryId")
        with self._lock:
            run = self._runs.get(query_id)
        if run is None:
            raise NotFound(f"no query with id {query_id}")
        return run

    def get_query_results(self, query_id: str) -> dict[str, Any]:
        run = self._run(query_id)
        with self._lock:
            out: dict[str, Any] = {"queryLanguage": "CWLI", "status": run.status,
                                   "statistics": dict(run.statistics)}
            out["results"] = run.results() if run.status in ("Complete", "Timeout") else []
            if run.error:
                out["error"] = run.error
        return out

    def output_columns(self, query_id: str) -> list[str]:
        return list(self._run(query_id).compiled.output_columns)

    def wait(self, query_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
        """Poll until the query is done (for the CLI, tests and the benchmark)."""
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while True:
            res = self.get_query_results(query_id)
            if res["status"] in DONE or time.monotonic() > deadline:
                return res
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def stop_query(self, query_id: str) -> bool:
        run = self._run(query_id)
        with self._lock:
            if run.status in DONE:
                return False
            run.cancelled = True
            run.status = "Cancelled"
            return True

    def describe_queries(self, *, group_name: str | None = None, status: str | None = None,
                         max_results: int | None = None, next_token: str | None = None) -> tuple[list[dict], str | None]:
        if status is not None and status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
        limit = log_rules.check_limit(max_results, 1000) if max_results is not None else 1000
        with self._lock:
            runs = [r for r in reversed(self._runs.values())
                    if (group_name is None or group_name in r.groups) and (status is None or r.status == status)]
        start = 0
        if next_token:
            try:
                after = base64.urlsafe_b64decode(next_token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise Invalid("nextToken is not valid", field="nextToken")
            ids = [r.id for r in runs]
            start = ids.index(after) + 1 if after in ids else len(ids)
        page = runs[start : start + limit]
        token = None
        if start + limit < len(runs):
            token = base64.urlsafe_b64encode(page[-1].id.encode()).decode()
        return [r.describe() for r in page], token

    # -- saved queries --------------------------------------------------------------------------------
    def put_query_definition(self, name: str, query: str, *, group_names: list[str] | None = None,
                             definition_id: str | None = None) -> str:
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("name must be 1 to 255 characters", field="name")
        if not isinstance(query, str) or not 1 <= len(query) <= 10_000:
            raise Invalid("queryString must be 1 to 10000 characters", field="queryString")
        compile_query(query)
        groups = [log_rules.check_group_name(g, "logGroupNames") for g in (group_names or [])]
        out = self.definitions.put(definition_id, name, query, groups, now_ms())
        if out is None:
            raise NotFound(f"no query definition with id {definition_id}")
        return out

    def describe_query_definitions(self, *, prefix: str | None = None, max_results: int | None = None,
                                   next_token: str | None = None) -> tuple[list[dict], str | None]:
        limit = log_rules.check_limit(max_results, 1000) if max_results is not None else 1000
        after = None
        if next_token:
            try:
                after = base64.urlsafe_b64decode(next_token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise Invalid("nextToken is not valid", field="nextToken")
        rows = self.definitions.list(prefix, after, limit + 1)
        token = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            token = base64.urlsafe_b64encode(f"{last['name']}\x00{last['queryDefinitionId']}".encode()).decode()
        return rows, token

    def delete_query_definition(self, definition_id: str) -> bool:
        if not isinstance(definition_id, str) or not definition_id:
            raise Invalid("queryDefinitionId is required", field="queryDefinitionId")
        if not self.definitions.delete(definition_id):
            raise NotFound(f"no query definition with id {definition_id}")
        return True
