"""AlarmsService over the real control store and the real notify outbox.

Statistics come through the service's ``stats`` seam (the evaluator's query
function, as Prometheus injects its QueryFunc); the end-to-end tests read them
from the metrics store instead.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rexwatch.errors import Conflict, Invalid, NotFound, QueryError
from rexwatch.services.alarms import (
    Actions,
    AlarmDefinition,
    AlarmsService,
    CompositeAlarmDefinition,
    Dimension,
)
from rexwatch.services.alarms.evaluate import Datapoint
from rexwatch.services.alarms.model import TickReport
from rexwatch.services.notify import NotifyService

T0 = dt.datetime(2024, 11, 25, 10, 0, tzinfo=dt.UTC).timestamp()
TOPIC = "arn:aws:sns:us-east-1:000000000000:utm-alerts"


class SeriesStats:
    """Datapoints by (metric name, statistic), recording how often it is asked."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], list[Datapoint]] = {}
        self.calls: list[int] = []

    def add(self, metric: str, stat: str, start: float, step: int, *values: float) -> None:
        pts = self.series.setdefault((metric, stat), [])
        for i, v in enumerate(values):
            pts.append(Datapoint(start + i * step, v, 10.0))

    def fetch(self, queries, start, end):
        self.calls.append(len(queries))
        for q in queries:
            if q.metric_name == "Refused":  # a series the store refuses to answer
                raise Invalid("the store refused this series")
        return {
            q: [p for p in self.series.get((q.metric_name, q.statistic), []) if start <= p.ts < end]
            for q in queries
        }


def cpu_alarm(*, alarm_actions=(TOPIC,), ok_actions=(TOPIC,), **over) -> AlarmDefinition:
    p = {
        "name": "utm-high-cpu",
        "metric_name": "CPUUtilization",
        "namespace": "AWS/ECS",
        "dimensions": (Dimension("ServiceName", "utm-api"),),
        "statistic": "Average",
        "period": 300,
        "threshold": 80,
        "comparison_operator": "GreaterThanThreshold",
        "evaluation_periods": 3,
        "actions": Actions(alarm=tuple(alarm_actions), ok=tuple(ok_actions)),
    }
    p.update(over)
    return AlarmDefinition(**p)


def composite(name: str, rule: str, actions=(), **over) -> CompositeAlarmDefinition:
    return CompositeAlarmDefinition(name=name, alarm_rule=rule, actions=Actions(alarm=tuple(actions)), **over)


@pytest.fixture
def svc(runtime):
    s = runtime.service(AlarmsService)
    s.stats = SeriesStats()
    s.clock = lambda: T0
    return s


@pytest.fixture
def topic(runtime):
    notify = runtime.service(NotifyService)
    arn = notify.create_topic("utm-alerts")
    notify.subscribe(arn, "https", "https://127.0.0.1:9/hook", {"SkipConfirmation": "true"})
    return notify


def test_put_describe_update_keeps_state_and_history(svc):
    svc.put_metric_alarm(cpu_alarm(description="CPU above 80%"))
    [a], token = svc.describe_alarms(names=["utm-high-cpu"])
    assert token is None
    assert a.state_value == "INSUFFICIENT_DATA" and a.state_reason == "Unchecked: Initial alarm creation"
    assert a.arn == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:utm-high-cpu"
    assert a.dimensions == [Dimension("ServiceName", "utm-api")]
    svc.set_alarm_state("utm-high-cpu", "ALARM", "testing")
    svc.put_metric_alarm(cpu_alarm(threshold=90))
    a = svc.get("utm-high-cpu")
    assert a.state_value == "ALARM" and a.config["threshold"] == 90.0
    items, _ = svc.describe_history(name="utm-high-cpu", item_type="ConfigurationUpdate")
    assert [i.summary for i in items] == ['Alarm "utm-high-cpu" updated', 'Alarm "utm-high-cpu" created']
    assert json.loads(items[0].data)["originalUpdatedFields"] == {
        "alarmDescription": "CPU above 80%",
        "threshold": 80.0,
    }


