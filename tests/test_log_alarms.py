"""Log alarms: a Logs Insights query (or filter pattern count) on a schedule, a threshold per key."""

from __future__ import annotations

import json
import math
import time

import pytest

from rexwatch.errors import Invalid
from rexwatch.services.alarms import Actions, AlarmsService
from rexwatch.services.alarms.log_evaluate import KeyValue, LogRule, evaluate_log
from rexwatch.services.alarms.model import LogAlarmDefinition
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.notify import NotifyService
from rexwatch.services.security.blocklist import BlocklistService

GROUP = "/aws/ecs/utm-api"
QUERY = (
    'filter msg = "failed login attempt" '
    "| stats count() as attempts, count_distinct(user_id) as users by ip_address"
)


def failed_logins(runtime, at_ms: int, ip: str, n: int, user: str = "u") -> None:
    logs = runtime.service(LogsService)
    try:
        logs.create_log_group(GROUP)
        logs.create_log_stream(GROUP, "api-1")
    except Exception:
        pass
    events = [
        (at_ms + i, json.dumps({"level": "warn", "msg": "failed login attempt", "user_id": f"{user}{i}",
                                "ip_address": ip}))
        for i in range(n)
    ]
    logs.put_log_events(GROUP, "api-1", LogEventBatch.of(events))


def wait_stored(runtime, count: int, start_ms: int, end_ms: int) -> None:
    logs = runtime.service(LogsService)
    deadline = time.monotonic() + 60
    while logs.count_events(GROUP, start_ms, end_ms, None) < count:
        assert time.monotonic() < deadline, "events not stored in time"
        time.sleep(0.02)


def brute_force(name: str = "brute-force", actions: Actions = Actions(), **kw) -> LogAlarmDefinition:
    fields = dict(
        name=name, log_group_names=(GROUP,), query=QUERY, every=300, window=300, column="attempts",
        threshold=5, comparison_operator="GreaterThanThreshold", group_by=("ip_address",), top_rows=5,
        actions=actions,
    )
    return LogAlarmDefinition(**{**fields, **kw})


def test_evaluator_is_per_key_and_pure():
    rule = LogRule("attempts", 5, "GreaterThanThreshold", ("ip_address",), 2)
    vals = [KeyValue("1.1.1.1", 6, {"ip_address": "1.1.1.1", "attempts": 6}),
            KeyValue("2.2.2.2", 9, {"ip_address": "2.2.2.2", "attempts": 9}),
            KeyValue("3.3.3.3", 1, {"ip_address": "3.3.3.3", "attempts": 1})]
    d = evaluate_log(rule, {"1.1.1.1", "4.4.4.4"}, vals)
    assert d.state == "ALARM"
    assert [kv.key for kv in d.fired] == ["2.2.2.2"]
    assert [kv.key for kv in d.held] == ["1.1.1.1"]
    assert d.resolved == ["4.4.4.4"]
    assert [kv.key for kv in d.offending] == ["2.2.2.2", "1.1.1.1"]  # worst first, top 2
    assert "ip_address=2.2.2.2 (attempts=9)" in d.reason
    quiet = evaluate_log(rule, {"1.1.1.1"}, [])
    assert quiet.state == "OK" and quiet.resolved == ["1.1.1.1"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"query": None}, "QueryString"),
        ({"query": "stats count( by"}, "QueryString"),
        ({"column": "nope"}, "ValueColumn"),
        ({"group_by": ("user",)}, "GroupBy"),
        ({"threshold": None}, "Threshold"),
        ({"every": 5}, "EvaluationInterval"),
        ({"comparison_operator": "Bigger"}, "ComparisonOperator"),
        ({"actions": Actions(alarm=("block-ip:soon",))}, "AlarmActions"),
        ({"actions": Actions(alarm=("https://x",))}, "AlarmActions"),
        ({"top_rows": 0}, "TopRows"),
    ],
)
def test_bad_definitions_name_the_field(runtime, kw, field):
    svc = runtime.service(AlarmsService)
    with pytest.raises(Invalid) as e:
        svc.put_log_alarm(brute_force(**kw))
    assert e.value.field == field


