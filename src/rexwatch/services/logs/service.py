"""LogsService: CloudWatch Logs semantics over the control and telemetry stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.logs import export, reading, rules, tokens
from rexwatch.services.logs.ingest import IngestBuffer, IngestedBatch, validate
from rexwatch.services.logs.model import (
    FieldIndex,
    FilteredEvents,
    Group,
    IndexPolicy,
    LogEvent,
    LogEventBatch,
    LogGroup,
    LogStream,
    PutResult,
    StreamEvents,
    now_ms,
)
from rexwatch.services.logs.patterns import compile_filter, pattern_sql
from rexwatch.services.logs.scoped import ScopedCatalog
from rexwatch.stores.control.logs_repo import LogsRepo
from rexwatch.stores.telemetry.logs import LogsStore, event_source, scan_totals_sql


class LogsService:
    """Log groups, streams and events with CloudWatch Logs semantics; every logs door calls this.

    Takes and returns the domain objects of ``services.logs.model``; each door renders them.
    """

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        # Lookups and listings of groups see only what the bound caller's teams may see.
        self.catalog = ScopedCatalog(LogsRepo(runtime.control), lambda: runtime.settings.audit_log_group)
        self.store = LogsStore(runtime.telemetry)
        s = runtime.settings
        self.buffer = IngestBuffer(
            self.store.insert,
            self.store.max_seq(),
            max_pending=s.logs_buffer_max_events,
            linger_s=s.logs_buffer_linger_ms / 1000,
        )
        runtime.on_close(self.buffer.close)

    # Ids and ARNs -----------------------------------------------------------------------------------

    def _arn(self, group: str, stream: str | None = None) -> str:
        s = self.runtime.settings
        base = f"arn:aws:logs:{s.region}:{s.account_id}:log-group:{group}"
        return f"{base}:log-stream:{stream}" if stream is not None else base

    # Groups -----------------------------------------------------------------------------------------

    def create_log_group(self, name: str, *, kms_key_id: str | None = None, tags: dict | None = None,
                         log_group_class: str | None = None, deletion_protection: bool = False) -> Group:
        rules.check_group_name(name)
        cls = log_group_class or "STANDARD"
        if cls not in ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY"):
            raise Invalid(f"logGroupClass {cls!r} is invalid: use STANDARD, INFREQUENT_ACCESS or DELIVERY",
                          field="logGroupClass")
        from rexwatch.services.access import TEAM_TAG
        from rexwatch.services.teams import TeamService

        if tags is not None and not isinstance(tags, dict):
            raise Invalid("tags must be a map of tag keys to values", field="tags")
        team_id = self.runtime.service(TeamService).owner_of_new(tags)
        # The team is the group's owner, kept in its own column rather than as a tag.
        tags = {k: v for k, v in tags.items() if k != TEAM_TAG} if tags else tags
        return self.catalog.create_group(name, kms_key_id=kms_key_id, log_group_class=cls,
                                         deletion_protection=bool(deletion_protection), tags=tags or None,
                                         team_id=team_id)

    def log_group(self, g: Group, stored: int = 0) -> LogGroup:
        return LogGroup(g.name, self._arn(g.name), g.created_ms, stored, g.log_group_class, g.deletion_protection,
                        g.retention_days or None, g.kms_key_id or None)

    def describe_log_group(self, name: str) -> LogGroup:
        g = self.group(name)
        return self.log_group(g, self.store.stored_bytes([g], now_ms()).get(g.id, 0))

    def describe_log_groups(self, *, prefix: str | None = None, pattern: str | None = None,
                            next_token: str | None = None, limit: int | None = None,
                            names: list[str] | None = None) -> tuple[list[LogGroup], str | None]:
        if prefix and pattern:
            raise Invalid("logGroupNamePrefix and logGroupNamePattern cannot be used together",
                          field="logGroupNamePattern")
        limit = rules.check_limit(limit, rules.DESCRIBE_LIMIT)
        after = tokens.decode(next_token, "lg", a="str")["a"] if next_token is not None else None
        groups = self.catalog.list_groups(prefix=prefix, pattern=pattern, after=after, limit=limit + 1,
                                          names=names)
        more = len(groups) > limit
        groups = groups[:limit]
        stored = self.store.stored_bytes(groups, now_ms())
        token = tokens.encode("lg", a=groups[-1].name) if more else None
        return [self.log_group(g, stored.get(g.id, 0)) for g in groups], token

    def delete_log_group(self, name: str) -> None:
        self.catalog.delete_group(rules.check_group_name(name))

    def group(self, name: str) -> Group:
        return self.catalog.group(rules.group_identifier(name))

    def put_retention_policy(self, name: str, days: int) -> None:
        self.catalog.update_group(rules.check_group_name(name), retention_days=rules.check_retention(days))

    def delete_retention_policy(self, name: str) -> None:
        self.catalog.update_group(rules.check_group_name(name), retention_days=None)

    # Index policies ---------------------------------------------------------------------------------

    def put_index_policy(self, ident: str, document: str) -> IndexPolicy:
        name = rules.group_identifier(ident)
        try:
            doc = orjson.loads(document)
        except (orjson.JSONDecodeError, TypeError):
            raise Invalid("policyDocument is not valid JSON", field="policyDocument")
        fields = doc.get("Fields") if isinstance(doc, dict) else None
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise Invalid('policyDocument must be {"Fields": ["field", ...]}', field="policyDocument")
        if len(fields) > rules.MAX_INDEX_FIELDS:
            raise Invalid(f"policyDocument names {len(fields)} fields; at most {rules.MAX_INDEX_FIELDS} are "
                          "allowed", field="policyDocument")
        for f in fields:
            if not rules.INDEX_FIELD.match(f.removeprefix("$.")):
                raise Invalid(f"policyDocument field {f!r} is not a field name or dotted path",
                              field="policyDocument")
        clean = {"Fields": [f.removeprefix("$.") for f in dict.fromkeys(fields)]}
        g = self.catalog.update_group(name, index_policy=orjson.dumps(clean).decode(), index_policy_ms=now_ms())
        return self._policy(g)

    def _policy(self, g: Group) -> IndexPolicy:
        return IndexPolicy(self._arn(g.name), g.index_policy or "", g.index_policy_ms)

    def describe_index_policies(self, idents: list[str]) -> list[IndexPolicy]:
        rules.check_identifiers(idents, rules.MAX_POLICY_GROUPS)
        groups = self.catalog.groups([rules.group_identifier(i) for i in idents])
        return [self._policy(g) for g in groups if g.index_policy]

    def delete_index_policy(self, ident: str) -> None:
        g = self.group(ident)
        if not g.index_policy:
            raise NotFound(f"log group {g.name} has no index policy")
        self.catalog.update_group(g.name, index_policy=None, index_policy_ms=None)

    def describe_field_indexes(self, idents: list[str]) -> list[FieldIndex]:
        rules.check_identifiers(idents, rules.MAX_FIELD_INDEX_GROUPS)
        groups = self.catalog.groups([rules.group_identifier(i) for i in idents])
        return [FieldIndex(self._arn(g.name), f, g.index_policy_ms) for g in groups for f in g.index_fields]

    # Streams ----------------------------------------------------------------------------------------

    def create_log_stream(self, group: str, stream: str) -> None:
        g = self.catalog.group(rules.check_group_name(group))
        self.catalog.create_stream(g, rules.check_stream_name(stream))

    def delete_log_stream(self, group: str, stream: str) -> None:
        g = self.catalog.group(rules.check_group_name(group))
        self.catalog.delete_stream(g, rules.check_stream_name(stream))

    def describe_log_streams(self, group: str, *, prefix: str | None = None, order_by: str | None = None,
                             descending: bool = False, next_token: str | None = None,
                             limit: int | None = None) -> tuple[list[LogStream], str | None]:
        g = self.group(group)
        order_by = order_by or "LogStreamName"
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise Invalid(f"orderBy {order_by!r} is invalid: use LogStreamName or LastEventTime", field="orderBy")
        if prefix and order_by == "LastEventTime":
            raise Invalid("Cannot order by LastEventTime with a logStreamNamePrefix.", field="orderBy")
        limit = rules.check_limit(limit, rules.DESCRIBE_LIMIT)
        offset = tokens.decode(next_token, "ls", o="uint64")["o"] if next_token is not None else 0
        streams = self.catalog.list_streams(g, prefix=prefix)
        stats = self.store.stream_stats(g, now_ms())
        infos = []
        for s in streams:
            st = stats.get(s.id)
            arn = self._arn(g.name, s.name)
            infos.append(LogStream(s.name, arn, s.created_ms, st[3], st[0], st[1], st[2]) if st
                         else LogStream(s.name, arn, s.created_ms))
        if order_by == "LastEventTime":
            infos.sort(key=lambda i: (i.last_event_ms or 0, i.name))
        if descending:
            infos.reverse()
        page = infos[offset: offset + limit]
        token = tokens.encode("ls", o=offset + limit) if offset + limit < len(infos) else None
        return page, token

    # Ingest -----------------------------------------------------------------------------------------

    def add_ingest_listener(self, fn: Callable[[IngestedBatch], None]) -> None:
        """``fn(batch)`` is called, on the writer thread, with every durably inserted batch (its
        events already acknowledged). It must return at once: hand the batch to a queue."""
        self.buffer.listeners.append(fn)

    def put_log_events(self, group: str, stream: str, events: LogEventBatch) -> PutResult:
        g = self.catalog.group(rules.check_group_name(group), cached=True)
        s = self.catalog.stream(g, rules.check_stream_name(stream), cached=True)
        accepted = validate(g, s, events, now_ms())
        self.buffer.submit(accepted.table, g)
        self.runtime.metrics.count_ingest("log_events", accepted.table.num_rows)
        return PutResult(str(self.buffer.last_seq), accepted.rejected)

    # Reads ------------------------------------------------------------------------------------------

    def event_source(self, group_names: list[str], start_ms: int | None, end_ms: int | None,
                     stream_names: list[str] | None = None, *, stream_prefix: str | None = None,
                     end_inclusive: bool = True) -> tuple[str, dict[str, Any]]:
        """A subquery over exactly the live events of the named groups (``FROM (<sql>)``).

        Columns: ts, ingest_ts, seq, log_group, log_stream, message, fields. Deleted groups and
        streams, events past retention and events outside [start_ms, end_ms] are excluded.
        """
        return self._source(group_names, start_ms, end_ms, stream_names, stream_prefix=stream_prefix,
                            end_inclusive=end_inclusive)[1]

    def _source(self, group_names: list[str], start_ms: int | None, end_ms: int | None,
                stream_names: list[str] | None = None, *, stream_prefix: str | None = None,
                end_inclusive: bool = True) -> tuple[list[Group], tuple[str, dict[str, Any]]]:
        if not group_names:
            raise Invalid("name at least one log group", field="logGroupName")
        groups = self.catalog.groups([rules.group_identifier(n) for n in group_names])
        deleted = self.catalog.deleted_streams([g.id for g in groups])
        return groups, event_source(groups, deleted, now_ms(), start_ms, end_ms, stream_names, stream_prefix,
                                    end_inclusive=end_inclusive)

    def scan_totals(self, group_names: list[str], start_ms: int | None, end_ms: int | None) -> tuple[str, dict]:
        """A statement counting the live events of the groups in [start_ms, end_ms] and their
        message bytes, aggregated on the table itself (Insights' scan statistics)."""
        groups = self.catalog.groups([rules.group_identifier(n) for n in group_names])
        deleted = self.catalog.deleted_streams([g.id for g in groups])
        return scan_totals_sql(groups, deleted, now_ms(), start_ms, end_ms)

    def _check_range(self, start_ms: int | None, end_ms: int | None) -> None:
        """startTime/endTime as AWS checks them: longs from 0 to 2^63 - 1, end not before start."""
        if start_ms is not None:
            rules.check_time(start_ms, "startTime")
        if end_ms is not None:
            rules.check_time(end_ms, "endTime")
        if start_ms is not None and end_ms is not None and end_ms < start_ms:
            raise Invalid(f"endTime ({end_ms}) is before startTime ({start_ms})", field="endTime")

    def filter_log_events(self, group_names: list[str], *, stream_names: list[str] | None = None,
                          stream_prefix: str | None = None, start_ms: int | None = None,
                          end_ms: int | None = None, pattern: str | None = None, limit: int | None = None,
                          next_token: str | None = None) -> FilteredEvents:
        if stream_names and stream_prefix:
            raise Invalid("logStreamNames and logStreamNamePrefix cannot be used together",
                          field="logStreamNamePrefix")
        if stream_names is not None:
            if not 1 <= len(stream_names) <= rules.MAX_FILTER_STREAMS:
                raise Invalid(f"logStreamNames must name 1 to {rules.MAX_FILTER_STREAMS} streams",
                              field="logStreamNames")
            for name in stream_names:
                rules.check_stream_name(name, "logStreamNames")
        if stream_prefix is not None:
            rules.check_stream_name(stream_prefix, "logStreamNamePrefix")
        self._check_range(start_ms, end_ms)
        limit = rules.check_limit(limit, rules.EVENTS_LIMIT)
        compile_filter(pattern)  # errors before touching the stores
        groups, source = self._source(group_names, start_ms, end_ms, stream_names, stream_prefix=stream_prefix)
        # The snapshot of a first page is the writer's committed high-water mark: every event at or
        # below it is visible, so no read of max(seq) over the range is needed.
        return reading.filter_page(self.store, source, pattern_sql(pattern, groups), limit, next_token,
                                   with_group=len(group_names) > 1, snapshot=self.buffer.committed_seq,
                                   span=(start_ms, end_ms) if start_ms is not None and end_ms is not None else None)

    def events_containing(self, text: str, start_ms: int, end_ms: int, *, limit: int = 1000,
                          max_groups: int = 1000) -> list[LogEvent]:
        """Live events of any log group in [start_ms, end_ms] whose message holds ``text`` (a trace
        or request id), oldest first. Bounded: the first ``max_groups`` groups by name, ``limit`` events."""
        if not text:
            raise Invalid("name the text to look for", field="text")
        groups = self.catalog.list_groups(limit=max_groups)
        if not groups:
            return []
        deleted = self.catalog.deleted_streams([g.id for g in groups])
        source = event_source(groups, deleted, now_ms(), start_ms, end_ms)
        return [LogEvent(ts, msg, ingest, str(seq), stream, group)
                for ts, ingest, seq, group, stream, msg in self.store.containing(source, text, limit)]

    def get_log_events(self, group: str, stream: str, *, start_ms: int | None = None,
                       end_ms: int | None = None, next_token: str | None = None, limit: int | None = None,
                       start_from_head: bool = False) -> StreamEvents:
        self._check_range(start_ms, end_ms)
        limit = rules.check_limit(limit, rules.EVENTS_LIMIT)
        g = self.group(group)
        self.catalog.stream(g, rules.check_stream_name(stream))
        source = self.event_source([g.name], start_ms, end_ms, [stream], end_inclusive=False)
        return reading.get_page(self.store, source, limit, next_token, bool(start_from_head))

    def tail(self, group_names: list[str], *, after_seq: int, stream_names: list[str] | None = None,
             stream_prefix: str | None = None, start_ms: int | None = None, end_ms: int | None = None,
             pattern: str | None = None, limit: int = 10_000) -> FilteredEvents:
        """Events committed after ``after_seq`` (a cursor from ``last_seq``), in commit order."""
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq <= rules.MAX_LONG:
            raise Invalid(f"after_seq must be an integer from 0 to {rules.MAX_LONG}", field="after_seq")
        self._check_range(start_ms, end_ms)
        limit = rules.check_limit(limit, rules.EVENTS_LIMIT)
        compile_filter(pattern)
        groups, source = self._source(group_names, start_ms, end_ms, stream_names, stream_prefix=stream_prefix)
        return reading.tail_page(self.store, source, pattern_sql(pattern, groups), after_seq, limit)

    def last_seq(self, group_names: list[str]) -> int:
        return self.store.max_visible_seq(self.event_source(group_names, None, None))

    def last_event_times(self, names: list[str]) -> dict[str, int]:
        """Group name -> its newest live event's timestamp (ms), for the groups that hold events."""
        groups = self.catalog.groups([rules.group_identifier(n) for n in names])
        last = self.store.last_event(groups, now_ms())
        return {g.name: last[g.id] for g in groups if g.id in last}

    def histogram(self, group_names: list[str], *, start_ms: int, end_ms: int, pattern: str | None = None,
                  stream_names: list[str] | None = None, buckets: int = 60) -> tuple[int, list[int]]:
        """Matching events over [start_ms, end_ms] in ``buckets`` equal buckets (at most 1,000):
        (bucket width in ms, the count in each bucket, zeros included)."""
        self._check_range(start_ms, end_ms)
        if isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= 1000:
            raise Invalid("buckets must be an integer from 1 to 1000", field="buckets")
        compile_filter(pattern)
        width = max(1, -(-(end_ms - start_ms + 1) // buckets))
        groups, source = self._source(group_names, start_ms, end_ms, stream_names)
        counts = [0] * buckets
        for b, n in self.store.histogram(source, pattern_sql(pattern, groups), start_ms, width):
            i = (b - start_ms) // width
            if 0 <= i < buckets:
                counts[i] += n
        return width, counts

    # Retention ------------------------------------------------------------------------------------

    def purge(self):
        """Physically remove deleted and expired events (the retention worker's tick)."""
        from rexwatch.services.logs.retention import purge

        return purge(self.catalog.repo, self.store)

    # Export -----------------------------------------------------------------------------------------

    EXPORT_SCHEMA = export.EXPORT_SCHEMA

    def _export_range(self, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
        if start_ms is None or end_ms is None:
            raise Invalid("export needs both a start and an end time", field="start")
        self._check_range(start_ms, end_ms)
        return start_ms, end_ms

    def count_events(self, group: str, start_ms: int | None, end_ms: int | None, pattern: str | None) -> int:
        start_ms, end_ms = self._export_range(start_ms, end_ms)
        groups, source = self._source([group], start_ms, end_ms, end_inclusive=False)
        return self.store.count(source, pattern_sql(pattern, groups))

    def export_batches(self, group: str, start_ms: int | None, end_ms: int | None,
                       pattern: str | None = None, chunk_ms: int = export.DAY_MS):
        """Arrow tables (``EXPORT_SCHEMA``), one per UTC day (or ``chunk_ms`` slice, a divisor of a
        day) of [start_ms, end_ms), in time order."""
        start_ms, end_ms = self._export_range(start_ms, end_ms)
        groups, source = self._source([group], start_ms, end_ms, end_inclusive=False)
        return export.day_batches(self.store, source, pattern_sql(pattern, groups), start_ms, end_ms, chunk_ms)

    def export_parquet(self, group: str, start_ms: int | None, end_ms: int | None,
                       pattern: str | None = None) -> tuple[int, Any]:
        """(events, an iterator of the bytes of one Parquet file holding them), read an hour at a
        time so memory stays bounded by an hour of the group's events. The group, range and pattern
        are checked before anything is read."""
        total = self.count_events(group, start_ms, end_ms, pattern)
        return total, export.parquet_stream(self.export_batches(group, start_ms, end_ms, pattern,
                                                                chunk_ms=3_600_000))