@pytest.mark.parametrize(
    "over, field",
    [
        ({"period": 45}, "Period"),
        ({"comparison_operator": "Bigger"}, "ComparisonOperator"),
        ({"comparison_operator": "GreaterThanUpperThreshold"}, "ComparisonOperator"),
        ({"datapoints_to_alarm": 4}, "DatapointsToAlarm"),
        ({"treat_missing_data": "sometimes"}, "TreatMissingData"),
        ({"extended_statistic": "p99"}, "Statistic"),
        ({"alarm_actions": ["mailto:ops@example.com"]}, "AlarmActions"),
        ({"evaluate_low_sample_count_percentile": "ignore"}, "EvaluateLowSampleCountPercentile"),
        ({"threshold": None}, "Threshold"),
        ({"unit": "Percentage"}, "Unit"),
    ],
)
def test_bad_alarms_name_the_field(svc, over, field):
    with pytest.raises(Invalid) as e:
        svc.put_metric_alarm(cpu_alarm(**over))
    assert e.value.field == field


def test_describe_filters_and_paging(svc):
    for i in range(5):
        acts = [] if i % 2 else [TOPIC]
        svc.put_metric_alarm(cpu_alarm(name=f"web-{i}", alarm_actions=acts, ok_actions=acts))
    svc.put_metric_alarm(
        cpu_alarm(
            name="db-1",
            metric_name="DatabaseConnections",
            namespace="AWS/RDS",
            dimensions=(Dimension("DBInstanceIdentifier", "utm-db"),),
        )
    )
    svc.put_metric_alarm(cpu_alarm(name="WEB-upper"))
    page1, tok = svc.describe_alarms(prefix="web-", max_records=2)
    page2, tok2 = svc.describe_alarms(prefix="web-", max_records=2, next_token=tok)
    page3, tok3 = svc.describe_alarms(prefix="web-", max_records=2, next_token=tok2)
    assert [a.name for a in page1 + page2 + page3] == [f"web-{i}" for i in range(5)] and tok3 is None
    with_topic, _ = svc.describe_alarms(action_prefix="arn:aws:sns:us-east-1:000000000000:utm")
    assert [a.name for a in with_topic] == ["WEB-upper", "db-1", "web-0", "web-2", "web-4"]
    svc.set_alarm_state("web-3", "ALARM", "x")
    assert [a.name for a in svc.describe_alarms(state="ALARM")[0]] == ["web-3"]
    for_metric = svc.describe_alarms_for_metric(
        namespace="AWS/RDS",
        metric_name="DatabaseConnections",
        dimensions=[Dimension("DBInstanceIdentifier", "utm-db")],
    )
    assert [a.name for a in for_metric] == ["db-1"]
    assert (
        svc.describe_alarms_for_metric(namespace="AWS/RDS", metric_name="DatabaseConnections", dimensions=[])
        == []
    )
    svc.delete_alarms(["web-0", "web-1"])
    assert len(svc.describe_alarms(prefix="web-")[0]) == 3
    with pytest.raises(NotFound):
        svc.delete_alarms(["web-0"])


