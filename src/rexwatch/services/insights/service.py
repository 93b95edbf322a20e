"""QueriesService: Logs Insights queries run asynchronously, as CloudWatch Logs runs them.

StartQuery compiles the query at once (bad queries fail the call with a
position) and queues it on a small bounded thread pool; GetQueryResults reads
the state. Each query runs as one ClickHouse statement over the logs engine's
``event_source`` (``stores/telemetry/insights.py``) with ClickHouse's
``max_execution_time`` set from ``query_timeout_s`` and the store's memory limit
(``telemetry_max_memory_mb``); a query over its time ends as Timeout, one over
its memory as Failed, as CloudWatch reports them. The pool has few workers
(``QUERY_WORKERS``) and a bounded queue (``MAX_ACTIVE``), so queries cannot
take the store from ingest for long or pile up; StopQuery cancels a queued
query and stops a running one's statement in the store (KILL QUERY by the
statement's id). While a query runs, recordsScanned is the rows the store has
read so far (its progress reports); at the end it is the range's count.

Query state lives in this process's memory (the last ``KEEP`` queries, for
``KEEP_S``); saved query definitions live in the control store.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rexwatch.errors import Invalid, LimitExceeded, NotFound, QueryError, QueryTimeout, RexwatchError
from rexwatch.lang.insights import MAX_ROWS, CompiledQuery, compile_query
from rexwatch.services import access
from rexwatch.services.insights.model import (
    DONE,
    STATUSES,
    HistoryEntry,
    QueryDefinition,
    QueryInfo,
    QueryResult,
    QueryStatistics,
)
from rexwatch.services.logs import LogsService
from rexwatch.services.logs import rules as log_rules
from rexwatch.stores.control.insights_repo import InsightsRepo
from rexwatch.stores.telemetry.insights import InsightsStore

log = logging.getLogger("rexwatch.insights")

MAX_GROUPS = 50
QUERY_WORKERS = 2
MAX_ACTIVE = 30  # Scheduled + Running queries (CloudWatch's concurrency quota)
KEEP = 1000
KEEP_S = 7 * 86400
MAX_TOKEN_CHARS = 1024
HISTORY_KEEP = 100  # queries kept per owner in the console's history


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
    statistics: QueryStatistics = field(default_factory=QueryStatistics)
    error: str | None = None
    duration_ms: int = 0
    cancelled: bool = False
    killing: bool = False  # the progress callback asked the store to stop the run's statement
    # Teams owning the queried groups: only callers who may see them all see the run.
    teams: frozenset[int | None] = frozenset()

    def result(self) -> QueryResult:
        shown = self.status in ("Complete", "Timeout")
        return QueryResult(self.id, self.status, list(self.columns) if shown else [],
                           list(self.rows) if shown else [], self.statistics, self.error)

    def info(self) -> QueryInfo:
        return QueryInfo(self.id, self.query, self.status, self.create_ms, self.groups[0], self.duration_ms,
                         self.statistics.bytes_scanned)


def _shows_all_matches(run: QueryRun, rows: list[tuple]) -> bool:
    """A plain event query whose result is under its row cap holds every matching event."""
    from rexwatch.lang.insights import ast

    cap = min(n for n in (MAX_ROWS, run.limit) if n is not None)
    reducing = (ast.Stats, ast.Pattern, ast.Dedup, ast.Limit)
    return len(rows) < cap and not any(isinstance(c, reducing) for c in run.compiled.tree.commands)


def _decode_token(token: str) -> str:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise Invalid("nextToken is not valid", field="nextToken")
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Invalid("nextToken is not valid", field="nextToken")


class QueriesService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.logs: LogsService = runtime.service(LogsService)
        self.definitions = InsightsRepo(runtime.control)
        self.store = InsightsStore(runtime.telemetry)
        self.timeout_s = float(runtime.settings.query_timeout_s)
        # The embedded engine runs statements on a small connection pool; one query worker leaves the
        # other connections to ingest and reads (and a query already uses every core), while a
        # ClickHouse server runs QUERY_WORKERS queries side by side.
        workers = 1 if self.store.embedded else QUERY_WORKERS
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
        start_s = log_rules.check_time(start_s, "startTime")
        end_s = log_rules.check_time(end_s, "endTime")
        if end_s < start_s:
            raise Invalid("endTime is before startTime", field="endTime")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROWS):
            raise Invalid(f"limit must be between 1 and {MAX_ROWS}", field="limit")
        compiled = compile_query(query)  # QueryError -> MalformedQueryException
        # NotFound names the first missing group (or one of a team the caller is not in).
        teams = frozenset(g.team_id for g in self.logs.catalog.groups(names))
        with self._lock:
            active = sum(1 for r in self._runs.values() if r.status in ("Scheduled", "Running"))
            if active >= MAX_ACTIVE:
                raise LimitExceeded(f"too many concurrent queries ({MAX_ACTIVE}); wait for some to finish")
            # Seconds past what the store can hold (year 2299) select nothing more: clamp, never overflow.
            run = QueryRun(uuid.uuid4().hex, query, compiled, names, log_rules.clamp_ms(start_s * 1000),
                           log_rules.clamp_ms(end_s * 1000 + 999), limit, now_ms(), teams=teams)
            self._runs[run.id] = run
            self._prune()
        self._pool.submit(self._execute, run)
        return run.id

    def run_now(self, query: str, group_names: list[str], start_ms: int, end_ms: int, *,
                limit: int) -> tuple[list[str], list[tuple]]:
        """Run a query at once on the caller's thread (log alarms): (columns, rows). The same time
        and memory limits as StartQuery apply; ``limit`` caps the rows read."""
        compiled = compile_query(query)
        names = list(dict.fromkeys(log_rules.group_identifier(str(g)) for g in group_names))
        groups = self.logs.catalog.groups(names)
        indexed = frozenset(f for f in compiled.discovered_fields if all(f in g.index_fields for g in groups))
        source = self.logs.event_source(names, start_ms, end_ms)
        rows, _ = self.store.run(compiled, source, indexed=indexed, limit=limit,
                                 account_id=self.runtime.settings.account_id, timeout_s=max(self.timeout_s, 0.001))
        if compiled.matched_strategy == "window":
            rows = [r[:-1] for r in rows]
        return list(compiled.output_columns), rows

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
        source = self.logs.event_source(run.groups, run.start_ms, run.end_ms)
        return self.store.query_sql(run.compiled, source, indexed=self._indexed(run), limit=run.limit,
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
        try:
            timeout = max(self.timeout_s, 0.001)
            indexed = self._indexed(run)
            account = self.runtime.settings.account_id
            source = self.logs.event_source(run.groups, run.start_ms, run.end_ms)
            # The statements carry the run's id, so StopQuery can stop them in the store; while the
            # query runs, the records it has read so far show as recordsScanned.
            rows, matched = self.store.run(run.compiled, source, indexed=indexed, limit=run.limit,
                                           account_id=account, timeout_s=timeout, query_id=run.id,
                                           progress=lambda read_rows, _bytes: self._progress(run, read_rows))
            with self._lock:
                if run.cancelled:
                    return
            time.sleep(0.002)  # let a waiting ingest batch take the engine between our statements
            totals = self.store.statistics(None, source, self.logs.scan_totals(run.groups, run.start_ms, run.end_ms),
                                           indexed=indexed, account_id=account, timeout_s=timeout, query_id=run.id)
            if run.compiled.matched_strategy == "window":  # the last column counts the matched events
                matched = int(rows[0][-1]) if rows else 0
                rows = [r[:-1] for r in rows]
            elif matched is None and _shows_all_matches(run, rows):
                matched = len(rows)
            stats = self._statistics(run, source, matched, indexed, timeout, totals)
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
                if isinstance(e, QueryTimeout):
                    run.status, run.error = "Timeout", f"the query ran longer than {self.timeout_s:g} s"
                else:
                    run.status = "Failed"
                    run.error = e.message if isinstance(e, RexwatchError) else str(e).split("\n")[0][:500]
                    if not isinstance(e, (RexwatchError, QueryError)):
                        log.warning("insights query %s failed: %s", run.id, run.error)
        finally:
            run.duration_ms = int((time.monotonic() - started) * 1000)

    def _progress(self, run: QueryRun, read_rows: int) -> None:
        """The store's progress while the query runs: the records read so far. A run cancelled
        before its statement was under way (so StopQuery found nothing to stop) is stopped now."""
        with self._lock:
            if run.cancelled:
                if not run.killing:
                    run.killing = True
                    threading.Thread(target=self._kill, args=(run,), name="insights-kill", daemon=True).start()
                return
            if read_rows > run.statistics.records_scanned:
                run.statistics = QueryStatistics(0.0, float(read_rows), 0.0, float(len(run.groups)))

    def _kill(self, run: QueryRun) -> None:
        try:
            self.store.kill(run.id)
        except Exception as e:  # the statement ends by itself at the latest at its time limit
            log.warning("could not stop insights query %s: %s", run.id, str(e).split("\n")[0][:300])

    def _statistics(self, run: QueryRun, source: tuple[str, dict[str, Any]], matched: int | None,
                    indexed: frozenset[str], timeout: float, totals: tuple[int, int, int]) -> QueryStatistics:
        """recordsScanned/bytesScanned over the time range (``totals``, counted before the query), and
        recordsMatched when the query itself could not count it (a counting pass over its filters)."""
        counting = matched is None and run.compiled.matched_strategy in ("pass", "before_limit")
        if not counting:
            n, size, counted = totals
        else:
            n, size, counted = self.store.statistics(
                run.compiled, source, self.logs.scan_totals(run.groups, run.start_ms, run.end_ms),
                indexed=indexed, account_id=self.runtime.settings.account_id, timeout_s=timeout)
        if matched is None:
            matched = n if run.compiled.matched_strategy == "scanned" else counted
        return QueryStatistics(float(matched), float(n), float(size), float(len(run.groups)))

    # -- reading state --------------------------------------------------------------------------------
    def _run(self, query_id: str) -> QueryRun:
        if not isinstance(query_id, str) or not query_id:
            raise Invalid("queryId is required", field="queryId")
        with self._lock:
            run = self._runs.get(query_id)
        if run is None or not access.may_see_all(run.teams):
            raise NotFound(f"no query with id {query_id}")
        return run

    def get_query_results(self, query_id: str) -> QueryResult:
        run = self._run(query_id)
        with self._lock:
            return run.result()

    def output_columns(self, query_id: str) -> list[str]:
        return list(self._run(query_id).compiled.output_columns)

    def wait(self, query_id: str, timeout_s: float = 120.0) -> QueryResult:
        """Poll until the query is done (for the CLI, tests and the benchmark)."""
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while True:
            res = self.get_query_results(query_id)
            if res.status in DONE or time.monotonic() > deadline:
                return res
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def stop_query(self, query_id: str) -> bool:
        """Cancel a query: a queued one never runs, and a running one's statement is stopped in the
        store (KILL QUERY), which frees the worker and the engine at once."""
        run = self._run(query_id)
        with self._lock:
            if run.status in DONE:
                return False
            running = run.status == "Running"
            run.cancelled = True
            run.status = "Cancelled"
        # A statement that had not started yet is stopped by the progress callback once it reports.
        if running:
            self._kill(run)
        return True

    def running_statements(self, query_id: str) -> int:
        """How many of the query's statements the store is running now (0 once it has finished or
        was stopped)."""
        return self.store.running(self._run(query_id).id)

    def describe_queries(self, *, group_name: str | None = None, status: str | None = None,
                         max_results: int | None = None,
                         next_token: str | None = None) -> tuple[list[QueryInfo], str | None]:
        if status is not None and status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
        limit = log_rules.check_limit(max_results, 1000, "maxResults") if max_results is not None else 1000
        with self._lock:
            runs = [r for r in reversed(self._runs.values())
                    if (group_name is None or group_name in r.groups) and (status is None or r.status == status)
                    and access.may_see_all(r.teams)]
        start = 0
        if next_token is not None:
            after = _decode_token(next_token)
            ids = [r.id for r in runs]
            start = ids.index(after) + 1 if after in ids else len(ids)
        page = runs[start : start + limit]
        token = None
        if start + limit < len(runs):
            token = base64.urlsafe_b64encode(page[-1].id.encode()).decode()
        return [r.info() for r in page], token

    # -- saved queries --------------------------------------------------------------------------------
    def put_query_definition(self, name: str, query: str, *, group_names: list[str] | None = None,
                             definition_id: str | None = None) -> str:
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("name must be 1 to 255 characters", field="name")
        if not isinstance(query, str) or not 1 <= len(query) <= 10_000:
            raise Invalid("queryString must be 1 to 10000 characters", field="queryString")
        if definition_id is not None and (not isinstance(definition_id, str) or not 1 <= len(definition_id) <= 256):
            raise Invalid("queryDefinitionId must be 1 to 256 characters", field="queryDefinitionId")
        compile_query(query)
        groups = [log_rules.check_group_name(g, "logGroupNames") for g in (group_names or [])]
        out = self.definitions.put(definition_id, name, query, groups, now_ms())
        if out is None:
            raise NotFound(f"no query definition with id {definition_id}")
        return out

    def describe_query_definitions(self, *, prefix: str | None = None, max_results: int | None = None,
                                   next_token: str | None = None) -> tuple[list[QueryDefinition], str | None]:
        limit = log_rules.check_limit(max_results, 1000, "maxResults") if max_results is not None else 1000
        after = _decode_token(next_token) if next_token is not None else None
        rows = self.definitions.list(prefix, after, limit + 1)
        token = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            token = base64.urlsafe_b64encode(f"{last.name}\x00{last.id}".encode()).decode()
        return rows, token

    def delete_query_definition(self, definition_id: str) -> bool:
        if not isinstance(definition_id, str) or not definition_id:
            raise Invalid("queryDefinitionId is required", field="queryDefinitionId")
        if not self.definitions.delete(definition_id):
            raise NotFound(f"no query definition with id {definition_id}")
        return True

    # -- the console's query history ------------------------------------------------------------------
    def record_history(self, owner: str, query: str, group_names: list[str]) -> None:
        """Remember that ``owner`` (a user, a key or a browser) ran ``query``; the newest
        ``HISTORY_KEEP`` per owner are kept. A repeat of the owner's last query is not added again."""
        if not owner or not isinstance(query, str) or not query.strip():
            return
        owner, groups = owner[:200], [str(g) for g in group_names][:MAX_GROUPS]
        last = self.definitions.history(owner, 1)
        if last and last[0].query_string == query and last[0].log_group_names == groups:
            return
        self.definitions.add_history(owner, query[:10_000], groups, now_ms(), HISTORY_KEEP)

    def history(self, owner: str, limit: int = 20) -> list[HistoryEntry]:
        if not owner:
            return []
        return self.definitions.history(owner[:200], max(1, min(limit, HISTORY_KEEP)))
