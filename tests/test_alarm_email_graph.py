"""An alarm email carries a graph of the alarm's metric around the transition (inline PNG in the HTML
part, drawn by the GetMetricWidgetImage renderer); a topic tagged rexwatch:alarm-graph=off sends none."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from notify_helpers import Mailbox, deliver_all
from rexwatch.services.metrics import MetricsService

TOPIC = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"
BLUE = (0x1F, 0x77, 0xB4)
RED = (0xD6, 0x27, 0x28)


@pytest.fixture
def box(runtime):
    b = Mailbox()
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", b.port
    yield b
    b.close()


def _parts(mail) -> dict[str, object]:
    return {p.get_content_type(): p for p in mail.walk()}


def test_alarm_email_has_the_graph_unless_the_topic_turns_it_off(runtime, live, box) -> None:
    sns, cw = live.boto3_client("sns"), live.boto3_client("cloudwatch")
    arn = sns.create_topic(Name="utm-alerts")["TopicArn"]
    sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint="ops@yourdomain.com",
                  Attributes={"SkipConfirmation": "true"})
    now = dt.datetime.now(dt.UTC)
    cw.put_metric_data(Namespace="UTM/Application", MetricData=[
        {"MetricName": "APILatency", "Dimensions": [{"Name": "Service", "Value": "utm-api"}],
         "Timestamp": now - dt.timedelta(minutes=5 * k), "Value": 300.0 + 20 * (k % 4)} for k in range(1, 30)])
    runtime.service(MetricsService).flush()
    cw.put_metric_alarm(AlarmName="utm-api-latency", Namespace="UTM/Application", MetricName="APILatency",
                        Dimensions=[{"Name": "Service", "Value": "utm-api"}], Statistic="Average", Period=300,
                        EvaluationPeriods=1, Threshold=250, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[TOPIC], OKActions=[TOPIC])
    cw.set_alarm_state(AlarmName="utm-api-latency", StateValue="ALARM", StateReason="latency above 250")
    deliver_all(runtime)
    [mail] = box.wait_for(1)
    parts = _parts(mail)
    png = parts["image/png"]
    cid = png["Content-ID"].strip("<>")
    assert f"cid:{cid}" in parts["text/html"].get_content()
    img = Image.open(io.BytesIO(png.get_payload(decode=True)))
    assert img.format == "PNG" and img.size == (600, 260)
    colours = {c for _, c in img.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert BLUE in colours and RED in colours  # the metric and the threshold line
    assert "text/plain" in parts  # the text part is unchanged

    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "rexwatch:alarm-graph", "Value": "off"}])
    cw.set_alarm_state(AlarmName="utm-api-latency", StateValue="OK", StateReason="back to normal")
    deliver_all(runtime)
    second = box.wait_for(2)[1]
    assert "image/png" not in _parts(second) and "text/html" in _parts(second)