def test_evaluation_is_one_batched_query_and_transitions_notify(svc, topic, runtime):
    stats: SeriesStats = svc.stats
    svc.put_metric_alarm(cpu_alarm())
    svc.put_metric_alarm(
        cpu_alarm(
            name="utm-db-connections-high",
            metric_name="DatabaseConnections",
            namespace="AWS/RDS",
            evaluation_periods=2,
            dimensions=(Dimension("DBInstanceIdentifier", "utm-db"),),
        )
    )
    stats.add("CPUUtilization", "Average", T0, 300, 85, 90, 95)
    stats.add("DatabaseConnections", "Average", T0, 300, 10, 12, 11)
    report = svc.evaluate_due(T0 + 900 + 5)
    assert stats.calls == [2] and report.evaluated == 2 and report.transitions == 2
    cpu, db = svc.get("utm-high-cpu"), svc.get("utm-db-connections-high")
    assert cpu.state_value == "ALARM" and db.state_value == "OK"
    assert cpu.state_reason.startswith(
        "Threshold Crossed: 3 out of the last 3 datapoints [95.0 (25/11/24 10:10:00)"
    )
    # Both transitions publish to the topic (ALARM action of one, OK action of the other).
    deliveries = topic.deliveries(topic_arn=TOPIC)
    assert len(deliveries) == 2
    # Not due again until the next minute: nothing evaluated, nothing re-sent.
    assert svc.evaluate_due(T0 + 900 + 30).evaluated == 0
    again = svc.evaluate_due(T0 + 960 + 1)
    assert again.evaluated == 2 and again.transitions == 0 and len(topic.deliveries(topic_arn=TOPIC)) == 2
    items, _ = svc.describe_history(name="utm-high-cpu", item_type="Action")
    assert items[0].summary == f"Successfully executed action {TOPIC}"
    msg = json.loads(json.loads(items[0].data)["publishedMessage"])
    assert msg["NewStateValue"] == "ALARM" and msg["OldStateValue"] == "INSUFFICIENT_DATA"
    assert msg["Trigger"]["Statistic"] == "AVERAGE" and msg["Trigger"]["Threshold"] == 80.0
    assert msg["Region"] == "US East (N. Virginia)"


def test_set_alarm_state_lasts_until_the_next_evaluation(svc, topic):
    stats: SeriesStats = svc.stats
    svc.put_metric_alarm(cpu_alarm(evaluation_periods=1))
    stats.add("CPUUtilization", "Average", T0, 300, 10)
    svc.evaluate_due(T0 + 301)
    assert svc.get("utm-high-cpu").state_value == "OK"
    svc.set_alarm_state("utm-high-cpu", "ALARM", "Testing the alert path", json.dumps({"by": "runbook"}))
    a = svc.get("utm-high-cpu")
    assert a.state_value == "ALARM" and a.state_reason == "Testing the alert path" and a.state_override
    assert len(topic.deliveries(topic_arn=TOPIC)) == 2  # the first OK, then the ALARM
    svc.evaluate_due(T0 + 360 + 1)
    a = svc.get("utm-high-cpu")
    assert a.state_value == "OK" and not a.state_override
    assert len(topic.deliveries(topic_arn=TOPIC)) == 3  # and the OK the next evaluation brings
    with pytest.raises(Invalid):
        svc.set_alarm_state("utm-high-cpu", "ALARM", "x", "{not json")
    with pytest.raises(NotFound):
        svc.set_alarm_state("nope", "ALARM", "x")


def test_disabled_actions_and_missing_topic(svc, topic):
    svc.put_metric_alarm(cpu_alarm(alarm_actions=["arn:aws:sns:us-east-1:000000000000:nope"]))
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    items, _ = svc.describe_history(name="utm-high-cpu", item_type="Action")
    assert items[0].summary.startswith("Failed to execute action arn:aws:sns:us-east-1:000000000000:nope")
    svc.put_metric_alarm(cpu_alarm())
    svc.set_actions_enabled(["utm-high-cpu"], False)
    svc.set_alarm_state("utm-high-cpu", "OK", "x")
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    assert topic.deliveries(topic_arn=TOPIC) == []
    svc.set_actions_enabled(["utm-high-cpu"], True)
    svc.set_alarm_state("utm-high-cpu", "OK", "x")
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1


