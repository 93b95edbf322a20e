"""A server killed with SIGKILL after an alarm transition committed, before its notification went out:
after restart the notification arrives once and the transition is not made again."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

import boto3
import pytest
from botocore.config import Config

from notify_helpers import Receiver
from rexwatch.testing import wait_for_tick, wait_until

TOPIC = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"


def _client(service: str, url: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.mark.slow
def test_sigkill_after_transition_before_delivery(server_process, tmp_path):
    data = tmp_path / "srv"
    rx = Receiver()
    try:
        # 1. Only the alarm evaluator runs: the transition commits with its outbox row, nothing is sent.
        a = server_process("--workers", "alarms", data_dir=data).start()
        sns, cw = _client("sns", a.url), _client("cloudwatch", a.url)
        sns.create_topic(Name="utm-alerts")
        sns.subscribe(
            TopicArn=TOPIC, Protocol="http", Endpoint=rx.url, Attributes={"SkipConfirmation": "true"}
        )
        cw.put_metric_alarm(
            AlarmName="utm-unhealthy-targets",
            MetricName="UnhealthyHostCount",
            Namespace="UTM/Application",
            Statistic="Average",
            Period=60,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            EvaluationPeriods=1,
            AlarmActions=[TOPIC],
        )
        # Breaching datapoints in the last minute and in each of the next fifteen: the alarm stays in ALARM
        # however slowly the two servers start. With the last minute's alone it fell to INSUFFICIENT_DATA
        # three minutes on (its datapoints out of the window), a second transition a slow run could see.
        minute = int(time.time() // 60) * 60
        cw.put_metric_data(
            Namespace="UTM/Application",
            MetricData=[
                {
                    "MetricName": "UnhealthyHostCount",
                    "Value": 3.0,
                    "Timestamp": dt.datetime.fromtimestamp(minute + 60 * m + k, dt.UTC),
                }
                for m in range(-1, 15)
                for k in (1, 30, 59)
            ],
        )
        wait_until(lambda: cw.describe_alarms(StateValue="ALARM")["MetricAlarms"], 120, what="the ALARM transition")
        a.stop(signal.SIGKILL)
        assert rx.requests == []

        # 2. Restarted with the notifier: the pending notification is sent once; no second transition.
        b = server_process("--workers", "alarms,notify", data_dir=data).start()
        [req] = rx.wait_for(1, timeout=120)
        msg = json.loads(req.json["Message"])
        assert msg["AlarmName"] == "utm-unhealthy-targets" and msg["NewStateValue"] == "ALARM"
        wait_for_tick(b.url, "alarms", 1)  # one more evaluator tick, begun after the delivery
        assert len(rx.requests) == 1
        cw = _client("cloudwatch", b.url)
        updates = cw.describe_alarm_history(AlarmName="utm-unhealthy-targets", HistoryItemType="StateUpdate")[
            "AlarmHistoryItems"
        ]
        assert [u["HistorySummary"] for u in updates] == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
        b.stop()
    finally:
        rx.close()
