"""Logs Insights query lifecycle through boto3 (StartQuery ... GetQueryResults) and saved queries."""

from __future__ import annotations

import json
import re
import time

import botocore.exceptions
import pytest

from rexwatch.services.insights import QueriesService
from rexwatch.testing import wait_until

API = "/aws/ecs/utm-api"
WORKER = "/aws/ecs/utm-worker"


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response["Error"]["Code"]


@pytest.fixture
def logs(live):
    client = live.boto3_client("logs")
    now = int(time.time() * 1000) - 10 * 60_000
    for group, stream in ((API, "api-1"), (WORKER, "worker-1")):
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    api = []
    for i in range(40):
        doc = {"level": "ERROR" if i % 10 == 0 else "INFO", "method": "GET" if i % 2 else "POST",
               "path": ["/api/tenants", "/api/users", "/api/invitations"][i % 3], "duration": i * 50,
               "user_id": f"u{i % 4}", "ip_address": f"10.0.0.{i % 4}"}
        if i % 5 == 0:
            doc.update(action="login", success=i % 10 != 0)
        api.append({"timestamp": now + i * 1000, "message": json.dumps(doc)})
    client.put_log_events(logGroupName=API, logStreamName="api-1", logEvents=api)
    client.put_log_events(logGroupName=WORKER, logStreamName="worker-1", logEvents=[
        {"timestamp": now + i * 1000, "message": f"ERROR job {i} failed" if i % 2 else f"INFO job {i} done"}
        for i in range(10)])
    return client


def run(logs, query: str, groups=(API,), **kw) -> dict:
    now = int(time.time())
    qid = logs.start_query(logGroupNames=list(groups), startTime=now - 3600, endTime=now + 60, queryString=query,
                           **kw)["queryId"]
    deadline = time.monotonic() + 60  # a deadline for a loaded machine, not a speed goal
    while True:
        res = logs.get_query_results(queryId=qid)
        if res["status"] not in ("Scheduled", "Running") or time.monotonic() > deadline:
            return res
        time.sleep(0.05)


def rows(res: dict) -> list[dict[str, str]]:
    return [{f["field"]: f["value"] for f in row} for row in res["results"]]


def test_runbook_queries_through_boto3(logs) -> None:
    res = run(logs, "fields @timestamp, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n"
                    "| limit 100", groups=(API, WORKER))
    assert res["status"] == "Complete"
    got = rows(res)
    assert len(got) == 4 + 5
    assert all("ERROR" in r["@message"] for r in got)
    stamps = [r["@timestamp"] for r in got]
    assert stamps == sorted(stamps, reverse=True)
    assert len(stamps[0]) == len("2026-01-01 00:00:00.000")
    assert res["statistics"]["recordsScanned"] == 50
    assert res["statistics"]["recordsMatched"] == 9
    assert res["statistics"]["bytesScanned"] > 1000

    slow = rows(run(logs, "fields @timestamp, method, path, duration\n| filter duration > 1000\n"
                          "| sort duration desc\n| limit 50"))
    assert [r["duration"] for r in slow] == [str(d) for d in range(1950, 1000, -50)]
    assert set(slow[0]) == {"@timestamp", "method", "path", "duration"}
    top = run(logs, "filter duration > 1000 | sort duration desc | limit 5")
    assert len(top["results"]) == 5
    assert top["statistics"]["recordsMatched"] == 19  # every match counts, not only the 5 shown

    failed_res = run(logs, 'fields @timestamp, user_id, ip_address\n| filter action = "login" and success = false\n'
                           "| stats count() by user_id, ip_address")
    assert failed_res["statistics"]["recordsMatched"] == 4
    assert failed_res["statistics"]["recordsScanned"] == 40
    failed = rows(failed_res)
    assert failed == [{"user_id": "u0", "ip_address": "10.0.0.0", "count()": "2"},
                      {"user_id": "u2", "ip_address": "10.0.0.2", "count()": "2"}]

    volume = run(logs, "fields @timestamp, path\n| stats count() by path\n| sort count desc")
    assert {r["path"]: r["count()"] for r in rows(volume)} == {
        "/api/tenants": "14", "/api/users": "13", "/api/invitations": "13"}
    assert rows(volume)[0] == {"path": "/api/tenants", "count()": "14"}
    assert volume["statistics"]["recordsMatched"] == 40

    # filters after stats: the events matched are counted by a separate pass over the event filters
    counted = run(logs, "filter duration > 1000 | stats count() as n by path | filter n > 6")
    assert rows(counted) == [{"path": "/api/tenants", "n": "7"}]
    assert counted["statistics"]["recordsMatched"] == 19
    assert counted["statistics"]["bytesScanned"] == volume["statistics"]["bytesScanned"]


def test_limit_identifiers_and_log_field(logs) -> None:
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{WORKER}:*"
    now = int(time.time())
    qid = logs.start_query(logGroupIdentifiers=[arn], startTime=now - 3600, endTime=now + 60,
                           queryString="fields @log, @logStream", limit=3)["queryId"]
    res = wait_until(lambda: (r := logs.get_query_results(queryId=qid))["status"] == "Complete" and r, 60,
                     what="the query to complete")
    assert rows(res) == [{"@log": f"000000000000:{WORKER}", "@logStream": "worker-1"}] * 3
    listed = logs.describe_queries(logGroupName=WORKER)["queries"]
    assert [q["queryId"] for q in listed] == [qid]
    assert listed[0]["status"] == "Complete" and listed[0]["queryString"] == "fields @log, @logStream"
    assert logs.stop_query(queryId=qid)["success"] is False


