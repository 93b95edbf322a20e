"""AlarmsService: CloudWatch alarm semantics over the control store.

State, history and the notifications a transition causes are written in one
transaction (the notify outbox is filled inside it), so a crash neither loses
nor repeats a transition: the next evaluation recomputes the same decision
from the stored state.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from rexwatch.errors import Conflict, Invalid, LimitExceeded, NotFound, RexwatchError
from rexwatch.services.alarms import evaluator as ev
from rexwatch.services.alarms.message import alarm_message, subject
from rexwatch.services.alarms.model import (
    Alarm,
    BacktestTransition,
    HistoryItem,
    MuteRule,
    StatQuery,
    TickReport,
)
from rexwatch.services.alarms.mute import Schedule, parse_schedule, rule_status
from rexwatch.services.alarms.rules import alarm_name_of, compile_rule
from rexwatch.stores.control.tables.alarms import alarm_history, alarm_mute_rules, alarms

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
    return d if d.tzinfo else d.replace(tzinfo=dt.UTC)


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
        raise Invalid("NextToken is not valid", field="NextToken", aws_code="InvalidNextToken")


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


class AlarmsService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.engine = runtime.control
        self.region = runtime.settings.region
        self.account = runtime.settings.account_id
        self._stats: StatsSource | None = None
        self._notifier: Notifier | None = None
        # Tests and benchmarks may replace the clock; the service reads time only here.
        self.clock: Callable[[], float] = time.time
        # Alarm id -> why its last evaluation could not read data (metric math errors).
        self.failed: dict[int, str] = {}

    # ------------------------------------------------------------ seams

    @property
    def stats(self) -> StatsSource:
        if self._stats is None:
            from rexwatch.services.alarms.sources import MetricsStats

            self._stats = MetricsStats(self.runtime)
        return self._stats

    @stats.setter
    def stats(self, value: StatsSource) -> None:
        self._stats = value

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            from rexwatch.services.alarms.sources import OutboxNotifier

            self._notifier = OutboxNotifier(self.runtime)
        return self._notifier

    @notifier.setter
    def notifier(self, value: Notifier) -> None:
        self._notifier = value

    def _wake(self) -> None:
        wake = getattr(self._notifier, "wake", None)
        if wake is not None:
            wake()

    def arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{name}"

    def mute_rule_arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm-mute-rule:{name}"

    # ------------------------------------------------------------ rows

    def _row_to_alarm(self, r: Any) -> Alarm:
        dims = []
        if r.dimensions_key:
            for line in r.dimensions_key.split("\n"):
                k, _, v = line.partition("=")
                dims.append({"Name": k, "Value": v})
        cfg = dict(r.config or {})
        if cfg.get("dimensions") is not None:
            dims = cfg["dimensions"]
        return Alarm(
            id=r.id,
            name=r.name,
            arn=self.arn(r.name),
            kind=r.kind,
            description=r.description,
            namespace=r.namespace,
            metric_name=r.metric_name,
            dimensions=dims,
            config=cfg,
            actions_enabled=bool(r.actions_enabled),
            alarm_actions=list(r.alarm_actions or []),
            ok_actions=list(r.ok_actions or []),
            insufficient_data_actions=list(r.insufficient_data_actions or []),
            tags=list(r.tags or []),
            config_updated_at=_aware(r.config_updated_at),
            state_value=r.state_value,
            state_reason=r.state_reason,
            state_reason_data=r.state_reason_data,
            state_updated_at=_aware(r.state_updated_at),
            state_transitioned_at=_aware(r.state_transitioned_at),
            state_override=bool(r.state_override),
            renotify_interval=r.renotify_interval,
            acked_at=_aware(r.acked_at),
            acked_by=r.acked_by,
            ack_reason=r.ack_reason,
            alarm_notified=bool(r.alarm_notified),
            held_by_mute=bool(r.held_by_mute),
        )

    def _get(self, conn: Connection, name: str, *, for_update: bool = False) -> Alarm:
        q = select(alarms).where(alarms.c.name == name)
        if for_update and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        r = conn.execute(q).first()
        if r is None:
            raise NotFound(f"Alarm {name} does not exist", field="AlarmName")
        return self._row_to_alarm(r)

    def get(self, name: str) -> Alarm:
        with self.engine.connect() as conn:
            a = self._get(conn, name)
            a.muted_by = self._muting_rules(conn, self.clock()).get(a.name, [])
            return a

    def _history(
        self,
        conn: Connection,
        name: str,
        kind: str,
        at: float,
        item_type: str,
        summary: str,
        data: dict | str,
        batch: _Batch | None = None,
    ) -> None:
        row = {
            "alarm_name": name,
            "alarm_type": "CompositeAlarm" if kind == "composite" else "MetricAlarm",
            "timestamp": _ts(at),
            "item_type": item_type,
            "summary": summary,
            "data": data if isinstance(data, str) else json.dumps(data, separators=(",", ":")),
        }
        if batch is not None:
            batch.history.append(row)
        else:
            conn.execute(insert(alarm_history).values(**row))

    # ------------------------------------------------------------ validation

    def _check_actions(self, params: dict[str, Any]) -> dict[str, list[str]]:
        out = {}
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            acts = list(params.get(key) or [])
            if len(acts) > MAX_ACTIONS:
                raise LimitExceeded(f"{key} accepts at most {MAX_ACTIONS} actions", field=key)
            for a in acts:
                if not isinstance(a, str) or not a.startswith("arn:aws:sns:") or a.count(":") != 5:
                    raise Invalid(
                        f"{key}: {a!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>); "
                        "rexwatch supports SNS topic actions",
                        field=key,
                    )
            out[key] = acts
        return out

    def _metric_config(self, p: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None, list]:
        name = p.get("AlarmName")
        metrics = p.get("Metrics")
        stat, ext = p.get("Statistic"), p.get("ExtendedStatistic")
        if metrics:
            if p.get("MetricName") or p.get("Namespace") or stat or ext:
                raise Invalid(
                    "Metrics cannot be combined with MetricName, Namespace, Statistic or ExtendedStatistic",
                    field="Metrics",
                )
            returned = [m for m in metrics if m.get("ReturnData", True)]
            if len(returned) != 1:
                raise Invalid("exactly one entry of Metrics must have ReturnData true", field="Metrics")
            m = returned[0]
            if m.get("Expression") is not None:
                return self._math_config(p, metrics, m)
            if "MetricStat" not in m:
                raise Invalid("each entry of Metrics needs MetricStat or Expression", field="Metrics")
            ms = m["MetricStat"]
            met = ms.get("Metric") or {}
            namespace, metric_name, dims = (
                met.get("Namespace"),
                met.get("MetricName"),
                met.get("Dimensions") or [],
            )
            s = ms.get("Stat")
            stat, ext = (s, None) if s in STATISTICS else (None, s)
            period = ms.get("Period")
            unit = ms.get("Unit")
        else:
            namespace, metric_name = p.get("Namespace"), p.get("MetricName")
            dims = p.get("Dimensions") or []
            period = p.get("Period")
            unit = p.get("Unit")
            if not namespace or not metric_name:
                raise Invalid("MetricName and Namespace are required (or Metrics)", field="MetricName")
            if bool(stat) == bool(ext):
                raise Invalid("exactly one of Statistic or ExtendedStatistic is required", field="Statistic")
        if stat and stat not in STATISTICS:
            raise Invalid(f"Statistic must be one of {', '.join(STATISTICS)}", field="Statistic")
        if ext is not None and not (
            ext.startswith("p") and ext[1:].replace(".", "", 1).isdigit() and 0 <= float(ext[1:]) <= 100
        ):
            raise Invalid(
                f"ExtendedStatistic {ext!r} must be a percentile p0.0-p100", field="ExtendedStatistic"
            )
        if unit is not None:
            from rexwatch.services.metrics.model import UNITS

            if unit not in UNITS:
                raise Invalid(f"The value {unit} for parameter Unit is invalid.", field="Unit")
        if len(dims) > 30:
            raise LimitExceeded("at most 30 dimensions", field="Dimensions")
        for d in dims:
            if not d.get("Name") or d.get("Value") is None:
                raise Invalid("each dimension needs Name and Value", field="Dimensions")
        if period is None:
            raise Invalid("Period is required", field="Period")
        period = int(period)
        if period not in (10, 20, 30) and (period < 60 or period % 60):
            raise Invalid("Period must be 10, 20, 30 or a multiple of 60", field="Period")
        n = p.get("EvaluationPeriods")
        if n is None or int(n) < 1:
            raise Invalid("EvaluationPeriods must be at least 1", field="EvaluationPeriods")
        n = int(n)
        if period * n > 7 * 86400:
            raise Invalid("Period * EvaluationPeriods must not exceed 7 days", field="EvaluationPeriods")
        m = p.get("DatapointsToAlarm")
        if m is not None and not 1 <= int(m) <= n:
            raise Invalid(
                "DatapointsToAlarm must be between 1 and EvaluationPeriods", field="DatapointsToAlarm"
            )
        op = p.get("ComparisonOperator")
        if op in ANOMALY_OPERATORS:
            raise Invalid(
                f"{op} needs anomaly detection, which rexwatch does not support yet",
                field="ComparisonOperator",
            )
        if op not in ev.THRESHOLD_OPERATORS:
            raise Invalid(
                f"ComparisonOperator must be one of {', '.join(sorted(ev.THRESHOLD_OPERATORS))}",
                field="ComparisonOperator",
            )
        if p.get("Threshold") is None:
            raise Invalid("Threshold is required", field="Threshold")
        tmd = p.get("TreatMissingData")
        if tmd is not None and tmd not in ev.TREAT_MISSING:
            raise Invalid(
                f"TreatMissingData must be one of {', '.join(ev.TREAT_MISSING)}", field="TreatMissingData"
            )
        lsc = p.get("EvaluateLowSampleCountPercentile")
        if lsc:
            if lsc not in ("evaluate", "ignore"):
                raise Invalid(
                    "EvaluateLowSampleCountPercentile must be evaluate or ignore",
                    field="EvaluateLowSampleCountPercentile",
                )
            if not ext:
                raise Invalid(
                    "EvaluateLowSampleCountPercentile applies only to percentile ExtendedStatistic",
                    field="EvaluateLowSampleCountPercentile",
                )
        if name is None:
            raise Invalid("AlarmName is required", field="AlarmName")
        cfg = {
            "statistic": stat,
            "extended_statistic": ext,
            "period": period,
            "unit": unit,
            "evaluation_periods": n,
            "datapoints_to_alarm": int(m) if m is not None else None,
            "threshold": _num(p["Threshold"], "Threshold"),
            "comparison_operator": op,
            "treat_missing_data": tmd,
            "evaluate_low_sample_count_percentile": lsc,
            "metrics": metrics,
            "dimensions": [{"Name": d["Name"], "Value": str(d["Value"])} for d in dims],
        }
        return cfg, namespace, metric_name, dims

    def _math_config(
        self, p: dict[str, Any], metrics: list[dict[str, Any]], returned: dict[str, Any]
    ) -> tuple[dict[str, Any], None, None, list]:
        """An alarm on a metric math expression: its MetricStat leaves join the tick's batch."""
        import re

        from rexwatch.errors import QueryError
        from rexwatch.services.metrics.matheval import KEYWORDS
        from rexwatch.services.metrics.mathlang import parse

        ids = [m.get("Id") for m in metrics]
        if len(set(ids)) != len(ids):
            raise Invalid("Metrics entries need distinct Ids", field="Metrics")
        if len(metrics) > 10:
            raise LimitExceeded("an alarm's Metrics holds at most 10 entries", field="Metrics")
        first_period = None
        for m in metrics:
            if not isinstance(m.get("Id"), str) or not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", m["Id"]):
                raise Invalid(
                    f"Metrics Id {m.get('Id')!r} must start with a lower-case letter", field="Metrics"
                )
            if (m.get("MetricStat") is None) == (m.get("Expression") is None):
                raise Invalid(
                    f"Metrics entry {m['Id']} needs exactly one of MetricStat or Expression", field="Metrics"
                )
            if m.get("Expression") is not None:
                try:
                    refs = _references(parse(m["Expression"])) - KEYWORDS
                except QueryError as e:
                    raise Invalid(f"Error in expression {m['Id']}: {e.message}", field="Metrics")
                unknown = sorted(r for r in refs if r not in ids and r[:1].islower())
                if unknown:
                    raise Invalid(
                        f"Error in expression {m['Id']}: unknown metric or expression id {unknown[0]!r}",
                        field="Metrics",
                    )
            elif first_period is None:
                first_period = (m["MetricStat"] or {}).get("Period")
        period = returned.get("Period") or first_period
        p = {
            **p,
            "Period": period,
            "Namespace": None,
            "MetricName": None,
            "Statistic": None,
            "ExtendedStatistic": None,
            "Metrics": None,
        }
        p["MetricName"], p["Namespace"], p["Statistic"] = "expression", "math", "Average"
        cfg, _, _, _ = self._metric_config(p)
        cfg.update(statistic=None, extended_statistic=None, metrics=metrics, math=True, dimensions=[])
        return cfg, None, None, []

    @staticmethod
    def _check_name(name: Any) -> str:
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("AlarmName must be 1 to 255 characters", field="AlarmName")
        return name

    @staticmethod
    def _eval_config(a: Alarm) -> ev.AlarmConfig:
        c = a.config
        return ev.AlarmConfig(
            period=c["period"],
            evaluation_periods=c["evaluation_periods"],
            threshold=c["threshold"],
            comparison_operator=c["comparison_operator"],
            datapoints_to_alarm=c.get("datapoints_to_alarm"),
            treat_missing_data=c.get("treat_missing_data") or "missing",
            statistic=c.get("statistic"),
            extended_statistic=c.get("extended_statistic"),
            evaluate_low_sample_count_percentile=c.get("evaluate_low_sample_count_percentile"),
        )

    @staticmethod
    def stat_query(a: Alarm) -> StatQuery:
        c = a.config
        return StatQuery(
            namespace=a.namespace or "",
            metric_name=a.metric_name or "",
            dimensions=tuple(sorted((d["Name"], d["Value"]) for d in a.dimensions)),
            statistic=c.get("extended_statistic") or c.get("statistic") or "Average",
            period=c["period"],
            unit=c.get("unit"),
        )

    @staticmethod
    def _cadence(a: Alarm) -> int:
        # CloudWatch evaluates every minute (every period for high-resolution periods).
        return min(a.config.get("period") or 60, 60)

    # ------------------------------------------------------------ PutMetricAlarm / PutCompositeAlarm

    def _upsert(self, name: str, kind: str, values: dict[str, Any]) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            existing = conn.execute(select(alarms).where(alarms.c.name == name)).first()
            if existing is not None and existing.kind != kind:
                other = "a composite" if existing.kind == "composite" else "a metric"
                raise Conflict(f"Alarm {name} already exists as {other} alarm", field="AlarmName")
            if existing is None:
                conn.execute(
                    insert(alarms).values(
                        name=name,
                        kind=kind,
                        **values,
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
                self._history(
                    conn,
                    name,
                    kind,
                    now,
                    "ConfigurationUpdate",
                    f'Alarm "{name}" created',
                    {"type": "Create", "version": "1.0", "createdAlarm": self._config_view(name, values)},
                )
            else:
                before = self._config_view(name, {c: existing._mapping[c] for c in values})
                conn.execute(
                    update(alarms)
                    .where(alarms.c.id == existing.id)
                    .values(
                        **values,
                        config_updated_at=_ts(now),
                        next_eval_at=0.0,
                    )
                )
                after = self._config_view(name, values)
                changed = {k: v for k, v in before.items() if after.get(k) != v}
                self._history(
                    conn,
                    name,
                    kind,
                    now,
                    "ConfigurationUpdate",
                    f'Alarm "{name}" updated',
                    {
                        "type": "Update",
                        "version": "1.0",
                        "updatedAlarm": after,
                        "originalUpdatedFields": changed,
                    },
                )
            if kind == "composite":
                self._evaluate_composites(conn, now, names=[name])
        self._wake()

    @staticmethod
    def _config_view(name: str, values: dict[str, Any]) -> dict[str, Any]:
        cfg = values.get("config") or {}
        view = {
            "alarmName": name,
            "alarmDescription": values.get("description"),
            "actionsEnabled": values.get("actions_enabled"),
            "alarmActions": values.get("alarm_actions"),
            "okActions": values.get("ok_actions"),
            "insufficientDataActions": values.get("insufficient_data_actions"),
            "namespace": values.get("namespace"),
            "metricName": values.get("metric_name"),
        }
        for k, v in cfg.items():
            if v is not None and k != "metrics":
                view["".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_")))] = v
        return {k: v for k, v in view.items() if v is not None}

    def put_metric_alarm(self, params: dict[str, Any]) -> None:
        """PutMetricAlarm with botocore's parameter names. Updating keeps the state."""
        name = self._check_name(params.get("AlarmName"))
        desc = params.get("AlarmDescription")
        if desc is not None and len(desc) > 1024:
            raise Invalid("AlarmDescription is at most 1024 characters", field="AlarmDescription")
        cfg, namespace, metric_name, dims = self._metric_config(params)
        acts = self._check_actions(params)
        values = {
            "description": desc,
            "namespace": namespace,
            "metric_name": metric_name,
            "dimensions_key": _dims_key(dims),
            "config": cfg,
            "actions_enabled": bool(params.get("ActionsEnabled", True)),
            "alarm_actions": acts["AlarmActions"],
            "ok_actions": acts["OKActions"],
            "insufficient_data_actions": acts["InsufficientDataActions"],
            "tags": list(params.get("Tags") or []),
        }
        self._upsert(name, "metric", values)

    def put_composite_alarm(self, params: dict[str, Any]) -> None:
        name = self._check_name(params.get("AlarmName"))
        rule_text = params.get("AlarmRule")
        if not rule_text:
            raise Invalid("AlarmRule is required", field="AlarmRule")
        rule = compile_rule(rule_text)
        children = [alarm_name_of(c) for c in rule.alarms]
        with self.engine.connect() as conn:
            known = {
                r.name: r
                for r in conn.execute(
                    select(alarms.c.name, alarms.c.kind, alarms.c.config).where(alarms.c.name.in_(children))
                )
            }
            for c in children:
                if c == name:
                    raise Invalid(f"AlarmRule refers to the alarm itself ({c})", field="AlarmRule")
                if c not in known:
                    raise Invalid(f"AlarmRule refers to alarm {c!r}, which does not exist", field="AlarmRule")
            self._check_cycle(conn, name, children)
        suppressor = params.get("ActionsSuppressor")
        acts = self._check_actions(params)
        values = {
            "description": params.get("AlarmDescription"),
            "namespace": None,
            "metric_name": None,
            "dimensions_key": None,
            "config": {
                "alarm_rule": rule_text,
                "children": children,
                "actions_suppressor": suppressor,
                "actions_suppressor_wait_period": params.get("ActionsSuppressorWaitPeriod"),
                "actions_suppressor_extension_period": params.get("ActionsSuppressorExtensionPeriod"),
            },
            "actions_enabled": bool(params.get("ActionsEnabled", True)),
            "alarm_actions": acts["AlarmActions"],
            "ok_actions": acts["OKActions"],
            "insufficient_data_actions": acts["InsufficientDataActions"],
            "tags": list(params.get("Tags") or []),
        }
        self._upsert(name, "composite", values)

    def _check_cycle(self, conn: Connection, name: str, children: list[str]) -> None:
        rows = conn.execute(select(alarms.c.name, alarms.c.config).where(alarms.c.kind == "composite")).all()
        graph = {r.name: list((r.config or {}).get("children") or []) for r in rows}
        graph[name] = children
        stack, seen = list(children), set()
        depth = 0
        while stack and depth < 10000:
            depth += 1
            c = stack.pop()
            if c == name:
                raise Invalid(f"AlarmRule would make alarm {name} depend on itself", field="AlarmRule")
            if c not in seen:
                seen.add(c)
                stack.extend(graph.get(c, []))

    # ------------------------------------------------------------ Describe*

    def describe_alarms(
        self,
        *,
        names: Sequence[str] | None = None,
        prefix: str | None = None,
        types: Sequence[str] | None = None,
        state: str | None = None,
        action_prefix: str | None = None,
        children_of: str | None = None,
        parents_of: str | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[Alarm], str | None]:
        if names and prefix:
            raise Invalid("AlarmNames and AlarmNamePrefix cannot be used together", field="AlarmNamePrefix")
        if state is not None and state not in STATES:
            raise Invalid(f"StateValue must be one of {', '.join(STATES)}", field="StateValue")
        limit = int(max_records or MAX_DESCRIBE)
        if not 1 <= limit <= MAX_DESCRIBE:
            raise Invalid(f"MaxRecords must be between 1 and {MAX_DESCRIBE}", field="MaxRecords")
        kinds = []
        for t in types or ["MetricAlarm"]:
            if t not in ("MetricAlarm", "CompositeAlarm"):
                raise Invalid("AlarmTypes entries are MetricAlarm or CompositeAlarm", field="AlarmTypes")
            kinds.append("composite" if t == "CompositeAlarm" else "metric")
        q = select(alarms).where(alarms.c.kind.in_(kinds))
        after = _untoken(next_token)
        with self.engine.connect() as conn:
            if children_of or parents_of:
                if names or prefix or state or action_prefix:
                    raise Invalid(
                        "ChildrenOfAlarmName and ParentsOfAlarmName cannot be combined with other filters",
                        field="ChildrenOfAlarmName",
                    )
                if children_of:
                    parent = self._get(conn, children_of)
                    if parent.kind != "composite":
                        raise Invalid(f"{children_of} is not a composite alarm", field="ChildrenOfAlarmName")
                    names = parent.config.get("children") or []
                    q = select(alarms).where(alarms.c.name.in_(names))
                else:
                    rows = conn.execute(
                        select(alarms.c.name, alarms.c.config).where(alarms.c.kind == "composite")
                    ).all()
                    parents = [r.name for r in rows if parents_of in ((r.config or {}).get("children") or [])]
                    q = select(alarms).where(alarms.c.name.in_(parents))
            if names:
                if len(names) > MAX_DESCRIBE:
                    raise LimitExceeded(f"at most {MAX_DESCRIBE} AlarmNames", field="AlarmNames")
                q = q.where(alarms.c.name.in_(list(names)))
            if prefix:
                # Exact, case-sensitive prefix on both stores (SQLite LIKE ignores case).
                q = q.where(func.substr(alarms.c.name, 1, len(prefix)) == prefix)
            if state:
                q = q.where(alarms.c.state_value == state)
            if after:
                q = q.where(alarms.c.name > after)
            q = q.order_by(alarms.c.name)
            out: list[Alarm] = []
            more = False
            # Action prefix filtering looks inside JSON lists: filter in Python, in pages.
            for r in conn.execute(q):
                a = self._row_to_alarm(r)
                if action_prefix and not any(
                    x.startswith(action_prefix)
                    for x in (*a.alarm_actions, *a.ok_actions, *a.insufficient_data_actions)
                ):
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(a)
            muting = self._muting_rules(conn, self.clock())
        for a in out:
            a.muted_by = muting.get(a.name, [])
        return out, (_token(out[-1].name) if more and out else None)

    def describe_alarms_for_metric(
        self,
        *,
        namespace: str,
        metric_name: str,
        statistic: str | None = None,
        extended_statistic: str | None = None,
        dimensions: Sequence[dict[str, str]] | None = None,
        period: int | None = None,
        unit: str | None = None,
    ) -> list[Alarm]:
        if not namespace or not metric_name:
            raise Invalid("MetricName and Namespace are required", field="MetricName")
        q = select(alarms).where(alarms.c.namespace == namespace, alarms.c.metric_name == metric_name)
        if dimensions is not None:
            q = q.where(alarms.c.dimensions_key == _dims_key(dimensions))
        with self.engine.connect() as conn:
            out = [self._row_to_alarm(r) for r in conn.execute(q.order_by(alarms.c.name))]

        def keep(a: Alarm) -> bool:
            c = a.config
            return (
                (statistic is None or c.get("statistic") == statistic)
                and (extended_statistic is None or c.get("extended_statistic") == extended_statistic)
                and (period is None or c.get("period") == int(period))
                and (unit is None or c.get("unit") == unit)
            )

        return [a for a in out if keep(a)]

    # ------------------------------------------------------------ DeleteAlarms / actions

    def delete_alarms(self, names: Sequence[str]) -> None:
        if not names:
            raise Invalid("AlarmNames is required", field="AlarmNames")
        if len(names) > MAX_DESCRIBE:
            raise LimitExceeded(f"at most {MAX_DESCRIBE} AlarmNames", field="AlarmNames")
        with self.engine.begin() as conn:
            found = {
                r.name: r
                for r in conn.execute(
                    select(alarms.c.name, alarms.c.kind).where(alarms.c.name.in_(list(names)))
                )
            }
            missing = [n for n in names if n not in found]
            if missing:
                raise NotFound(f"Alarm(s) {', '.join(missing)} do not exist", field="AlarmNames")
            parents = conn.execute(
                select(alarms.c.name, alarms.c.config).where(alarms.c.kind == "composite")
            ).all()
            for p in parents:
                if p.name in found:
                    continue
                used = set((p.config or {}).get("children") or []) & set(found)
                if used:
                    raise Invalid(
                        f"Alarm {sorted(used)[0]} is used in the rule of composite alarm {p.name}; delete or "
                        "change that alarm first",
                        field="AlarmNames",
                    )
            now = self.clock()
            for n in names:
                self._history(
                    conn,
                    n,
                    found[n].kind,
                    now,
                    "ConfigurationUpdate",
                    f'Alarm "{n}" deleted',
                    {"type": "Delete", "version": "1.0", "deletedAlarm": {"alarmName": n}},
                )
            conn.execute(delete(alarms).where(alarms.c.name.in_(list(names))))

    def set_actions_enabled(self, names: Sequence[str], enabled: bool) -> None:
        if not names:
            raise Invalid("AlarmNames is required", field="AlarmNames")
        now = self.clock()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(alarms.c.name, alarms.c.kind, alarms.c.actions_enabled).where(
                    alarms.c.name.in_(list(names))
                )
            ).all()
            for r in rows:
                if bool(r.actions_enabled) != enabled:
                    self._history(
                        conn,
                        r.name,
                        r.kind,
                        now,
                        "ConfigurationUpdate",
                        f'Alarm "{r.name}" updated',
                        {
                            "type": "Update",
                            "version": "1.0",
                            "updatedAlarm": {"alarmName": r.name, "actionsEnabled": enabled},
                            "originalUpdatedFields": {"actionsEnabled": bool(r.actions_enabled)},
                        },
                    )
            conn.execute(
                update(alarms)
                .where(alarms.c.name.in_(list(names)))
                .values(actions_enabled=enabled, config_updated_at=_ts(now))
            )

    # ------------------------------------------------------------ SetAlarmState

    def set_alarm_state(self, name: str, state: str, reason: str, reason_data: str | None = None) -> None:
        """Set the state until the next evaluation, firing actions as a real transition would."""
        if state not in STATES:
            raise Invalid(f"StateValue must be one of {', '.join(STATES)}", field="StateValue")
        if reason is None or len(reason) > 1023:
            raise Invalid("StateReason is required and at most 1023 characters", field="StateReason")
        if reason_data:
            try:
                json.loads(reason_data)
            except ValueError:
                raise Invalid(
                    "StateReasonData must be valid JSON", field="StateReasonData", aws_code="InvalidFormat"
                )
        now = self.clock()
        with self.engine.begin() as conn:
            a = self._get(conn, name, for_update=True)
            mutes = self._muting_rules(conn, now)
            self._transition(conn, a, state, reason, reason_data, now, mutes, override=True)
            if a.kind == "metric":
                # Evaluate again at the next slot, not before: the override lasts until then.
                conn.execute(
                    update(alarms)
                    .where(alarms.c.id == a.id)
                    .values(next_eval_at=(math.floor(now / self._cadence(a)) + 1) * self._cadence(a))
                )
            self._evaluate_composites(conn, now, changed=[name])
        self._wake()

    # ------------------------------------------------------------ transitions and actions

    def _transition(
        self,
        conn: Connection,
        a: Alarm,
        new: str,
        reason: str,
        reason_data: str | None,
        now: float,
        mutes: dict[str, list[str]],
        *,
        override: bool = False,
        triggering: list[dict] | None = None,
        batch: _Batch | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Write a state change, its history and its notifications. Returns notifications queued.

        With ``batch`` the row update and history rows are collected for one executemany each.
        """
        old = a.state_value
        changed = old != new
        values: dict[str, Any] = {
            "state_value": new,
            "state_reason": reason,
            "state_reason_data": reason_data,
            "state_updated_at": _ts(now),
            "state_override": override,
            "state_transitioned_at": _ts(now) if changed else a.state_transitioned_at,
            "acked_at": a.acked_at,
            "acked_by": a.acked_by,
            "ack_reason": a.ack_reason,
            "alarm_notified": a.alarm_notified,
            "held_by_mute": a.held_by_mute,
            "next_renotify_at": None,
            **(extra or {}),
        }
        if changed and old == "ALARM":
            values.update(acked_at=None, acked_by=None, ack_reason=None, next_renotify_at=None)
        history_new: dict[str, Any] = {"stateValue": new, "stateReason": reason}
        if reason_data:
            try:
                history_new["stateReasonData"] = json.loads(reason_data)
            except ValueError:
                pass
        self._history(
            conn,
            a.name,
            a.kind,
            now,
            "StateUpdate",
            f"Alarm updated from {old} to {new}",
            {
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": a.state_reason},
                "newState": history_new,
            },
            batch,
        )
        sent = 0
        if changed:
            sent, outcome = self._run_actions(conn, a, old, new, reason, now, mutes, triggering, batch=batch)
            notified = outcome == "sent"
            if new == "ALARM":
                values["alarm_notified"] = notified
                values["held_by_mute"] = outcome == "muted"
                if a.renotify_interval and notified:
                    values["next_renotify_at"] = now + a.renotify_interval
            elif old == "ALARM":
                values["alarm_notified"] = False
                values["held_by_mute"] = False
        if batch is not None:
            batch.updates.append({"_id": a.id, **{f"_{k}": v for k, v in values.items()}})
        else:
            conn.execute(update(alarms).where(alarms.c.id == a.id).values(**values))
        a.state_value, a.state_reason, a.state_reason_data = new, reason, reason_data
        return sent

    def _run_actions(
        self,
        conn: Connection,
        a: Alarm,
        old: str,
        new: str,
        reason: str,
        now: float,
        mutes: dict[str, list[str]],
        triggering: list[dict] | None,
        *,
        renotify: bool = False,
        held: bool = False,
        batch: _Batch | None = None,
    ) -> tuple[int, str]:
        """Queue the actions of ``new``; returns (queued, outcome): outcome is "sent", "muted"
        (held back by a mute rule or an ActionsSuppressor) or "none" (no actions, or disabled)."""
        actions = a.actions_for(new)
        if not actions:
            return 0, "none"
        if not a.actions_enabled:
            return 0, "none"
        muted_by = list(mutes.get(a.name, []))
        suppressor = a.config.get("actions_suppressor") if a.kind == "composite" else None
        if suppressor:
            row = conn.execute(
                select(alarms.c.state_value).where(alarms.c.name == alarm_name_of(suppressor))
            ).first()
            if row is not None and row.state_value == "ALARM":
                # A composite's ActionsSuppressor in ALARM holds back its actions (wait and
                # extension periods are not modelled: suppression follows the suppressor's state).
                muted_by.append(f"ActionsSuppressor {alarm_name_of(suppressor)}")
        # The OK that ends an ALARM whose notification went out is sent even while muted.
        if muted_by and not (new == "OK" and old == "ALARM" and a.alarm_notified):
            for arn in actions:
                self._history(
                    conn,
                    a.name,
                    a.kind,
                    now,
                    "Action",
                    f"Suppressed action {arn}: muted by {', '.join(muted_by)}",
                    {
                        "actionState": "Suppressed",
                        "notificationResource": arn,
                        "stateUpdateTimestamp": int(now * 1000),
                        "mutedBy": muted_by,
                    },
                    batch,
                )
            return 0, "muted"
        message = alarm_message(
            alarm=a,
            account_id=self.account,
            region=self.region,
            old_state=old,
            new_state=new,
            reason=reason,
            change_time=now,
            triggering_children=triggering,
        )
        subj = subject(new, a.name, self.region)
        queued = 0
        for arn in actions:
            dedup = (
                f"{a.arn}|{new}|{int(now * 1000)}|{arn}"
                + ("|renotify" if renotify else "")
                + ("|held" if held else "")
            )
            try:
                self.notifier.enqueue(conn, arn, subj, message, dedup)
            except NotFound as e:
                self._history(
                    conn,
                    a.name,
                    a.kind,
                    now,
                    "Action",
                    f'Failed to execute action {arn}. Received error: "{e.message}"',
                    {
                        "actionState": "Failed",
                        "notificationResource": arn,
                        "stateUpdateTimestamp": int(now * 1000),
                        "error": e.message,
                    },
                    batch,
                )
                continue
            queued += 1
            self._history(
                conn,
                a.name,
                a.kind,
                now,
                "Action",
                f"Successfully executed action {arn}"
                + (" (re-notification)" if renotify else "")
                + (" (held by a mute rule until it ended)" if held else ""),
                {
                    "actionState": "Succeeded",
                    "notificationResource": arn,
                    "stateUpdateTimestamp": int(now * 1000),
                    "publishedMessage": message,
                },
                batch,
            )
        return queued, "sent"

    # ------------------------------------------------------------ mute rules

    def _load_mute_rules(self, conn: Connection) -> list[tuple[Any, Schedule]]:
        out = []
        for r in conn.execute(select(alarm_mute_rules)):
            try:
                out.append((r, parse_schedule(r.expression, r.duration, r.timezone)))
            except Invalid:
                log.warning("mute rule %s has an invalid schedule", r.name)
        return out

    def _muting_rules(self, conn: Connection, now: float) -> dict[str, list[str]]:
        """Alarm name -> names of the mute rules active at ``now``."""
        at = _ts(now)
        out: dict[str, list[str]] = {}
        for r, sched in self._load_mute_rules(conn):
            if rule_status(sched, _aware(r.start_date), _aware(r.expire_date), at) == "ACTIVE":
                for n in r.alarm_names or []:
                    out.setdefault(n, []).append(r.name)
        return out

    def _mute_view(self, r: Any, now: float) -> MuteRule:
        sched = parse_schedule(r.expression, r.duration, r.timezone)
        return MuteRule(
            name=r.name,
            arn=self.mute_rule_arn(r.name),
            description=r.description,
            expression=r.expression,
            duration=r.duration,
            timezone=r.timezone,
            alarm_names=list(r.alarm_names or []),
            start_date=_aware(r.start_date),
            expire_date=_aware(r.expire_date),
            tags=list(r.tags or []),
            updated_at=_aware(r.updated_at),
            status=rule_status(sched, _aware(r.start_date), _aware(r.expire_date), _ts(now)),
            mute_type="RECURRING" if sched.recurring else "ONE_TIME",
        )

    def put_mute_rule(self, params: dict[str, Any]) -> None:
        name = params.get("Name")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("Name must be 1 to 255 characters", field="Name")
        sched = (params.get("Rule") or {}).get("Schedule") or {}
        if not sched.get("Expression") or not sched.get("Duration"):
            raise Invalid("Rule.Schedule needs Expression and Duration", field="Rule")
        parse_schedule(sched["Expression"], sched["Duration"], sched.get("Timezone"))
        targets = list((params.get("MuteTargets") or {}).get("AlarmNames") or [])
        if not targets:
            raise Invalid("MuteTargets.AlarmNames must name at least one alarm", field="MuteTargets")
        if len(targets) > 100:
            raise LimitExceeded("MuteTargets.AlarmNames accepts at most 100 alarms", field="MuteTargets")
        start, expire = params.get("StartDate"), params.get("ExpireDate")
        if start and expire and _aware(expire) <= _aware(start):
            raise Invalid("ExpireDate must be after StartDate", field="ExpireDate")
        values = dict(
            description=params.get("Description"),
            expression=sched["Expression"].strip(),
            duration=sched["Duration"],
            timezone=sched.get("Timezone") or "UTC",
            alarm_names=targets,
            start_date=_aware(start),
            expire_date=_aware(expire),
            tags=list(params.get("Tags") or []),
            updated_at=_ts(self.clock()),
        )
        with self.engine.begin() as conn:
            found = conn.execute(select(alarm_mute_rules.c.id).where(alarm_mute_rules.c.name == name)).first()
            if found:
                conn.execute(
                    update(alarm_mute_rules).where(alarm_mute_rules.c.id == found.id).values(**values)
                )
            else:
                conn.execute(insert(alarm_mute_rules).values(name=name, **values))

    def get_mute_rule(self, name: str) -> MuteRule:
        with self.engine.connect() as conn:
            r = conn.execute(select(alarm_mute_rules).where(alarm_mute_rules.c.name == name)).first()
        if r is None:
            raise NotFound(f"Alarm mute rule {name} does not exist", field="AlarmMuteRuleName")
        return self._mute_view(r, self.clock())

    def list_mute_rules(
        self,
        *,
        alarm_name: str | None = None,
        statuses: Sequence[str] | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[MuteRule], str | None]:
        limit = int(max_records or 50)
        after = _untoken(next_token)
        now = self.clock()
        with self.engine.connect() as conn:
            q = select(alarm_mute_rules).order_by(alarm_mute_rules.c.name)
            if after:
                q = q.where(alarm_mute_rules.c.name > after)
            rules = [self._mute_view(r, now) for r in conn.execute(q)]
        rules = [
            r
            for r in rules
            if (not alarm_name or alarm_name in r.alarm_names) and (not statuses or r.status in statuses)
        ]
        page = rules[:limit]
        return page, (_token(page[-1].name) if len(rules) > limit else None)

    def delete_mute_rule(self, name: str) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(delete(alarm_mute_rules).where(alarm_mute_rules.c.name == name)).rowcount
        if not n:
            raise NotFound(f"Alarm mute rule {name} does not exist", field="AlarmMuteRuleName")

    def mute(
        self,
        alarm_names: Sequence[str],
        *,
        duration: str,
        name: str | None = None,
        reason: str | None = None,
        start: dt.datetime | None = None,
    ) -> MuteRule:
        """An ad-hoc maintenance window: mute ``alarm_names`` for ``duration`` from ``start`` (now)."""
        begin = _aware(start) or _ts(self.clock())
        rule_name = name or f"adhoc-{begin.strftime('%Y%m%dT%H%M%S')}"
        self.put_mute_rule(
            {
                "Name": rule_name,
                "Description": reason,
                "Rule": {
                    "Schedule": {
                        "Expression": f"at({begin.strftime('%Y-%m-%dT%H:%M')})",
                        "Duration": duration,
                    }
                },
                "MuteTargets": {"AlarmNames": list(alarm_names)},
            }
        )
        return self.get_mute_rule(rule_name)

    # ------------------------------------------------------------ acknowledge / re-notify

    def acknowledge(self, name: str, by: str, reason: str = "") -> Alarm:
        if not by:
            raise Invalid("who acknowledges is required", field="by")
        now = self.clock()
        with self.engine.begin() as conn:
            a = self._get(conn, name, for_update=True)
            if a.state_value != "ALARM":
                raise Conflict(
                    f"Alarm {name} is {a.state_value}; only an alarm in ALARM can be acknowledged",
                    field="AlarmName",
                )
            conn.execute(
                update(alarms)
                .where(alarms.c.id == a.id)
                .values(acked_at=_ts(now), acked_by=by, ack_reason=reason, next_renotify_at=None)
            )
            self._history(
                conn,
                name,
                a.kind,
                now,
                "Action",
                f"Acknowledged by {by}" + (f": {reason}" if reason else ""),
                {
                    "actionState": "Acknowledged",
                    "by": by,
                    "reason": reason,
                    "stateUpdateTimestamp": int(now * 1000),
                },
            )
            return self._get(conn, name)

    def set_renotify(self, name: str, interval: int | None) -> Alarm:
        if interval is not None and interval < 60:
            raise Invalid("the re-notify interval is at least 60 seconds (or none)", field="interval")
        now = self.clock()
        with self.engine.begin() as conn:
            a = self._get(conn, name, for_update=True)
            nxt = None
            if interval and a.state_value == "ALARM" and a.acked_at is None:
                nxt = now + interval
            conn.execute(
                update(alarms)
                .where(alarms.c.id == a.id)
                .values(renotify_interval=interval, next_renotify_at=nxt)
            )
            return self._get(conn, name)

    # ------------------------------------------------------------ tags

    def _tag_target(self, conn: Connection, arn: str) -> tuple[Any, Any]:
        prefix = f"arn:aws:cloudwatch:{self.region}:{self.account}:"
        if not isinstance(arn, str) or not arn.startswith("arn:aws:cloudwatch:"):
            raise Invalid(
                f"ResourceARN {arn!r} is not a CloudWatch alarm or mute rule ARN", field="ResourceARN"
            )
        rest = arn[len(prefix) :] if arn.startswith(prefix) else arn.split(":", 5)[-1]
        kind, _, name = rest.partition(":")
        table = {"alarm": alarms, "alarm-mute-rule": alarm_mute_rules}.get(kind)
        if table is None:
            raise Invalid(
                f"ResourceARN {arn!r} is not a CloudWatch alarm or mute rule ARN", field="ResourceARN"
            )
        row = conn.execute(select(table.c.id, table.c.tags).where(table.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"{'Alarm' if kind == 'alarm' else 'Alarm mute rule'} {name} does not exist",
                field="ResourceARN",
            )
        return table, row

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        with self.engine.connect() as conn:
            _, row = self._tag_target(conn, arn)
            return list(row.tags or [])

    def tag_resource(self, arn: str, tags: Sequence[dict[str, str]]) -> None:
        for t in tags:
            if not t.get("Key") or len(t["Key"]) > 128 or len(t.get("Value") or "") > 256:
                raise Invalid("each tag needs a Key (1-128 characters) and a Value up to 256", field="Tags")
        with self.engine.begin() as conn:
            table, row = self._tag_target(conn, arn)
            merged = {t["Key"]: t.get("Value", "") for t in row.tags or []}
            merged.update({t["Key"]: t.get("Value", "") for t in tags})
            if len(merged) > 50:
                raise LimitExceeded("a resource has at most 50 tags", field="Tags")
            conn.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(tags=[{"Key": k, "Value": v} for k, v in merged.items()])
            )

    def untag_resource(self, arn: str, keys: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            table, row = self._tag_target(conn, arn)
            kept = [t for t in row.tags or [] if t["Key"] not in set(keys)]
            conn.execute(update(table).where(table.c.id == row.id).values(tags=kept))

    # ------------------------------------------------------------ DescribeAlarmHistory

    def prune_history(self, now: float, keep_days: int = HISTORY_DAYS) -> int:
        """Drop history older than ``keep_days`` (CloudWatch keeps 30 days)."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(alarm_history).where(alarm_history.c.timestamp < _ts(now - keep_days * 86400))
            ).rowcount

    def describe_history(
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
        limit = int(max_records or 100)
        if not 1 <= limit <= 100:
            raise Invalid("MaxRecords must be between 1 and 100", field="MaxRecords")
        q = select(alarm_history)
        if name:
            q = q.where(alarm_history.c.alarm_name == name)
        if types:
            q = q.where(alarm_history.c.alarm_type.in_(list(types)))
        if item_type:
            q = q.where(alarm_history.c.item_type == item_type)
        if start:
            q = q.where(alarm_history.c.timestamp >= _aware(start))
        if end:
            q = q.where(alarm_history.c.timestamp <= _aware(end))
        after = _untoken(next_token)
        if after is not None:
            q = q.where(alarm_history.c.id > after if ascending else alarm_history.c.id < after)
        q = q.order_by(alarm_history.c.id.asc() if ascending else alarm_history.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [
            HistoryItem(r.alarm_name, r.alarm_type, _aware(r.timestamp), r.item_type, r.summary, r.data)
            for r in rows[:limit]
        ]
        return items, (_token(rows[limit - 1].id) if len(rows) > limit else None)

    # ------------------------------------------------------------ evaluation (the worker's tick)

    def evaluate_due(self, now: float | None = None, *, limit: int | None = None) -> TickReport:
        """Evaluate every metric alarm due at ``now`` with one batched statistics query."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        report = TickReport()
        with self.engine.connect() as conn:
            # Only what evaluation needs: full rows are read for the alarms that change.
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
            due = [
                _Due(
                    r.id,
                    r.name,
                    r.namespace,
                    r.metric_name,
                    r.config or {},
                    r.state_value,
                    bool(r.state_override),
                )
                for r in conn.execute(q)
            ]
        if due:
            simple = [a for a in due if not a.config.get("math")]
            math_alarms = [a for a in due if a.config.get("math")]
            wanted = {a.id: self.stat_query(a) for a in simple}
            queries = list(dict.fromkeys(wanted.values()))
            cfgs = {a.id: self._eval_config(a) for a in due}
            start = min(ev.range_start(c, now) for c in cfgs.values())
            end = max(ev.window_end(c, now) for c in cfgs.values())
            series: dict[int, list[ev.Datapoint]] = {}
            self.failed = {}
            if queries:
                data = self._fetch(queries, start, end)
                for a in simple:
                    if wanted[a.id] in data:
                        series[a.id] = data[wanted[a.id]]
                    else:
                        self.failed[a.id] = "statistics unavailable"
                report.queries += 1
            if math_alarms:
                try:
                    series.update(self._fetch_math(math_alarms, start, end))
                except RexwatchError as e:
                    self.failed.update({a.id: e.message for a in math_alarms})
                from rexwatch.services.alarms.sources import _whole_request

                own = sum(1 for a in math_alarms if _whole_request(a.config["metrics"]))
                report.queries += own + (1 if own < len(math_alarms) else 0)
            decisions = []
            for a in due:
                if a.id in self.failed:
                    decisions.append((a, None))  # keep the state; evaluated again next minute
                    continue
                points = series.get(a.id, [])
                t = ev.evaluate(cfgs[a.id], ev.AlarmState(ev.StateValue(a.state_value)), points, now)
                decisions.append((a, t))
            report.evaluated = len(due)
            self._apply(decisions, now, report)
        self._renotify(now, report)
        self._wake()
        report.seconds = time.perf_counter() - started
        return report

    def _fetch(
        self, queries: list[StatQuery], start: float, end: float
    ) -> dict[StatQuery, list[ev.Datapoint]]:
        try:
            return self.stats.fetch(queries, start, end)
        except RexwatchError as e:
            if len(queries) == 1:
                raise
            first = e
        # A series the store refuses must not stop every alarm: retry in halves to isolate it.
        log.warning("alarms: statistics batch failed (%s); isolating the failing series", first.message)
        mid = len(queries) // 2
        out: dict[StatQuery, list[ev.Datapoint]] = {}
        for part in (queries[:mid], queries[mid:]):
            try:
                out.update(self._fetch(part, start, end))
            except RexwatchError as e:
                log.warning("alarms: no statistics for %s: %s", part[0], e.message)
        return out

    def _fetch_math(
        self, math_alarms: list[Alarm], start: float, end: float
    ) -> dict[int, list[ev.Datapoint]]:
        fetch_math = getattr(self.stats, "fetch_math", None)
        if fetch_math is None:
            raise Invalid("this statistics source cannot evaluate metric math alarms")
        try:
            return fetch_math([(a.id, a.config["metrics"]) for a in math_alarms], start, end)
        except RexwatchError:
            if len(math_alarms) == 1:
                raise
        # One expression failed the batch: isolate it so the others are still evaluated.
        out: dict[int, list[ev.Datapoint]] = {}
        for a in math_alarms:
            try:
                out.update(fetch_math([(a.id, a.config["metrics"])], start, end))
            except RexwatchError as e:
                log.warning("alarm %s: metric math failed: %s", a.name, e.message)
                self.failed[a.id] = e.message
        return out

    def _apply(
        self, decisions: list[tuple[Any, ev.Transition | None]], now: float, report: TickReport
    ) -> None:
        with self.engine.begin() as conn:
            mutes = self._muting_rules(conn, now)
            batch = _Batch()
            quiet: dict[float, list[int]] = {}
            moving = [(a, t) for a, t in decisions if t is not None]
            # Lock the rows that change and skip any whose state moved since they were read
            # (a concurrent SetAlarmState): that alarm is simply evaluated again next tick.
            current: dict[int, Alarm] = {}
            ids = [a.id for a, _ in moving]
            for i in range(0, len(ids), 500):
                q = select(alarms).where(alarms.c.id.in_(ids[i : i + 500]))
                if conn.dialect.name == "postgresql":
                    q = q.with_for_update()
                current.update({r.id: self._row_to_alarm(r) for r in conn.execute(q)})
            changed: list[str] = []
            for a, t in decisions:
                nxt = (math.floor(now / self._cadence(a)) + 1) * self._cadence(a)
                full = current.get(a.id)
                if t is None or full is None or full.state_value != a.state_value:
                    quiet.setdefault(nxt, []).append(a.id)
                    continue
                report.notifications += self._transition(
                    conn,
                    full,
                    t.new.value,
                    t.reason,
                    t.reason_data,
                    now,
                    mutes,
                    batch=batch,
                    extra={"next_eval_at": nxt, "last_eval_at": now},
                )
                report.transitions += 1
                changed.append(a.name)
            batch.flush(conn)
            overridden = [a.id for a, t in decisions if t is None and a.state_override]
            for nxt, qids in quiet.items():
                for i in range(0, len(qids), 500):
                    conn.execute(
                        update(alarms)
                        .where(alarms.c.id.in_(qids[i : i + 500]))
                        .values(next_eval_at=nxt, last_eval_at=now)
                    )
            for i in range(0, len(overridden), 500):
                # The evaluation confirmed the set state: it is no longer an override.
                conn.execute(
                    update(alarms)
                    .where(alarms.c.id.in_(overridden[i : i + 500]))
                    .values(state_override=False)
                )
            if changed:
                report.notifications += self._evaluate_composites(conn, now, changed=changed, mutes=mutes)

    def _evaluate_composites(
        self,
        conn: Connection,
        now: float,
        *,
        changed: Sequence[str] = (),
        names: Sequence[str] = (),
        mutes: dict[str, list[str]] | None = None,
    ) -> int:
        """Re-evaluate composites whose children changed (transitively) or that are named."""
        rows = conn.execute(select(alarms).where(alarms.c.kind == "composite")).all()
        if not rows:
            return 0
        mutes = self._muting_rules(conn, now) if mutes is None else mutes
        comps = {r.name: self._row_to_alarm(r) for r in rows}
        pending = set(names)
        frontier = set(changed)
        for _ in range(MAX_COMPOSITE_DEPTH):
            for c in comps.values():
                if frontier & set(c.config.get("children") or []):
                    pending.add(c.name)
            if not pending:
                break
            frontier = set()
            child_names = {ch for n in pending for ch in comps[n].config.get("children") or []}
            states = {
                r.name: r
                for r in conn.execute(
                    select(alarms.c.name, alarms.c.state_value, alarms.c.state_transitioned_at).where(
                        alarms.c.name.in_(list(child_names))
                    )
                )
            }
            sent = 0
            for n in sorted(pending):
                c = comps[n]
                rule = compile_rule(c.config["alarm_rule"])
                holds = rule.evaluate(
                    lambda ref, st=states: (
                        st[alarm_name_of(ref)].state_value if alarm_name_of(ref) in st else None
                    )
                )
                new = "ALARM" if holds else "OK"
                if new == c.state_value:
                    continue
                triggering = [
                    {
                        "Arn": self.arn(ch),
                        "State": {
                            "Value": states[ch].state_value,
                            "Timestamp": ev.iso_millis(_aware(states[ch].state_transitioned_at).timestamp()),
                        },
                    }
                    for ch in c.config.get("children") or []
                    if ch in states
                ]
                if triggering:
                    first = triggering[0]
                    when = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%A %d %B, %Y %H:%M:%S UTC")
                    reason = f"{first['Arn']} transitioned to {first['State']['Value']} at {when}"
                else:
                    reason = f"AlarmRule evaluated to {'TRUE' if holds else 'FALSE'}"
                data = json.dumps(
                    {
                        "triggeringAlarms": [
                            {
                                "arn": t["Arn"],
                                "state": {"value": t["State"]["Value"], "timestamp": t["State"]["Timestamp"]},
                            }
                            for t in triggering
                        ]
                    },
                    separators=(",", ":"),
                )
                sent += self._transition(conn, c, new, reason, data, now, mutes, triggering=triggering)
                frontier.add(n)
            pending = set()
            if not frontier:
                return sent
        return 0

    def _renotify(self, now: float, report: TickReport) -> None:
        self._release_held(now, report)
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(alarms).where(
                    alarms.c.state_value == "ALARM",
                    alarms.c.next_renotify_at.is_not(None),
                    alarms.c.next_renotify_at <= now,
                    alarms.c.acked_at.is_(None),
                )
            ).all()
            if not rows:
                return
            mutes = self._muting_rules(conn, now)
            for r in rows:
                a = self._row_to_alarm(r)
                sent, _ = self._run_actions(
                    conn, a, "ALARM", "ALARM", a.state_reason, now, mutes, None, renotify=True
                )
                report.notifications += sent
                conn.execute(
                    update(alarms)
                    .where(alarms.c.id == a.id)
                    .values(next_renotify_at=now + (a.renotify_interval or 3600))
                )

    def _release_held(self, now: float, report: TickReport) -> None:
        """An ALARM whose notification a mute held back is sent once the mute ends, if still firing."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(alarms).where(alarms.c.state_value == "ALARM", alarms.c.held_by_mute.is_(True))
            ).all()
            if not rows:
                return
            mutes = self._muting_rules(conn, now)
            for r in rows:
                a = self._row_to_alarm(r)
                if a.name in mutes:
                    continue
                sent, outcome = self._run_actions(
                    conn, a, "ALARM", "ALARM", a.state_reason, now, mutes, None, held=True
                )
                if outcome == "muted":
                    continue  # an ActionsSuppressor still holds it
                report.notifications += sent
                values: dict[str, Any] = {"held_by_mute": False, "alarm_notified": outcome == "sent"}
                if outcome == "sent" and a.renotify_interval and a.acked_at is None:
                    values["next_renotify_at"] = now + a.renotify_interval
                conn.execute(update(alarms).where(alarms.c.id == a.id).values(**values))

    # ------------------------------------------------------------ backtest

    def backtest(self, name: str, since: float, until: float | None = None) -> list[BacktestTransition]:
        """Replay a metric alarm over stored data: the transitions it would have made (one query)."""
        until = self.clock() if until is None else until
        if since >= until:
            raise Invalid("the backtest start must be before its end", field="since")
        a = self.get(name)
        if a.kind != "metric":
            raise Invalid(
                "backtests replay metric alarms; composite alarms follow their children", field="AlarmName"
            )
        cfg = self._eval_config(a)
        step = self._cadence(a)
        steps = int((until - since) // step)
        if steps > 200_000:
            raise LimitExceeded(
                "a backtest covers at most 200,000 evaluations; shorten the range", field="since"
            )
        lo_t, hi_t = ev.range_start(cfg, since), ev.window_end(cfg, until)
        if a.config.get("math"):
            points = self._fetch_math([a], lo_t, hi_t).get(a.id, [])
        else:
            q = self.stat_query(a)
            points = self.stats.fetch([q], lo_t, hi_t).get(q, [])
        points.sort(key=lambda p: p.ts)
        state = ev.StateValue.INSUFFICIENT_DATA
        out: list[BacktestTransition] = []
        span = (cfg.evaluation_periods + ev.EXTRA_PERIODS) * cfg.period
        lo = 0
        t = math.ceil(since / step) * step
        keys = [p.ts for p in points]
        while t <= until:
            end = ev.window_end(cfg, t)
            lo = bisect.bisect_left(keys, end - span, lo)
            hi = bisect.bisect_left(keys, end, lo)
            tr = ev.evaluate(cfg, ev.AlarmState(state), points[lo:hi], t)
            if tr is not None:
                out.append(BacktestTransition(t, tr.old.value, tr.new.value, tr.reason))
                state = tr.new
            t += step
        return out


def alarm_counts(engine: Any) -> dict[str, int]:
    """State -> number of alarms (for the overview and /metrics)."""
    with engine.connect() as conn:
        return {
            r[0]: r[1]
            for r in conn.execute(select(alarms.c.state_value, func.count()).group_by(alarms.c.state_value))
        }


__all__ = ["AlarmsService", "Notifier", "StatsSource", "alarm_counts"]
