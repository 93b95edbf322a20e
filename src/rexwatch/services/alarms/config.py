"""Alarm configuration: validation, PutMetricAlarm/PutCompositeAlarm, Describe*, delete, action switches, SetAlarmState and tags."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from rexwatch.errors import Conflict, Invalid, InvalidFormat, LimitExceeded, NotFound
from rexwatch.lang.alarmrule import alarm_name_of, compile_rule
from rexwatch.services.alarms import evaluator as ev
from rexwatch.services.alarms.common import (
    ANOMALY_OPERATORS,
    MAX_ACTIONS,
    MAX_DESCRIBE,
    STATES,
    STATISTICS,
    _dims_key,
    _num,
    _references,
    _token,
    _ts,
    _untoken,
)
from rexwatch.services.alarms.model import (
    Alarm,
    StatQuery,
)
from rexwatch.stores.control.tables.alarms import alarm_mute_rules, alarms


class ConfigMixin:
    """Part of ``AlarmsService``; see ``service.py``."""

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
        from rexwatch.lang.mathexpr import parse
        from rexwatch.services.metrics.matheval import KEYWORDS

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
                raise InvalidFormat(
                    "StateReasonData must be valid JSON", field="StateReasonData"
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
