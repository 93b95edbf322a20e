"""Control-store access for alarms: definitions, state and scheduling (SQLAlchemy Core).

The only module with SQL for the ``alarms`` table. Methods take the caller's
``Connection`` so a transition, its history and its outbox rows share one
transaction; ``begin()`` and ``connect()`` open one.

The ``config`` JSON column keeps the definition's remaining fields in
snake_case; ``dimensions`` and ``metrics`` inside it are stored in the
``Name``/``Value`` and ``Id``/``MetricStat`` spelling rows have always used,
and are converted to ``Dimension``/``MetricQuery`` here. (About 400 lines: the
codec of that stored JSON stays beside the one table that holds it.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select, update

from rexwatch.services.alarms.model import (
    Alarm,
    AlarmRecord,
    Dimension,
    DueAlarm,
    MetricQuery,
    MetricStat,
    Tag,
    metric_queries_from_aws,
)
from rexwatch.stores.control.tables.alarms import alarms

# Rows per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


# ---------------------------------------------------------------- stored JSON <-> domain


def dims_to_json(dims: Iterable[Dimension]) -> list[dict[str, str]]:
    return [{"Name": d.name, "Value": d.value} for d in dims]


def dims_from_json(raw: Iterable[dict[str, Any]] | None) -> list[Dimension]:
    return [Dimension(d["Name"], str(d["Value"])) for d in raw or []]


def dims_key(dims: Iterable[Dimension]) -> str:
    """The sorted ``Name=Value`` lines that DescribeAlarmsForMetric matches on."""
    return "\n".join(sorted(f"{d.name}={d.value}" for d in dims))


def tags_to_json(tags: Iterable[Tag]) -> list[dict[str, str]]:
    return [{"Key": t.key, "Value": t.value} for t in tags]


def tags_from_json(raw: Iterable[dict[str, Any]] | None) -> list[Tag]:
    return [Tag(t["Key"], t.get("Value") or "") for t in raw or []]


def _stat_to_json(s: MetricStat) -> dict[str, Any]:
    metric: dict[str, Any] = {"Namespace": s.namespace, "MetricName": s.metric_name}
    if s.dimensions:
        metric["Dimensions"] = dims_to_json(s.dimensions)
    out: dict[str, Any] = {"Metric": metric, "Period": s.period, "Stat": s.stat}
    if s.unit is not None:
        out["Unit"] = s.unit
    return out


def metrics_to_json(metrics: Iterable[MetricQuery]) -> list[dict[str, Any]]:
    out = []
    for m in metrics:
        item: dict[str, Any] = {"Id": m.id}
        if m.metric_stat is not None:
            item["MetricStat"] = _stat_to_json(m.metric_stat)
        if m.expression is not None:
            item["Expression"] = m.expression
        if m.label is not None:
            item["Label"] = m.label
        item["ReturnData"] = m.return_data
        if m.period is not None:
            item["Period"] = m.period
        out.append(item)
    return out


def metrics_from_json(raw: Iterable[dict[str, Any]] | None) -> tuple[MetricQuery, ...]:
    return metric_queries_from_aws(raw, dims_from_json)


def _config_to_json(config: dict[str, Any], dims: Sequence[Dimension] | None) -> dict[str, Any]:
    out = dict(config)
    if "metrics" in out:
        out["metrics"] = metrics_to_json(out["metrics"]) if out["metrics"] else None
    if dims is not None:
        out["dimensions"] = dims_to_json(dims)
    return out


def _config_from_json(raw: dict[str, Any] | None) -> dict[str, Any]:
    cfg = dict(raw or {})
    cfg.pop("dimensions", None)
    if cfg.get("metrics"):
        cfg["metrics"] = metrics_from_json(cfg["metrics"])
    return cfg


def _dims_of_row(r: Any) -> list[Dimension]:
    cfg = r.config or {}
    if cfg.get("dimensions") is not None:
        return dims_from_json(cfg["dimensions"])
    dims = []
    if r.dimensions_key:
        for line in r.dimensions_key.split("\n"):
            k, _, v = line.partition("=")
            dims.append(Dimension(k, v))
    return dims


def _record_values(rec: AlarmRecord) -> dict[str, Any]:
    return {
        "description": rec.description,
        "namespace": rec.namespace,
        "metric_name": rec.metric_name,
        "dimensions_key": dims_key(rec.dimensions) if rec.kind == "metric" else None,
        "config": _config_to_json(rec.config, rec.dimensions if rec.kind == "metric" else None),
        "actions_enabled": rec.actions_enabled,
        "alarm_actions": list(rec.actions.alarm),
        "ok_actions": list(rec.actions.ok),
        "insufficient_data_actions": list(rec.actions.insufficient_data),
        "tags": tags_to_json(rec.tags),
    }


def _ts(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _of_teams(q: Any, teams: frozenset[int] | None) -> Any:
    if teams is None:
        return q
    return q.where(or_(alarms.c.team_id.is_(None), alarms.c.team_id.in_(sorted(teams))))


class AlarmsRepo:
    """The ``alarms`` table. ``arn_of`` names an alarm's ARN (region and account are settings)."""

    def __init__(self, engine: Engine, arn_of: Callable[[str], str]) -> None:
        self.engine = engine
        self.arn_of = arn_of

    def begin(self) -> AbstractContextManager[Connection]:
        return self.engine.begin()

    def connect(self) -> AbstractContextManager[Connection]:
        return self.engine.connect()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(select(func.count()).select_from(alarms).limit(1))
        return True

    # ------------------------------------------------------------ rows -> domain

    def _alarm(self, r: Any) -> Alarm:
        return Alarm(
            id=r.id,
            name=r.name,
            arn=self.arn_of(r.name),
            kind=r.kind,
            description=r.description,
            namespace=r.namespace,
            metric_name=r.metric_name,
            dimensions=_dims_of_row(r),
            config=_config_from_json(r.config),
            actions_enabled=bool(r.actions_enabled),
            alarm_actions=list(r.alarm_actions or []),
            ok_actions=list(r.ok_actions or []),
            insufficient_data_actions=list(r.insufficient_data_actions or []),
            tags=tags_from_json(r.tags),
            config_updated_at=r.config_updated_at,
            state_value=r.state_value,
            state_reason=r.state_reason,
            state_reason_data=r.state_reason_data,
            state_updated_at=r.state_updated_at,
            state_transitioned_at=r.state_transitioned_at,
            state_override=bool(r.state_override),
            renotify_interval=r.renotify_interval,
            acked_at=r.acked_at,
            acked_by=r.acked_by,
            ack_reason=r.ack_reason,
            alarm_notified=bool(r.alarm_notified),
            held_by_mute=bool(r.held_by_mute),
            evaluation_error=r.evaluation_error,
            team_id=r._mapping.get("team_id"),
        )

    def _alarms(self, conn: Connection, q: Any) -> list[Alarm]:
        return [self._alarm(r) for r in conn.execute(q)]

    # ------------------------------------------------------------ reads

    def get(self, conn: Connection, name: str, *, for_update: bool = False) -> Alarm | None:
        q = select(alarms).where(alarms.c.name == name)
        if for_update and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        r = conn.execute(q).first()
        return None if r is None else self._alarm(r)

    def kinds(self, conn: Connection, names: Sequence[str]) -> dict[str, str]:
        """Name -> kind of the named alarms that exist."""
        out: dict[str, str] = {}
        for i in range(0, len(names), CHUNK):
            q = select(alarms.c.name, alarms.c.kind).where(alarms.c.name.in_(list(names[i : i + CHUNK])))
            out.update({r.name: r.kind for r in conn.execute(q)})
        return out

    def composite_children(self, conn: Connection) -> dict[str, list[str]]:
        """Composite alarm name -> the alarms its rule names."""
        q = select(alarms.c.name, alarms.c.config).where(alarms.c.kind == "composite")
        return {r.name: list((r.config or {}).get("children") or []) for r in conn.execute(q)}

    def composites(self, conn: Connection) -> list[Alarm]:
        return self._alarms(conn, select(alarms).where(alarms.c.kind == "composite"))

    def describe(
        self,
        conn: Connection,
        *,
        kinds: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        prefix: str | None = None,
        state: str | None = None,
        after: str | None = None,
        teams: frozenset[int] | None = None,
    ) -> Iterator[Alarm]:
        """Alarms in name order, lazily (callers stop reading once a page is full). ``teams``:
        only alarms of no team or of one of these (None: every alarm)."""
        q = _of_teams(select(alarms), teams)
        if kinds is not None:
            q = q.where(alarms.c.kind.in_(list(kinds)))
        if names is not None:
            q = q.where(alarms.c.name.in_(list(names)))
        if prefix:
            # Exact, case-sensitive prefix on both stores (SQLite LIKE ignores case).
            q = q.where(func.substr(alarms.c.name, 1, len(prefix)) == prefix)
        if state:
            q = q.where(alarms.c.state_value == state)
        if after:
            q = q.where(alarms.c.name > after)
        for r in conn.execute(q.order_by(alarms.c.name)):
            yield self._alarm(r)

    def for_metric(
        self, conn: Connection, namespace: str, metric_name: str, dimensions: Sequence[Dimension] | None,
        teams: frozenset[int] | None = None,
    ) -> list[Alarm]:
        q = _of_teams(select(alarms), teams).where(alarms.c.namespace == namespace, alarms.c.metric_name == metric_name)
        if dimensions is not None:
            q = q.where(alarms.c.dimensions_key == dims_key(dimensions))
        return self._alarms(conn, q.order_by(alarms.c.name))

    def states(self, conn: Connection, names: Iterable[str]) -> dict[str, tuple[str, dt.datetime]]:
        """Name -> (state value, when it last changed)."""
        names = list(names)
        out: dict[str, tuple[str, dt.datetime]] = {}
        for i in range(0, len(names), CHUNK):
            q = select(alarms.c.name, alarms.c.state_value, alarms.c.state_transitioned_at).where(
                alarms.c.name.in_(names[i : i + CHUNK])
            )
            out.update({r.name: (r.state_value, r.state_transitioned_at) for r in conn.execute(q)})
        return out

    def actions_enabled(self, conn: Connection, names: Sequence[str]) -> list[tuple[str, str, bool]]:
        """(name, kind, actions enabled) of the named alarms."""
        q = select(alarms.c.name, alarms.c.kind, alarms.c.actions_enabled).where(
            alarms.c.name.in_(list(names))
        )
        return [(r.name, r.kind, bool(r.actions_enabled)) for r in conn.execute(q)]

    def counts(self, teams: frozenset[int] | None = None) -> dict[str, int]:
        """State -> number of alarms (of no team or of ``teams``, unless None)."""
        with self.engine.connect() as conn:
            q = _of_teams(select(alarms.c.state_value, func.count()), teams).group_by(alarms.c.state_value)
            return {r[0]: r[1] for r in conn.execute(q)}

    # ------------------------------------------------------------ evaluation reads

    def due(self, conn: Connection, now: float, limit: int | None = None) -> list[DueAlarm]:
        """Metric alarms due at ``now``: only the columns evaluation reads."""
        q = (
            select(
                alarms.c.id,
                alarms.c.name,
                alarms.c.namespace,
                alarms.c.metric_name,
                alarms.c.config,
                alarms.c.state_value,
                alarms.c.state_override,
            )
            .where(alarms.c.kind == "metric", alarms.c.next_eval_at <= now)
            .order_by(alarms.c.id)
        )
        if limit:
            q = q.limit(limit)
        out = []
        for r in conn.execute(q):
            # The hot path of every tick: convert only what evaluation reads.
            raw = r.config or {}
            cfg = _config_from_json(raw) if raw.get("metrics") else raw
            dims = tuple(Dimension(d["Name"], str(d["Value"])) for d in raw.get("dimensions") or ())
            out.append(
                DueAlarm(
                    r.id, r.name, r.namespace, r.metric_name, cfg, r.state_value, bool(r.state_override), dims
                )
            )
        return out

    def due_logs(self, conn: Connection, now: float, limit: int | None = None) -> list[Alarm]:
        """Log alarms due at ``now`` (few, and each needs its whole definition)."""
        q = (
            select(alarms)
            .where(alarms.c.kind == "log", alarms.c.next_eval_at <= now)
            .order_by(alarms.c.next_eval_at, alarms.c.id)
        )
        if limit:
            q = q.limit(limit)
        return self._alarms(conn, q)

    def lock(self, conn: Connection, ids: Sequence[int]) -> dict[int, Alarm]:
        """Full rows of ``ids``, locked for the transaction on PostgreSQL."""
        out: dict[int, Alarm] = {}
        for i in range(0, len(ids), CHUNK):
            q = select(alarms).where(alarms.c.id.in_(list(ids[i : i + CHUNK])))
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            out.update({a.id: a for a in self._alarms(conn, q)})
        return out

    def renotify_due(self, conn: Connection, now: float) -> list[Alarm]:
        q = select(alarms).where(
            alarms.c.state_value == "ALARM",
            alarms.c.next_renotify_at.is_not(None),
            alarms.c.next_renotify_at <= now,
            alarms.c.acked_at.is_(None),
        )
        return self._alarms(conn, q)

    def held_by_mute(self, conn: Connection) -> list[Alarm]:
        q = select(alarms).where(alarms.c.state_value == "ALARM", alarms.c.held_by_mute.is_(True))
        return self._alarms(conn, q)

    # ------------------------------------------------------------ writes

    def insert(self, conn: Connection, rec: AlarmRecord, now: float, team_id: int | None = None) -> None:
        conn.execute(
            insert(alarms).values(
                name=rec.name,
                kind=rec.kind,
                team_id=team_id,
                **_record_values(rec),
                config_updated_at=_ts(now),
                state_value="INSUFFICIENT_DATA",
                state_reason="Unchecked: Initial alarm creation",
                state_reason_data=None,
                state_updated_at=_ts(now),
                state_transitioned_at=_ts(now),
                state_override=False,
                next_eval_at=0.0,
                alarm_notified=False,
                held_by_mute=False,
            )
        )

    def update_definition(self, conn: Connection, alarm_id: int, rec: AlarmRecord, now: float) -> None:
        conn.execute(
            update(alarms)
            .where(alarms.c.id == alarm_id)
            .values(**_record_values(rec), config_updated_at=_ts(now), next_eval_at=0.0)
        )

    def delete(self, conn: Connection, names: Sequence[str]) -> None:
        conn.execute(delete(alarms).where(alarms.c.name.in_(list(names))))

    def set_actions_enabled(self, conn: Connection, names: Sequence[str], enabled: bool, now: float) -> None:
        conn.execute(
            update(alarms)
            .where(alarms.c.name.in_(list(names)))
            .values(actions_enabled=enabled, config_updated_at=_ts(now))
        )

    def set_tags(self, conn: Connection, name: str, tags: Sequence[Tag]) -> None:
        conn.execute(update(alarms).where(alarms.c.name == name).values(tags=tags_to_json(tags)))

    def set_fields(self, conn: Connection, alarm_id: int, **values: Any) -> None:
        """Update state, scheduling, acknowledgement or re-notify columns of one alarm."""
        conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(**values))

    def set_fields_many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """One executemany for many alarms: each row is ``{"id": ..., column: value, ...}``,
        all rows with the same columns."""
        if not rows:
            return
        cols = [k for k in rows[0] if k != "id"]
        stmt = (
            update(alarms)
            .where(alarms.c.id == bindparam("_id"))
            .values({c: bindparam(f"_{c}") for c in cols})
        )
        conn.execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in rows])

    def set_fields_of(self, conn: Connection, ids: Sequence[int], **values: Any) -> None:
        """The same values on many alarms."""
        for i in range(0, len(ids), CHUNK):
            conn.execute(update(alarms).where(alarms.c.id.in_(list(ids[i : i + CHUNK]))).values(**values))
