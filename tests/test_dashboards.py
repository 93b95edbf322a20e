"""CloudWatch dashboards over the AWS door: the runbook's put-dashboard line, validation, paging."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import rexwatch.services.dashboards.service as dash_service
from rexwatch.testing import LiveServer

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK_BODY = (ROOT / "examples" / "dashboards" / "UTM-Production.json").read_text()


def test_runbook_put_dashboard_runs_as_written_with_the_aws_cli(live: LiveServer, tmp_path: Path) -> None:
    (tmp_path / "dashboard.json").write_text(RUNBOOK_BODY)
    aws = shutil.which("aws", path=str(ROOT / ".venv" / "bin")) or "aws"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any",
           "AWS_DEFAULT_REGION": live.runtime.settings.region}
    out = subprocess.run(
        [aws, "--endpoint-url", live.url, "cloudwatch", "put-dashboard", "--dashboard-name", "UTM-Production",
         "--dashboard-body", "file://dashboard.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"DashboardValidationMessages": []}
    cw = live.boto3_client("cloudwatch")
    got = cw.get_dashboard(DashboardName="UTM-Production")
    # Stored exactly as given, as CloudWatch does.
    assert got["DashboardBody"] == RUNBOOK_BODY
    assert got["DashboardArn"] == f"arn:aws:cloudwatch::{live.runtime.settings.account_id}:dashboard/UTM-Production"
    [entry] = cw.list_dashboards()["DashboardEntries"]
    assert entry["DashboardName"] == "UTM-Production" and entry["Size"] == len(RUNBOOK_BODY.encode())


def test_put_replaces_and_warns_without_refusing(live: LiveServer) -> None:
    cw = live.boto3_client("cloudwatch")
    body = {"widgets": [{"type": "metric", "x": 20, "width": 8, "properties": {
        "metrics": [["AWS/RDS", "CPUUtilization"]]}}]}
    r = cw.put_dashboard(DashboardName="d1", DashboardBody=json.dumps(body))
    paths = {m["DataPath"]: m["Message"] for m in r["DashboardValidationMessages"]}
    assert "region is not set" in paths["/widgets/0/properties"]
    assert "moved left" in paths["/widgets/0"]
    cw.put_dashboard(DashboardName="d1", DashboardBody='{"widgets": []}')
    assert cw.get_dashboard(DashboardName="d1")["DashboardBody"] == '{"widgets": []}'


@pytest.mark.parametrize(("body", "path", "message"), [
    ("not json", "", "must be a valid JSON object"),
    ("{}", "", "Should have required property 'widgets'"),
    ('{"widgets": [{"type": "metric", "properties": {}}]}', "/widgets/0/properties",
     "Should have required property 'metrics'"),
    ('{"widgets": [{"type": "graph", "properties": {}}]}', "/widgets/0/type", "allowed values"),
    ('{"widgets": [{"type": "text", "width": 25, "properties": {"markdown": "x"}}]}', "/widgets/0/width",
     "Should be <= 24"),
    ('{"widgets": [{"type": "metric", "properties": {"metrics": [["AWS/EC2", "CPUUtilization", '
     '{"color": "red"}]]}}]}', "/widgets/0/properties/metrics/0/2/color", "Should match pattern"),
    ('{"widgets": [{"type": "metric", "properties": {"metrics": [[".", "X"]]}}]}',
     "/widgets/0/properties/metrics/0", 'The "." shorthand'),
    ('{"widgets": [{"type": "metric", "properties": {"view": "donut", "metrics": [["A", "B"]]}}]}',
     "/widgets/0/properties/view", "allowed values"),
    ('{"end": "-PT1H", "widgets": []}', "/end", "must also specify a value for start"),
    ('{"widgets": [{"type": "log", "properties": {}}]}', "/widgets/0/properties",
     "Should have required property 'query'"),
])
def test_invalid_bodies_are_refused_with_every_problem_and_its_path(live: LiveServer, body: str, path: str,
                                                                    message: str) -> None:
    cw = live.boto3_client("cloudwatch")
    with pytest.raises(ClientError) as e:
        cw.put_dashboard(DashboardName="bad", DashboardBody=body)
    assert e.value.response["Error"]["Code"] == "InvalidParameterInput"
    msgs = e.value.response.get("dashboardValidationMessages") or e.value.response["Error"].get(
        "dashboardValidationMessages")
    assert msgs and any(m["DataPath"] == path and message in m["Message"] for m in msgs), msgs
    assert message in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        cw.get_dashboard(DashboardName="bad")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"


def test_several_problems_are_reported_at_once(live: LiveServer) -> None:
    cw = live.boto3_client("cloudwatch")
    body = {"widgets": [{"type": "metric", "properties": {}}, {"type": "text", "properties": {}},
                        {"type": "alarm", "properties": {"alarms": ["nope"]}}]}
    with pytest.raises(ClientError) as e:
        cw.put_dashboard(DashboardName="bad", DashboardBody=json.dumps(body))
    assert "there are 3 validation errors" in e.value.response["Error"]["Message"]


def test_names_list_prefix_paging_and_all_or_nothing_delete(live: LiveServer, monkeypatch) -> None:
    cw = live.boto3_client("cloudwatch")
    for bad in ("has space", "a/b", "x" * 256, "quote'"):
        with pytest.raises(ClientError) as e:
            cw.put_dashboard(DashboardName=bad, DashboardBody='{"widgets": []}')
        assert e.value.response["Error"]["Code"] in ("InvalidParameterValue", "InvalidParameterInput")
    for name in ("prod-api", "prod-db", "prod-cache", "staging-api", "Prod_upper"):
        cw.put_dashboard(DashboardName=name, DashboardBody='{"widgets": []}')
    monkeypatch.setattr(dash_service, "PAGE", 2)
    names, token = [], None
    while True:
        page = cw.list_dashboards(DashboardNamePrefix="prod", **({"NextToken": token} if token else {}))
        names += [d["DashboardName"] for d in page["DashboardEntries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["prod-api", "prod-cache", "prod-db"]
    with pytest.raises(ClientError) as e:
        cw.list_dashboards(NextToken="!!garbage!!")
    assert e.value.response["Error"]["Code"] == "InvalidNextToken"
    with pytest.raises(ClientError) as e:
        cw.delete_dashboards(DashboardNames=["prod-api", "missing-one"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFound" and "missing-one" in e.value.response["Error"][
        "Message"]
    assert cw.get_dashboard(DashboardName="prod-api")["DashboardName"] == "prod-api"  # nothing deleted
    cw.delete_dashboards(DashboardNames=["prod-api", "prod-db"])
    monkeypatch.setattr(dash_service, "PAGE", 1000)
    left = [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]]
    assert left == ["Prod_upper", "prod-cache", "staging-api"]


def test_oversized_body_is_refused_before_parsing(live: LiveServer) -> None:
    cw = live.boto3_client("cloudwatch")
    big = '{"widgets": [], "pad": "' + "x" * (dash_service.MAX_BODY_BYTES + 1) + '"}'
    with pytest.raises(ClientError) as e:
        cw.put_dashboard(DashboardName="big", DashboardBody=big)
    assert e.value.response["Error"]["Code"] in ("InvalidParameterInput", "RequestEntityTooLarge",
                                                 "413")