def test_start_query_errors(logs) -> None:
    now = int(time.time())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.start_query(logGroupName=API, startTime=now - 60, endTime=now, queryString="fields a | sort")
    assert _code(e.value) == "MalformedQueryException"
    assert "expected a field to sort by" in str(e.value)
    # The position travels as AWS sends it: queryCompileError.location, offsets into the query.
    query = "fields a | filter b = 'x' and c in ['y'] | stats count() by  ~"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.start_query(logGroupName=API, startTime=now - 60, endTime=now, queryString=query)
    compile_error = e.value.response["queryCompileError"]
    loc = compile_error["location"]
    assert query[loc["startCharOffset"] : loc["endCharOffset"]] == "~"
    assert "unexpected character '~'" in compile_error["message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.start_query(logGroupName="/nope", startTime=now - 60, endTime=now, queryString="fields a")
    assert _code(e.value) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.start_query(logGroupNames=[f"/g{i}" for i in range(51)], startTime=now - 60, endTime=now,
                         queryString="fields a")
    assert _code(e.value) == "InvalidParameterException" and "at most 50" in str(e.value)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.start_query(logGroupName=API, startTime=now, endTime=now - 60, queryString="fields a")
    assert _code(e.value) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.get_query_results(queryId="0" * 32)
    assert _code(e.value) == "ResourceNotFoundException"


def test_timeout_and_stop(live, logs) -> None:
    svc = live.runtime.service(QueriesService)
    svc.timeout_s = 0.000001
    res = run(logs, "stats count() by path")
    assert res["status"] == "Timeout"
    svc.timeout_s = 60.0
    # A query stopped while queued never runs.
    qids = []
    now = int(time.time())
    for _ in range(6):
        qids.append(logs.start_query(logGroupName=API, startTime=now - 3600, endTime=now + 60,
                                     queryString="stats count() by path, user_id, bin(1s)")["queryId"])
    stopped = logs.stop_query(queryId=qids[-1])["success"]
    final = svc.wait(qids[-1])
    assert final.status == ("Cancelled" if stopped else "Complete")
    for qid in qids[:-1]:
        assert svc.wait(qid).status == "Complete"


def test_query_definitions(logs) -> None:
    qid = logs.put_query_definition(name="errors/api", queryString="filter level = 'ERROR'",
                                    logGroupNames=[API])["queryDefinitionId"]
    other = logs.put_query_definition(name="slow", queryString="filter duration > 1000")["queryDefinitionId"]
    defs = logs.describe_query_definitions()["queryDefinitions"]
    assert [(d["name"], d["logGroupNames"]) for d in defs] == [("errors/api", [API]), ("slow", [])]
    assert logs.describe_query_definitions(queryDefinitionNamePrefix="err")["queryDefinitions"][0][
        "queryDefinitionId"] == qid
    page = logs.describe_query_definitions(maxResults=1)
    assert len(page["queryDefinitions"]) == 1 and page["nextToken"]
    rest = logs.describe_query_definitions(maxResults=1, nextToken=page["nextToken"])
    assert rest["queryDefinitions"][0]["queryDefinitionId"] == other
    logs.put_query_definition(queryDefinitionId=qid, name="errors/api", queryString="filter level = 'WARN'")
    assert logs.describe_query_definitions(queryDefinitionNamePrefix="err")["queryDefinitions"][0][
        "queryString"] == "filter level = 'WARN'"
    assert logs.delete_query_definition(queryDefinitionId=qid)["success"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_query_definition(queryDefinitionId=qid)
    assert _code(e.value) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_query_definition(name="bad", queryString="stats")
    assert _code(e.value) == "MalformedQueryException"


def test_index_policy_fields_are_read_from_the_ingest_map(live) -> None:
    logs = live.boto3_client("logs")
    logs.create_log_group(logGroupName="/idx")
    logs.put_index_policy(logGroupIdentifier="/idx", policyDocument='{"Fields": ["user.id", "status"]}')
    logs.create_log_stream(logGroupName="/idx", logStreamName="s")
    t = int(time.time() * 1000) - 60_000
    logs.put_log_events(logGroupName="/idx", logStreamName="s", logEvents=[
        {"timestamp": t + i, "message": json.dumps({"user": {"id": f"u{i % 2}"}, "status": 500 if i < 3 else 200})}
        for i in range(8)])
    res = run(logs, "filter status >= 500 | stats count() as n by user.id", groups=("/idx",))
    assert rows(res) == [{"user.id": "u0", "n": "2"}, {"user.id": "u1", "n": "1"}]
    svc = live.runtime.service(QueriesService)
    from rexwatch.lang.insights import compile_query
    from rexwatch.services.insights.service import QueryRun

    q = "filter status >= 500 | stats count() as n by user.id"
    sql, params = svc.sql_for(QueryRun("x", q, compile_query(q), ["/idx"], 0, t + 10_000, None, 0))
    keys = {params[m] for m in re.findall(r"fields\[\{(iq_[0-9]+):String\}\]", sql)}
    assert keys == {"user.id", "status"} and "JSONExtract" not in sql
