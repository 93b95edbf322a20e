"""What the console's security page shows, in one place: detections (log alarms and the keys
that breach), recent detections from the alarm history, the top failing IPs and users over time,
and the log groups the rule templates watch.

The failure charts run two Logs Insights queries over the login log groups: the top N values of
a field by count, then those values' counts per time bin. Field names are checked as plain
identifiers and texts are quoted (as the rule templates do), so nothing from a URL can change a
query's shape; both queries run under the limits every Insights query has.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from rexwatch.errors import Invalid
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import Alarm, HistoryItem, LogAlarmKey
from rexwatch.services.security import templates

MAX_SERIES = 10
MAX_BINS = 120
# Bin sizes the charts pick from: the smallest giving at most MAX_BINS bins over the range.
BIN_SECONDS = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86_400)
LOGIN_TEMPLATES = ("brute-force", "credential-stuffing", "password-reset-burst")
AUDIT_TEMPLATES = ("privilege-escalation", "mass-deletion", "off-hours-admin", "new-admin")


@dataclass
class Detection:
    alarm: Alarm
    keys: list[LogAlarmKey]


@dataclass
class FailureChart:
    """Counts per bin of the top values of one field: ``x`` in epoch seconds, one series each."""

    field: str
    bin_s: int
    x: list[int]
    series: list[dict[str, Any]]
    totals: list[tuple[str, int]] = field(default_factory=list)

    def as_chart(self) -> dict[str, Any]:
        return {"x": self.x, "series": [{"label": s["label"], "values": s["values"]} for s in self.series]}


def check_field(name: str, what: str) -> str:
    if not isinstance(name, str) or not templates._FIELD.fullmatch(name) or len(name) > 128:
        raise Invalid(f"{what} must be a field name like ip_address or details.ip", field=what)
    return name


def pick_bin(start_ms: int, end_ms: int) -> int:
    span = max(1, (end_ms - start_ms) // 1000)
    for b in BIN_SECONDS:
        if span / b <= MAX_BINS:
            return b
    return BIN_SECONDS[-1]


class SecurityOverview:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    @property
    def alarms(self) -> AlarmsService:
        return self.runtime.service(AlarmsService)

    # ------------------------------------------------------------ detections

    def detections(self) -> list[Detection]:
        """Every log alarm, those in ALARM first, each with its breaching keys."""
        out = []
        for a in self.alarms.log_alarms_list():
            keys = self.alarms.log_alarm_keys(a.name) if a.state_value == "ALARM" else []
            out.append(Detection(a, keys))
        out.sort(key=lambda d: (d.alarm.state_value != "ALARM", d.alarm.name))
        return out

    def recent(self, start_ms: int, end_ms: int | None = None, limit: int = 50) -> list[HistoryItem]:
        """State changes of log alarms in the range (no end: up to now and the evaluation slot
        being run, whose time may be a little ahead), newest first."""
        start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
        end = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC) if end_ms is not None else None
        items, _ = self.alarms.describe_history(types=["LogAlarm"], item_type="StateUpdate", start=start,
                                                end=end, max_records=limit)
        return items

    # ------------------------------------------------------------ sources

    def template_groups(self, names: tuple[str, ...]) -> list[str]:
        """Log groups watched by log alarms made from these templates (their ``rexwatch:template`` tag)."""
        groups: list[str] = []
        for a in self.alarms.log_alarms_list():
            if any(t.key == templates.TEMPLATE_TAG and t.value in names for t in a.tags):
                groups += [g for g in a.config.get("log_group_names", []) if g not in groups]
        return groups

    def login_fields(self) -> dict[str, str]:
        """The message and field names of the first applied login template (its tags), or the defaults."""
        found = dict(templates.LOGIN, message="failed login attempt")
        for a in self.alarms.log_alarms_list():
            tags = {t.key: t.value for t in a.tags}
            if tags.get(templates.TEMPLATE_TAG) in ("brute-force", "credential-stuffing"):
                for k in ("ip_field", "user_field", "message"):
                    if tags.get(f"rexwatch:{k}"):
                        found[k] = tags[f"rexwatch:{k}"]
                break
        return found

    # ------------------------------------------------------------ charts

    def failures(self, groups: list[str], by: str, *, message: str, start_ms: int, end_ms: int,
                 top: int = 5) -> FailureChart:
        """The ``top`` values of field ``by`` among events whose message contains ``message``,
        and each one's count per bin over the range."""
        from rexwatch.services.insights.service import QueriesService

        by = check_field(by, "field")
        if not isinstance(message, str) or not 1 <= len(message) <= 512:
            raise Invalid("message must be text of 1 to 512 characters", field="message")
        top = max(1, min(int(top), MAX_SERIES))
        bin_s = pick_bin(start_ms, end_ms)
        first = (start_ms // 1000 // bin_s) * bin_s
        x = list(range(first, end_ms // 1000 + 1, bin_s))
        if not groups:
            return FailureChart(by, bin_s, x, [])
        q = self.runtime.service(QueriesService)
        where = f"filter @message like {json.dumps(message)} and ispresent({by})"
        _, rows = q.run_now(f"{where} | stats count() as n by {by} | sort n desc | limit {top}",
                            groups, start_ms, end_ms, limit=top)
        totals = [(str(r[0]), int(float(r[1]))) for r in rows if r[0] not in (None, "")]
        if not totals:
            return FailureChart(by, bin_s, x, [])
        keys = [k for k, _ in totals]
        _, binned = q.run_now(
            f"{where} and {by} in [{', '.join(json.dumps(k) for k in keys)}] "
            f"| stats count() as n by bin({bin_s}s) as t, {by}",
            groups, start_ms, end_ms, limit=len(x) * len(keys) + len(keys),
        )
        index = {t: i for i, t in enumerate(x)}
        values = {k: [0] * len(x) for k in keys}
        for t, k, n in binned:
            at = int(dt.datetime.fromisoformat(str(t)).replace(tzinfo=dt.UTC).timestamp())
            i = index.get((at // bin_s) * bin_s)
            if i is not None and k in values:
                values[k][i] += int(float(n))
        series = [{"label": k, "values": values[k], "total": n} for k, n in totals]
        return FailureChart(by, bin_s, x, series, totals)