def test_mute_suppresses_actions_but_sends_the_ok_of_a_sent_alarm(svc, topic):
    svc.put_metric_alarm(cpu_alarm())
    svc.put_metric_alarm(cpu_alarm(name="other"))
    svc.set_alarm_state("utm-high-cpu", "ALARM", "before the window")  # sent
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1
    rule = svc.mute(["utm-high-cpu", "other"], duration="PT1H", reason="deploy")
    assert rule.status == "ACTIVE" and rule.mute_type == "ONE_TIME"
    assert svc.get("other").muted_by == [rule.name]
    svc.set_alarm_state("other", "ALARM", "during the window")  # state recorded, action suppressed
    assert svc.get("other").state_value == "ALARM"
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1
    items, _ = svc.describe_history(name="other", item_type="Action")
    assert items[0].summary.startswith(f"Suppressed action {TOPIC}: muted by {rule.name}")
    svc.set_alarm_state("other", "OK", "resolved in the window")  # its ALARM was never sent: no OK
    svc.set_alarm_state("utm-high-cpu", "OK", "resolved in the window")  # its ALARM was sent: OK goes out
    assert len(topic.deliveries(topic_arn=TOPIC)) == 2
    svc.clock = lambda: T0 + 7200
    assert svc.get_mute_rule(rule.name).status == "EXPIRED"
    svc.set_alarm_state("other", "ALARM", "after the window")
    assert len(topic.deliveries(topic_arn=TOPIC)) == 3


def test_renotify_until_acknowledged(svc, topic):
    # A composite alarm is not evaluated by data, so it stays in ALARM as long as its child does.
    svc.put_metric_alarm(cpu_alarm(alarm_actions=[], ok_actions=[]))
    svc.put_composite_alarm(composite("utm-critical", "ALARM(utm-high-cpu)", [TOPIC]))
    svc.set_renotify("utm-critical", 600)
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    assert svc.get("utm-critical").state_value == "ALARM"
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1
    report = TickReport()
    svc.tick.renotify(T0 + 300, report)
    assert report.notifications == 0
    svc.tick.renotify(T0 + 601, report)
    assert report.notifications == 1 and len(topic.deliveries(topic_arn=TOPIC)) == 2
    a = svc.acknowledge("utm-critical", "alice", "on it")
    assert a.acked_by == "alice"
    svc.tick.renotify(T0 + 5000, report)
    assert len(topic.deliveries(topic_arn=TOPIC)) == 2
    items, _ = svc.describe_history(name="utm-critical", item_type="Action")
    assert items[0].summary == "Acknowledged by alice: on it"
    svc.set_alarm_state("utm-high-cpu", "OK", "x")
    assert svc.get("utm-critical").acked_by is None
    with pytest.raises(Conflict):
        svc.acknowledge("utm-critical", "bob")


def test_composite_alarms(svc, topic):
    svc.put_metric_alarm(cpu_alarm(alarm_actions=[], ok_actions=[]))
    svc.put_metric_alarm(cpu_alarm(name="utm-db-connections-high", alarm_actions=[], ok_actions=[]))
    with pytest.raises(QueryError):
        svc.put_composite_alarm(composite("c", "ALARM(utm-high-cpu) AND"))
    with pytest.raises(Invalid, match="does not exist"):
        svc.put_composite_alarm(composite("c", "ALARM(ghost)"))
    svc.put_composite_alarm(
        composite("c", "ALARM(utm-high-cpu) AND NOT OK(utm-db-connections-high)", [TOPIC])
    )
    assert svc.get("c").state_value == "OK"  # ALARM(utm-high-cpu) is false while it has no data
    svc.set_alarm_state("utm-db-connections-high", "OK", "x")
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    assert svc.get("c").state_value == "OK"
    svc.set_alarm_state("utm-db-connections-high", "ALARM", "x")
    c = svc.get("c")
    assert c.state_value == "ALARM"
    assert json.loads(c.state_reason_data)["triggeringAlarms"][0]["arn"].endswith(":alarm:utm-high-cpu")
    with pytest.raises(Invalid, match="depend on itself"):
        svc.put_composite_alarm(composite("d", "ALARM(c)"))
        svc.put_composite_alarm(composite("c", "ALARM(d)"))
    with pytest.raises(Invalid, match="composite alarm"):
        svc.delete_alarms(["utm-high-cpu"])
    kids, _ = svc.describe_alarms(children_of="c")
    assert sorted(a.name for a in kids) == ["utm-db-connections-high", "utm-high-cpu"]
    comps, _ = svc.describe_alarms(types=["CompositeAlarm"])
    assert [a.name for a in comps] == ["c", "d"]