def test_keys_fire_notify_block_and_resolve(runtime):
    svc = runtime.service(AlarmsService)
    topic = runtime.service(NotifyService).create_topic("security-alerts")
    svc.put_log_alarm(brute_force(actions=Actions(alarm=(topic, "block-ip:1h"))))
    # Evaluations fall on 5-minute slots; the events are placed in the windows they end.
    now = float(math.ceil(time.time() / 300) * 300)
    t0 = int(now * 1000) - 200_000
    failed_logins(runtime, t0, "203.0.113.7", 6)
    failed_logins(runtime, t0 + 100, "198.51.100.2", 2)
    wait_stored(runtime, 8, t0 - 1000, t0 + 10_000)

    report = svc.evaluate_due(now)
    assert report.transitions == 1 and report.notifications == 1 and report.queries == 1
    a = svc.get_log_alarm("brute-force")
    assert a.state_value == "ALARM" and "203.0.113.7" in a.state_reason
    assert "198.51.100.2" not in a.state_reason
    assert json.loads(a.state_reason_data)["offendingRows"] == [
        {"ip_address": "203.0.113.7", "attempts": "6", "users": "6"}
    ]
    assert [k.key for k in svc.log_alarm_keys("brute-force")] == ["203.0.113.7"]
    assert [e.cidr for e in runtime.service(BlocklistService).entries(now)] == ["203.0.113.7"]
    summaries = [h.summary for h in svc.describe_history(name="brute-force")[0]]
    assert "Alarm updated from INSUFFICIENT_DATA to ALARM" in summaries
    assert "Blocked 203.0.113.7 for 3600 s" in summaries

    # Not due again before the next slot.
    assert svc.evaluate_due(now + 100).evaluated == 0

    # In the next window both IPs try again; the second IP is new: a notification of its own.
    t1 = int(now * 1000) + 10_000
    failed_logins(runtime, t1, "203.0.113.7", 6)
    failed_logins(runtime, t1 + 100, "198.51.100.2", 7, user="v")
    wait_stored(runtime, 13, t1 - 1000, t1 + 10_000)
    report = svc.evaluate_due(now + 300)
    assert report.transitions == 0 and report.notifications == 1
    assert sorted(k.key for k in svc.log_alarm_keys("brute-force")) == ["198.51.100.2", "203.0.113.7"]
    summaries = [h.summary for h in svc.describe_history(name="brute-force")[0]]
    assert any(s.startswith("New keys in ALARM") and "198.51.100.2" in s for s in summaries)

    # Then the window is empty: every key resolves and the alarm is OK.
    report = svc.evaluate_due(now + 600)
    assert report.transitions == 1
    assert svc.get_log_alarm("brute-force").state_value == "OK"
    assert svc.log_alarm_keys("brute-force") == []

    # Backtest over the stored logs shows the same detections at the same evaluations.
    items = svc.backtest_log("brute-force", now - 300, now + 600)
    assert [(i.timestamp - now, i.key, i.new) for i in items] == [
        (0, "203.0.113.7", "ALARM"),
        (300, "198.51.100.2", "ALARM"),
        (600, "198.51.100.2", "OK"),
        (600, "203.0.113.7", "OK"),
    ]


def test_filter_pattern_source_counts_matches(runtime):
    svc = runtime.service(AlarmsService)
    now = time.time()
    t0 = int(now * 1000) - 30_000
    failed_logins(runtime, t0, "192.0.2.1", 3)
    wait_stored(runtime, 3, t0 - 1000, t0 + 10_000)
    svc.put_log_alarm(LogAlarmDefinition(name="any-failure", log_group_names=(GROUP,),
                                         filter_pattern='"failed login attempt"', threshold=2, every=60))
    svc.evaluate_due(now)
    a = svc.get_log_alarm("any-failure")
    assert a.state_value == "ALARM" and "count=3" in a.state_reason


def test_query_failure_keeps_state_and_is_shown(runtime):
    svc = runtime.service(AlarmsService)
    svc.put_log_alarm(LogAlarmDefinition(name="gone", log_group_names=("/no/such/group",), query=QUERY,
                                         column="attempts", group_by=("ip_address",), threshold=5))
    report = svc.evaluate_due(time.time())
    a = svc.get_log_alarm("gone")
    assert a.state_value == "INSUFFICIENT_DATA"
    assert report.failed["gone"][0] == "query" and "does not exist" in (a.evaluation_error or "")
