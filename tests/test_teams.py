"""Teams: two teams on one server see neither each other's log groups and events nor their alarms,
through every door (REST, the AWS protocols with boto3, the console), and admins see all."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from helpers import run_cli
from rexwatch.api.app import create_app
from rexwatch.errors import Forbidden, Invalid
from rexwatch.services import access
from rexwatch.services.access import Principal
from rexwatch.services.teams import TeamService
from rexwatch.services.users import UserService

PASSWORD = "correct horse battery"
RED, BLUE, SHARED = "/red/app", "/blue/app", "/shared/app"


@pytest.fixture
def secured(runtime):
    runtime.settings.auth = "on"
    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def org(runtime):
    """Admin ann; alice (editor) in team red, bob (editor) in team blue, each with a bearer key and an
    AWS key of their own (keys inherit their user's teams); an unowned group everyone sees."""
    users = runtime.service(UserService)
    teams = runtime.service(TeamService)
    out = {}
    for name, role in (("ann", "admin"), ("alice", "editor"), ("bob", "editor")):
        user = users.create(name, PASSWORD, role)
        out[name] = {
            "id": user.id,
            "bearer": {"Authorization": "Bearer " + runtime.keys.create(f"{name}-key", role=role,
                                                                        user_id=user.id).token},
            "aws": runtime.keys.create(f"{name}-aws", role=role, aws=True, user_id=user.id),
        }
    teams.create("red")
    teams.create("blue")
    teams.add_member("red", "alice")
    teams.add_member("blue", "bob")
    return out


def _seed_rest(client: TestClient, org) -> None:
    """Each editor creates its group (owned by its only team) and writes an event; ann makes the
    shared one. Then each creates a metric alarm."""
    for who, group in (("alice", RED), ("bob", BLUE), ("ann", SHARED)):
        h = org[who]["bearer"]
        assert client.post("/api/v1/logs/groups", json={"name": group}, headers=h).status_code == 201
        assert client.post("/api/v1/logs/streams", json={"group": group, "name": "s"}, headers=h).status_code == 201
        r = client.post("/api/v1/logs/events", headers=h, json={
            "group": group, "stream": "s",
            "events": [{"timestamp": int(time.time() * 1000), "message": f"secret of {who}"}]})
        assert r.status_code == 200, r.text
    for who, alarm in (("alice", "red-cpu"), ("bob", "blue-cpu"), ("ann", "shared-cpu")):
        r = client.put(f"/api/v1/alarms/{alarm}", headers=org[who]["bearer"], json={
            "Namespace": "App", "MetricName": "cpu", "Statistic": "Average", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 90, "ComparisonOperator": "GreaterThanThreshold"})
        assert r.status_code == 200, r.text


def _groups(client, headers) -> set[str]:
    r = client.get("/api/v1/logs/groups", headers=headers)
    assert r.status_code == 200, r.text
    return {g["logGroupName"] for g in r.json()["groups"]}


def _alarms(client, headers) -> set[str]:
    r = client.get("/api/v1/alarms", headers=headers)
    assert r.status_code == 200, r.text
    return {a["name"] for a in r.json()["alarms"]}


def test_access_rules_for_teams():
    red, blue = 1, 2
    alice = Principal("user", "alice", "editor", user_id=1, teams=frozenset({red}))
    admin = Principal("user", "ann", "admin", user_id=2)
    assert access.may_see(None, alice) and access.may_see(red, alice) and not access.may_see(blue, alice)
    assert access.may_see(blue, admin) and access.may_see(blue, None)  # admins, and no caller (auth off)
    assert access.visible_teams(alice) == frozenset({red}) and access.visible_teams(admin) is None
    assert not access.may_see_all([red, blue], alice) and access.may_see_all([red, None], alice)
    # What a new resource belongs to.
    assert access.team_for_new(None, principal=alice) == red
    assert access.team_for_new(None, principal=admin) is None
    with pytest.raises(Forbidden, match="not a member of team 'blue'"):
        access.team_for_new(blue, "blue", principal=alice)
    both = Principal("user", "carol", "editor", user_id=3, teams=frozenset({red, blue}))
    with pytest.raises(Invalid, match="several teams"):
        access.team_for_new(None, principal=both)
    # The bound caller is what services see, and it is unbound after the request.
    with access.acting_as(alice):
        assert not access.may_see(blue)
    assert access.may_see(blue)


def test_rest_two_teams_see_only_their_groups_events_and_alarms(runtime, secured, org):
    _seed_rest(secured, org)
    alice, bob, ann = org["alice"]["bearer"], org["bob"]["bearer"], org["ann"]["bearer"]
    assert _groups(secured, alice) == {RED, SHARED}
    assert _groups(secured, bob) == {BLUE, SHARED}
    # Admins see every group, the audit trail too (which nobody else sees, through any door).
    assert _groups(secured, ann) == {RED, BLUE, SHARED, "/rexwatch/audit"}
    r = secured.post("/api/v1/logs/filter", json={"groups": ["/rexwatch/audit"]}, headers=alice)
    assert r.status_code == 404
    # Events: the other team's group does not exist for the caller, whatever the route.
    r = secured.post("/api/v1/logs/filter", json={"groups": [BLUE]}, headers=alice)
    assert r.status_code == 404 and "does not exist: /blue/app" in r.text
    r = secured.post("/api/v1/logs/filter", json={"groups": [RED]}, headers=alice)
    assert [e["message"] for e in r.json()["events"]] == ["secret of alice"]
    # A prefix covering both teams reads only the caller's.
    r = secured.post("/api/v1/logs/filter", json={"group_prefix": "/"}, headers=bob)
    assert {e["message"] for e in r.json()["events"]} == {"secret of bob", "secret of ann"}
    assert secured.get("/api/v1/logs/events", params={"group": BLUE, "stream": "s"}, headers=alice).status_code == 404
    assert secured.get("/api/v1/logs/streams", params={"group": BLUE}, headers=alice).status_code == 404
    # Writing into, changing or deleting another team's group fails the same way.
    r = secured.post("/api/v1/logs/events", headers=alice, json={
        "group": BLUE, "stream": "s", "events": [{"timestamp": int(time.time() * 1000), "message": "x"}]})
    assert r.status_code == 404
    assert secured.put("/api/v1/logs/retention", json={"group": BLUE, "days": 1}, headers=ann).status_code == 200
    # Insights over groups.
    r = secured.post("/api/v1/insights/queries", headers=alice,
                     json={"query": "fields @message", "groups": [RED, BLUE]})
    assert r.status_code == 404 and "/blue/app" in r.text, r.text
    r = secured.post("/api/v1/insights/queries", headers=bob,
                     json={"query": "fields @message", "groups": [BLUE]})
    assert r.status_code == 201, r.text
    qid = r.json()["query_id"]
    assert secured.get(f"/api/v1/insights/queries/{qid}", headers=alice).status_code == 404
    assert qid not in json.dumps(secured.get("/api/v1/insights/queries", headers=alice).json())
    assert secured.get(f"/api/v1/insights/queries/{qid}", headers=bob).status_code == 200
    # Alarms.
    assert _alarms(secured, alice) == {"red-cpu", "shared-cpu"}
    assert _alarms(secured, bob) == {"blue-cpu", "shared-cpu"}
    assert _alarms(secured, ann) == {"red-cpu", "blue-cpu", "shared-cpu"}
    assert secured.get("/api/v1/alarms/blue-cpu", headers=alice).status_code == 404
    assert secured.delete("/api/v1/alarms/blue-cpu", headers=alice).status_code == 404
    assert secured.post("/api/v1/alarms/blue-cpu/ack", json={"by": "alice"}, headers=alice).status_code == 404
    r = secured.put("/api/v1/alarms/blue-cpu", headers=alice, json={
        "Namespace": "App", "MetricName": "mem", "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"})
    assert r.status_code == 409 and "another team" in r.text
    assert runtime.service(TeamService).get("blue").alarms == 1  # untouched
    # Alarm history lists only the caller's alarms.
    r = secured.get("/api/v1/alarms/blue-cpu/history", headers=alice)
    assert r.status_code in (200, 404) and "blue-cpu" not in r.text.replace("/alarms/blue-cpu", "")


def test_log_alarms_may_read_only_the_callers_groups(runtime, secured, org):
    _seed_rest(secured, org)
    body = {"LogGroupNames": [BLUE], "QueryString": "stats count() as n", "EvaluationInterval": "5m",
            "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}
    # The evaluator runs a log alarm's query for its owner: another team's group is not there.
    r = secured.put("/api/v1/log-alarms/peek", json=body, headers=org["alice"]["bearer"])
    assert r.status_code == 404 and "/blue/app" in r.text, r.text
    # Nor the audit trail, which is the admins' alone.
    r = secured.put("/api/v1/log-alarms/peek", json={**body, "LogGroupNames": ["/rexwatch/audit"]},
                    headers=org["alice"]["bearer"])
    assert r.status_code == 404 and "/rexwatch/audit" in r.text, r.text
    r = secured.put("/api/v1/log-alarms/blue-errors", json=body, headers=org["bob"]["bearer"])
    assert r.status_code == 200, r.text
    listed = secured.get("/api/v1/log-alarms", headers=org["alice"]["bearer"]).json()
    assert "blue-errors" not in json.dumps(listed)
    assert secured.get("/api/v1/log-alarms/blue-errors", headers=org["alice"]["bearer"]).status_code == 404
    assert "blue-errors" in json.dumps(secured.get("/api/v1/log-alarms", headers=org["bob"]["bearer"]).json())


def test_boto3_two_teams_logs_insights_and_alarms(runtime, live, org):
    runtime.settings.auth = "on"

    def clients(who):
        k = org[who]["aws"]
        kw = {"aws_access_key_id": k.access_key_id, "aws_secret_access_key": k.secret_access_key}
        return live.boto3_client("logs", **kw), live.boto3_client("cloudwatch", **kw)

    (alice_logs, alice_cw), (bob_logs, bob_cw), (ann_logs, ann_cw) = clients("alice"), clients("bob"), clients("ann")
    now = int(time.time() * 1000)
    for logs, group, who in ((alice_logs, RED, "alice"), (bob_logs, BLUE, "bob")):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now, "message": f"secret of {who}"}])
    ann_logs.create_log_group(logGroupName=SHARED)
    assert {g["logGroupName"] for g in alice_logs.describe_log_groups()["logGroups"]} == {RED, SHARED}
    assert {g["logGroupName"] for g in bob_logs.describe_log_groups(logGroupNamePrefix="/")["logGroups"]} \
        == {BLUE, SHARED}
    assert len(ann_logs.describe_log_groups()["logGroups"]) == 3
    for call in (lambda: alice_logs.filter_log_events(logGroupName=BLUE),
                 lambda: alice_logs.get_log_events(logGroupName=BLUE, logStreamName="s"),
                 lambda: alice_logs.describe_log_streams(logGroupName=BLUE),
                 lambda: alice_logs.put_log_events(logGroupName=BLUE, logStreamName="s",
                                                   logEvents=[{"timestamp": now, "message": "x"}]),
                 lambda: alice_logs.start_query(logGroupNames=[RED, BLUE], startTime=0, endTime=now // 1000 + 60,
                                                queryString="fields @message"),
                 lambda: alice_logs.put_metric_filter(logGroupName=BLUE, filterName="f", filterPattern="",
                                                      metricTransformations=[{"metricName": "m",
                                                                              "metricNamespace": "n",
                                                                              "metricValue": "1"}])):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException", e.value.response
        assert BLUE in e.value.response["Error"]["Message"]
    # The CLI with alice's key: the same view.
    key = org["alice"]["bearer"]["Authorization"].removeprefix("Bearer ")
    r = run_cli("--endpoint", live.url, "--api-key", key, "logs", "describe-log-groups")
    assert r.returncode == 0, r.stderr
    assert {g["logGroupName"] for g in json.loads(r.stdout)["logGroups"]} == {RED, SHARED}
    r = run_cli("--endpoint", live.url, "--api-key", key, "logs", "filter-log-events", "--log-group-name", BLUE)
    assert r.returncode != 0 and "does not exist" in r.stderr
    events = alice_logs.filter_log_events(logGroupName=RED)["events"]
    assert [e["message"] for e in events] == ["secret of alice"]
    qid = bob_logs.start_query(logGroupName=BLUE, startTime=0, endTime=now // 1000 + 60,
                               queryString="fields @message")["queryId"]
    with pytest.raises(ClientError) as e:
        alice_logs.get_query_results(queryId=qid)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert qid not in {q["queryId"] for q in alice_logs.describe_queries()["queries"]}

    # Alarms: PutMetricAlarm owned by the caller's team, invisible to the other.
    spec = {"Namespace": "App", "MetricName": "cpu", "Statistic": "Average", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 90, "ComparisonOperator": "GreaterThanThreshold"}
    alice_cw.put_metric_alarm(AlarmName="red-cpu", **spec)
    bob_cw.put_metric_alarm(AlarmName="blue-cpu", **spec)
    ann_cw.put_metric_alarm(AlarmName="shared-cpu", **spec)
    names = lambda cw: {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]}  # noqa: E731
    assert names(alice_cw) == {"red-cpu", "shared-cpu"}
    assert names(bob_cw) == {"blue-cpu", "shared-cpu"}
    assert names(ann_cw) == {"red-cpu", "blue-cpu", "shared-cpu"}
    assert {a["AlarmName"] for a in alice_cw.describe_alarms_for_metric(Namespace="App", MetricName="cpu")
            ["MetricAlarms"]} == {"red-cpu", "shared-cpu"}
    assert alice_cw.describe_alarms(AlarmNames=["blue-cpu"])["MetricAlarms"] == []
    with pytest.raises(ClientError) as e:
        alice_cw.delete_alarms(AlarmNames=["blue-cpu"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        alice_cw.set_alarm_state(AlarmName="blue-cpu", StateValue="ALARM", StateReason="x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    history = alice_cw.describe_alarm_history()["AlarmHistoryItems"]
    assert {h["AlarmName"] for h in history} == {"red-cpu", "shared-cpu"}
    with pytest.raises(ClientError):
        alice_cw.put_composite_alarm(AlarmName="peek", AlarmRule='ALARM("blue-cpu")')
    # The team is not a tag to flip afterwards.
    red_arn = alice_cw.describe_alarms(AlarmNames=["red-cpu"])["MetricAlarms"][0]["AlarmArn"]
    with pytest.raises(ClientError) as e:
        alice_cw.tag_resource(ResourceARN=red_arn, Tags=[{"Key": "rexwatch:team", "Value": "blue"}])
    assert "rexwatch teams assign" in e.value.response["Error"]["Message"]
    # Naming one's own team at creation works; naming another's is refused.
    alice_cw.put_metric_alarm(AlarmName="red-mem", Tags=[{"Key": "rexwatch:team", "Value": "red"}], **spec)
    with pytest.raises(ClientError) as e:
        alice_cw.put_metric_alarm(AlarmName="sneaky", Tags=[{"Key": "rexwatch:team", "Value": "blue"}], **spec)
    assert "not a member of team 'blue'" in e.value.response["Error"]["Message"]
    assert "red-mem" in names(alice_cw) and "red-mem" not in names(bob_cw)
    assert alice_cw.list_tags_for_resource(ResourceARN=red_arn)["Tags"] == []
    assert "blue-cpu" in names(bob_cw)


def test_console_shows_each_team_its_own(runtime, secured, org):
    _seed_rest(secured, org)
    browser = TestClient(secured.app, raise_server_exceptions=False)
    page = browser.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = browser.post("/login", data={"csrf": token, "username": "alice", "password": PASSWORD, "next": "/"},
                     follow_redirects=False)
    assert r.status_code == 303, r.text
    logs = browser.get("/logs")
    assert logs.status_code == 200 and RED in logs.text and SHARED in logs.text and BLUE not in logs.text
    assert browser.get("/logs/group", params={"name": BLUE}).status_code == 404
    own = browser.get("/logs/group", params={"name": RED, "since": "1h"})
    assert own.status_code == 200 and "secret of alice" in own.text
    alarms = browser.get("/alarms")
    assert alarms.status_code == 200 and "red-cpu" in alarms.text and "blue-cpu" not in alarms.text
    assert browser.get("/alarms/blue-cpu").status_code == 404
    assert BLUE not in browser.get("/insights").text


def test_membership_and_ownership_changes_apply_at_once(runtime, secured, org):
    _seed_rest(secured, org)
    alice, ann = org["alice"]["bearer"], org["ann"]["bearer"]
    # Admin moves blue's group to red: alice sees it at once, bob no longer does.
    r = secured.put("/api/v1/teams/assignments", json={"kind": "log_group", "name": BLUE, "team": "red"},
                    headers=ann)
    assert r.status_code == 200, r.text
    assert BLUE in _groups(secured, alice) and BLUE not in _groups(secured, org["bob"]["bearer"])
    # Alice joins blue as well: she sees blue's alarm; creating without naming a team is refused.
    assert secured.put("/api/v1/teams/blue/members/alice", headers=ann).status_code == 200
    assert "blue-cpu" in _alarms(secured, alice)
    r = secured.post("/api/v1/logs/groups", json={"name": "/which"}, headers=alice)
    assert r.status_code == 400 and "rexwatch:team" in r.text
    r = secured.post("/api/v1/logs/groups", json={"name": "/which", "tags": {"rexwatch:team": "blue"}}, headers=alice)
    assert r.status_code == 201, r.text
    assert "/which" in _groups(secured, org["bob"]["bearer"])
    # Naming a team one is not in is refused.
    r = secured.post("/api/v1/logs/groups", json={"name": "/bobs", "tags": {"rexwatch:team": "red"}},
                     headers=org["bob"]["bearer"])
    assert r.status_code == 403 and "not a member of team 'red'" in r.text
    # Out of both teams: only unowned resources are left.
    assert secured.delete("/api/v1/teams/blue/members/alice", headers=ann).status_code == 200
    assert secured.delete("/api/v1/teams/red/members/alice", headers=ann).status_code == 200
    assert _groups(secured, alice) == {SHARED}
    # Deleting a team leaves what it owned to everyone.
    listed = {t["name"]: t for t in secured.get("/api/v1/teams", headers=ann).json()["teams"]}
    assert listed["blue"]["members"] == ["bob"] and listed["blue"]["log_groups"] == 1
    assert secured.delete("/api/v1/teams/blue", headers=ann).status_code == 200
    assert "/which" in _groups(secured, alice)
    # Teams are for admins only.
    assert secured.get("/api/v1/teams", headers=alice).status_code == 403


def test_service_account_keys_see_only_unowned(runtime, secured, org):
    _seed_rest(secured, org)
    agent = {"Authorization": "Bearer " + runtime.keys.create("grafana", role="viewer", scope="read").token}
    assert _groups(secured, agent) == {SHARED}
    assert _alarms(secured, agent) == {"shared-cpu"}


def test_teams_cli(tmp_path):
    d = str(tmp_path / "data")
    assert run_cli("users", "create", "ann", "--admin", "--password-stdin", "--data-dir", d,
                   input=PASSWORD + "\n").returncode == 0
    r = run_cli("--output", "json", "teams", "create", "red", "--data-dir", d)
    assert r.returncode == 0 and json.loads(r.stdout)["name"] == "red", r.stderr
    r = run_cli("teams", "create", "red", "--data-dir", d)
    assert r.returncode == 1 and "exists" in r.stderr
    r = run_cli("teams", "add-member", "red", "ann", "--data-dir", d)
    assert r.returncode == 0 and "now a member" in r.stdout
    r = run_cli("teams", "add-member", "red", "nobody", "--data-dir", d)
    assert r.returncode == 1 and "no user named 'nobody'" in r.stderr
    r = run_cli("teams", "assign", "--log-group", "/none", "--team", "red", "--data-dir", d)
    assert r.returncode == 1 and "no log group named '/none'" in r.stderr
    listed = json.loads(run_cli("--output", "json", "teams", "list", "--data-dir", d).stdout)
    assert [(t["name"], t["members"]) for t in listed] == [("red", ["ann"])]
    assert run_cli("teams", "remove-member", "red", "ann", "--data-dir", d).returncode == 0
    r = run_cli("teams", "delete", "red", "--data-dir", d)
    assert r.returncode == 0 and "Deleted team red" in r.stdout


def test_otlp_logs_land_in_the_senders_team(runtime, secured, org):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    def send(who: str, text: str):
        req = ExportLogsServiceRequest(resource_logs=[ResourceLogs(
            resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="checkout"))]),
            scope_logs=[ScopeLogs(log_records=[LogRecord(time_unix_nano=time.time_ns(),
                                                         body=AnyValue(string_value=text))])])])
        r = secured.post("/v1/logs", content=req.SerializeToString(),
                         headers={**org[who]["bearer"], "content-type": "application/x-protobuf"})
        assert r.status_code == 200, r.text
        return ExportLogsServiceResponse.FromString(r.content)

    assert send("alice", "paid").partial_success.rejected_log_records == 0
    assert "/otel/checkout" in _groups(secured, org["alice"]["bearer"])
    assert "/otel/checkout" not in _groups(secured, org["bob"]["bearer"])
    # Another team's agent cannot write into it (nor learn more than that it may not).
    refused = send("bob", "injected")
    assert refused.partial_success.rejected_log_records == 1
    assert "does not exist" in refused.partial_success.error_message
    r = secured.post("/api/v1/logs/filter", json={"groups": ["/otel/checkout"]}, headers=org["alice"]["bearer"])
    assert [json.loads(e["message"])["body"] for e in r.json()["events"]] == ["paid"]