def test_backtest_replays_stored_data(svc):
    stats: SeriesStats = svc.stats
    svc.put_metric_alarm(cpu_alarm(evaluation_periods=2))
    stats.add("CPUUtilization", "Average", T0, 300, 50, 85, 90, 40, 95, 96, 10)
    out = svc.backtest("utm-high-cpu", T0, T0 + 7 * 300)
    assert [(t.old, t.new) for t in out] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
    ]
    assert stats.calls == [1]


def test_composite_actions_suppressor(svc, topic):
    svc.put_metric_alarm(cpu_alarm(alarm_actions=[], ok_actions=[]))
    svc.put_metric_alarm(cpu_alarm(name="maintenance", alarm_actions=[], ok_actions=[]))
    svc.put_composite_alarm(composite("c", "ALARM(utm-high-cpu)", [TOPIC], actions_suppressor="maintenance"))
    svc.set_alarm_state("maintenance", "ALARM", "deploying")
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    assert svc.get("c").state_value == "ALARM"
    assert topic.deliveries(topic_arn=TOPIC) == []
    items, _ = svc.describe_history(name="c", item_type="Action")
    assert "muted by ActionsSuppressor maintenance" in items[0].summary
    svc.set_alarm_state("maintenance", "OK", "done")
    svc.set_alarm_state("utm-high-cpu", "OK", "x")
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1


