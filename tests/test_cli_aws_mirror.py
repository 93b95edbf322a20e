"""The AWS-mirrored groups are discoverable: help for every operation, suggestions
for mistyped names among the implemented ones, relative times."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from click.testing import CliRunner

from helpers import run_cli
from rexwatch.cli import aws_ops
from rexwatch.cli.main import cli

SERVICES = ("logs", "cloudwatch", "sns")


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="rexwatch", catch_exceptions=False)


@pytest.mark.parametrize("service", SERVICES)
def test_help_works_for_every_operation(service):
    implemented = aws_ops.implemented(service)
    ops = aws_ops.operations(service)
    assert len(ops) > 20
    for name in ops:
        r = _invoke(service, name, "--help")
        assert r.exit_code == 0, (name, r.output)
        assert f"Usage: rexwatch {service} {name}" in r.output, name
        text = " ".join(r.output.split())
        model = aws_ops.operation_model(service, name)
        if model is None:
            continue
        if model.name in implemented:
            assert "implemented by rexwatch" in text and "NOT implemented" not in text, name
        else:
            assert "NOT implemented by rexwatch" in text, name
        for flag, arg in ops[name].arg_table.items():
            if arg.required:
                assert f" --{flag} <value>" in text.split("Options:")[0], (name, flag)  # in the usage line


def test_help_describes_parameters_with_types_and_required_flags():
    r = _invoke("cloudwatch", "put-metric-alarm", "--help")
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert "--alarm-name (string) [required]" in text
    assert "--dimensions (list of {Name, Value})" in text
    assert "--evaluation-periods (integer) The number of periods" in text
    assert "--threshold (double)" in text
    assert "rexwatch: Actions are SNS topic ARNs only" in text
    assert "AWS CLI version 2" not in r.output
    r = _invoke("logs", "create-log-group", "help")  # the AWS CLI's own spelling
    assert r.exit_code == 0 and "--log-group-name" in r.output


def test_mistyped_operation_suggests_implemented_ones_only():
    r = _invoke("logs", "create-log-grop")
    assert r.exit_code == 2
    assert "Did you mean: create-log-group" in r.output
    # Close AWS names rexwatch does not implement are not offered.
    r = _invoke("logs", "describe-destination")
    assert r.exit_code == 2
    assert "describe-destinations" not in r.output
    r = _invoke("sns", "publsh")
    assert "Did you mean: publish" in r.output


def test_group_help_lists_implemented_operations_and_own_commands():
    r = _invoke("logs", "--help")
    assert r.exit_code == 0
    assert "tail" in r.output and "filter-log-events" in r.output
    assert "associate-kms-key" not in r.output  # not implemented
    assert "docs/aws-compatibility.md" in r.output


def test_relative_times_become_iso_for_timestamp_parameters():
    now = dt.datetime.now(dt.UTC)
    args = ["--namespace", "N", "--start-time", "1h", "--end-time", "now", "--period", "60"]
    out = aws_ops.resolve_relative_times("cloudwatch", "get-metric-statistics", args)
    start = dt.datetime.fromisoformat(out[3].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(out[5].replace("Z", "+00:00"))
    assert abs((now - start).total_seconds() - 3600) < 120 and abs((end - now).total_seconds()) < 120
    assert out[:3] + out[6:] == args[:3] + args[6:]
    # AWS-valid values and non-timestamp parameters pass untouched.
    same = ["--start-time", "2024-11-25T10:00:00Z", "--end-time", "1732532400", "--namespace", "1h"]
    assert aws_ops.resolve_relative_times("cloudwatch", "get-metric-statistics", same) == same
    put = aws_ops.resolve_relative_times("cloudwatch", "put-metric-data", ["--timestamp", "5m"])
    assert put[1].endswith("Z") and put[1] != "5m"


@pytest.mark.slow
def test_relative_times_reach_the_server(live):
    env = {**os.environ, "REXWATCH_ENDPOINT": live.url}
    r = run_cli("cloudwatch", "put-metric-data", "--namespace", "UTM/Application", "--metric-name", "Latency",
                "--value", "7", "--timestamp", "5m", env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("cloudwatch", "get-metric-statistics", "--namespace", "UTM/Application", "--metric-name", "Latency",
                "--statistics", "Sum", "--period", "60", "--start-time", "1h", "--end-time", "now",
                "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    assert [p["Sum"] for p in json.loads(r.stdout)["Datapoints"]] == [7.0]