@pytest.mark.postgres
def test_team_filters_on_postgresql(tmp_path, chdb_engine, pg_url):
    """The same ownership and filters on the PostgreSQL control store, at the services."""
    from rexwatch.errors import NotFound
    from rexwatch.services.alarms import AlarmsService
    from rexwatch.services.alarms.model import AlarmDefinition
    from rexwatch.services.logs import LogsService
    from rexwatch.testing import make_runtime

    rt = make_runtime(tmp_path / "pg", chdb_engine, control_url=pg_url, workers="none")
    try:
        users, teams = rt.service(UserService), rt.service(TeamService)
        logs, alarms = rt.service(LogsService), rt.service(AlarmsService)
        for name in ("alice", "bob"):
            users.create(name, PASSWORD, "editor")
        teams.create("red")
        teams.create("blue")
        teams.add_member("red", "alice")
        teams.add_member("blue", "bob")
        alice, bob = (teams.with_teams(users.principal(n)) for n in ("alice", "bob"))
        spec = dict(namespace="App", metric_name="cpu", statistic="Average", period=60, evaluation_periods=1,
                    threshold=1.0, comparison_operator="GreaterThanThreshold")
        for p, group, alarm in ((alice, RED, "red-cpu"), (bob, BLUE, "blue-cpu"), (None, SHARED, "shared")):
            with access.acting_as(p):
                logs.create_log_group(group)
                alarms.put_metric_alarm(AlarmDefinition(name=alarm, **spec))
        with access.acting_as(alice):
            assert {g.name for g in logs.describe_log_groups()[0]} == {RED, SHARED}
            assert {a.name for a in alarms.describe_alarms()[0]} == {"red-cpu", "shared"}
            assert alarms.counts() == {"INSUFFICIENT_DATA": 2}
            with pytest.raises(NotFound):
                logs.describe_log_group(BLUE)
            assert [h.alarm_name for h in alarms.describe_history()[0]] == ["shared", "red-cpu"]
        listed = {t.name: (t.members, t.log_groups, t.alarms) for t in teams.list()}
        assert listed == {"blue": (["bob"], 1, 1), "red": (["alice"], 1, 1)}
        teams.delete("red")
        with access.acting_as(bob):
            assert {g.name for g in logs.describe_log_groups()[0]} == {RED, BLUE, SHARED}
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()