def test_a_failed_tick_writes_nothing_and_the_next_makes_the_transition_once(svc, topic, runtime):
    """The transition, its history and its outbox rows commit together or not at all."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    stats: SeriesStats = svc.stats
    svc.put_metric_alarm(cpu_alarm(evaluation_periods=1))
    stats.add("CPUUtilization", "Average", T0, 300, 99)
    # The outbox becomes unwritable mid-transaction (a store failure after the state update).
    with runtime.control.begin() as conn:
        conn.execute(text("ALTER TABLE notify_outbox RENAME TO notify_outbox_away"))
    with pytest.raises(OperationalError, match="notify_outbox"):
        svc.evaluate_due(T0 + 301)
    a = svc.get("utm-high-cpu")
    assert a.state_value == "INSUFFICIENT_DATA"
    assert svc.describe_history(name="utm-high-cpu", item_type="StateUpdate")[0] == []
    with runtime.control.begin() as conn:
        conn.execute(text("ALTER TABLE notify_outbox_away RENAME TO notify_outbox"))
    svc.evaluate_due(T0 + 302)
    svc.evaluate_due(T0 + 361)
    assert svc.get("utm-high-cpu").state_value == "ALARM"
    assert len(svc.describe_history(name="utm-high-cpu", item_type="StateUpdate")[0]) == 1
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1


@pytest.mark.postgres
def test_on_postgresql(tmp_path, chdb_engine, pg_url):
    """The same evaluation, history and composite path on the PostgreSQL control store."""
    from rexwatch.testing import make_runtime

    rt = make_runtime(tmp_path / "pg", chdb_engine, control_url=pg_url, workers="none")
    try:
        svc = rt.service(AlarmsService)
        svc.stats = stats = SeriesStats()
        svc.clock = lambda: T0
        notify = rt.service(NotifyService)
        arn = notify.create_topic("utm-alerts")
        notify.subscribe(arn, "https", "https://127.0.0.1:9/hook", {"SkipConfirmation": "true"})
        svc.put_metric_alarm(cpu_alarm(evaluation_periods=2))
        svc.put_composite_alarm(composite("c", "ALARM(utm-high-cpu)", [TOPIC]))
        stats.add("CPUUtilization", "Average", T0, 300, 90, 95)
        report = svc.evaluate_due(T0 + 601)
        assert report.transitions == 1
        assert svc.get("utm-high-cpu").state_value == "ALARM" and svc.get("c").state_value == "ALARM"
        assert len(notify.deliveries(topic_arn=TOPIC)) == 2  # the metric alarm's and the composite's
        svc.mute(["utm-high-cpu"], duration="PT1H")
        assert svc.describe_alarms(state="ALARM")[0][0].muted_by
        items, token = svc.describe_history(name="utm-high-cpu", max_records=2)
        more, _ = svc.describe_history(name="utm-high-cpu", max_records=2, next_token=token)
        assert len(items) == 2 and more and more[0].timestamp <= items[-1].timestamp
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()


def test_history_is_kept_thirty_days(svc):
    svc.put_metric_alarm(cpu_alarm())
    svc.set_alarm_state("utm-high-cpu", "ALARM", "x")
    assert svc.prune_history(T0 + 29 * 86400) == 0
    assert svc.prune_history(T0 + 31 * 86400) >= 2
    assert svc.describe_history(name="utm-high-cpu")[0] == []


def test_one_evaluator_holds_the_lease(runtime):
    from rexwatch.stores.control import leases as lease

    eng = runtime.control
    assert lease.acquire(eng, "alarms-evaluator", "node-a", ttl=30, now=T0)
    assert not lease.acquire(eng, "alarms-evaluator", "node-b", ttl=30, now=T0 + 10)
    assert lease.acquire(eng, "alarms-evaluator", "node-a", ttl=30, now=T0 + 20)  # renewal
    assert lease.acquire(eng, "alarms-evaluator", "node-b", ttl=30, now=T0 + 51)  # a's lease expired
    lease.release(eng, "alarms-evaluator", "node-b")
    assert lease.acquire(eng, "alarms-evaluator", "node-a", ttl=30, now=T0 + 52)


def test_a_refused_series_does_not_stop_the_other_alarms(svc):
    stats: SeriesStats = svc.stats
    for i in range(5):
        svc.put_metric_alarm(cpu_alarm(name=f"ok-{i}", evaluation_periods=1, metric_name=f"M{i}"))
        stats.add(f"M{i}", "Average", T0, 300, 99)
    svc.put_metric_alarm(
        cpu_alarm(name="refused", evaluation_periods=1, metric_name="Refused", treat_missing_data="breaching")
    )
    report = svc.evaluate_due(T0 + 301)
    assert report.transitions == 5
    assert svc.get("refused").state_value == "INSUFFICIENT_DATA"  # kept, not judged on missing data
    assert all(svc.get(f"ok-{i}").state_value == "ALARM" for i in range(5))


def test_an_alarm_held_by_a_mute_is_sent_when_the_mute_ends(svc, topic):
    svc.put_metric_alarm(cpu_alarm(ok_actions=[]))
    rule = svc.mute(["utm-high-cpu"], duration="PT1H")
    svc.set_alarm_state("utm-high-cpu", "ALARM", "during the window")
    assert topic.deliveries(topic_arn=TOPIC) == [] and svc.get("utm-high-cpu").held_by_mute
    report = TickReport()
    svc.tick.release_held(T0 + 1800, report)  # still muted
    assert report.notifications == 0
    svc.tick.release_held(T0 + 3601, report)  # the window is over and the alarm still fires
    assert report.notifications == 1 and len(topic.deliveries(topic_arn=TOPIC)) == 1
    svc.tick.release_held(T0 + 3700, report)
    assert len(topic.deliveries(topic_arn=TOPIC)) == 1
    a = svc.get("utm-high-cpu")
    assert a.alarm_notified and not a.held_by_mute
    items, _ = svc.describe_history(name="utm-high-cpu", item_type="Action")
    assert items[0].summary.endswith("(held by a mute rule until it ended)")
    assert items[1].summary.startswith(f"Suppressed action {TOPIC}: muted by {rule.name}")
