"""AlarmsService: CloudWatch alarm semantics over the control store.

State, history and the notifications a transition causes are written in one
transaction (the notify outbox is filled inside it), so a crash neither loses
nor repeats a transition: the next evaluation recomputes the same decision
from the stored state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, func, insert, select

from rexwatch.errors import NotFound
from rexwatch.services.alarms.common import (
    Notifier,
    StatsSource,
    _Batch,
    _ts,
)
from rexwatch.services.alarms.config import ConfigMixin
from rexwatch.services.alarms.evaluation import EvaluationMixin
from rexwatch.services.alarms.history import HistoryMixin
from rexwatch.services.alarms.model import Alarm
from rexwatch.services.alarms.mutes import MutesMixin
from rexwatch.services.alarms.transitions import TransitionsMixin
from rexwatch.stores.control.tables.alarms import alarm_history, alarms


class AlarmsService(ConfigMixin, TransitionsMixin, MutesMixin, HistoryMixin, EvaluationMixin):
    """The alarms service. Its operations live in one module per concern (config,
    transitions, mutes, history, evaluation); this class holds the state they share."""

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


def alarm_counts(engine: Any) -> dict[str, int]:
    """State -> number of alarms (for the overview and /metrics)."""
    with engine.connect() as conn:
        return {
            r[0]: r[1]
            for r in conn.execute(select(alarms.c.state_value, func.count()).group_by(alarms.c.state_value))
        }


__all__ = ["AlarmsService", "Notifier", "StatsSource", "alarm_counts"]
