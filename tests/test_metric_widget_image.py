"""GetMetricWidgetImage over the AWS door with boto3: the PNG decodes (Pillow) to the requested size and
shows the plotted series in its colour; SVG output; bad widgets get AWS errors naming what is wrong."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from rexwatch.services.metrics import MetricsService

GREEN = (0x2C, 0xA0, 0x2C)


@pytest.fixture
def cw(live):
    client = live.boto3_client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    client.put_metric_data(Namespace="UTM/Application", MetricData=[
        {"MetricName": "APILatency", "Dimensions": [{"Name": "Service", "Value": "utm-api"}],
         "Timestamp": now - dt.timedelta(minutes=5 * k), "Value": 200.0 + 10 * (k % 3)} for k in range(1, 30)])
    live.runtime.service(MetricsService).flush()
    return client


def colours(png: bytes) -> tuple[tuple[int, int], set[tuple[int, int, int]]]:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img.size, {c for _, c in img.convert("RGB").getcolors(maxcolors=1 << 20)}


def widget(**extra) -> str:
    return json.dumps({"metrics": [["UTM/Application", "APILatency", "Service", "utm-api",
                                    {"color": "#2ca02c", "label": "latency"}]],
                       "stat": "Average", "period": 300, "start": "-PT3H", "title": "API latency", **extra})


def test_png_shows_the_series_in_its_colour(cw) -> None:
    png = cw.get_metric_widget_image(MetricWidget=widget(width=500, height=300))["MetricWidgetImage"]
    size, seen = colours(png)
    assert size == (500, 300)
    assert GREEN in seen
    # Without data nothing is drawn in the series' colour.
    empty = json.dumps({"metrics": [["UTM/Application", "Nothing", {"color": "#2ca02c"}]], "start": "-PT3H"})
    size, seen = colours(cw.get_metric_widget_image(MetricWidget=empty, OutputFormat="png")["MetricWidgetImage"])
    assert size == (600, 400) and GREEN not in seen


@pytest.mark.parametrize("extra", [{"stacked": True}, {"view": "bar"}, {"view": "pie"}, {"view": "singleValue"},
                                   {"annotations": {"horizontal": [{"value": 205, "label": "slo"}]},
                                    "yAxis": {"left": {"min": 0, "max": 400}}}])
def test_other_views_draw_the_series(cw, extra) -> None:
    _, seen = colours(cw.get_metric_widget_image(MetricWidget=widget(**extra))["MetricWidgetImage"])
    assert GREEN in seen


def test_math_expression_series_is_drawn(cw) -> None:
    w = json.dumps({"metrics": [["UTM/Application", "APILatency", "Service", "utm-api", {"id": "m1", "visible": False}],
                                [{"expression": "m1 * 2", "label": "double", "color": "#9467bd"}]],
                    "period": 300, "start": "-PT3H"})
    _, seen = colours(cw.get_metric_widget_image(MetricWidget=w)["MetricWidgetImage"])
    assert (0x94, 0x67, 0xBD) in seen


def test_svg_output(cw) -> None:
    svg = cw.get_metric_widget_image(MetricWidget=widget(), OutputFormat="image/svg+xml")["MetricWidgetImage"]
    text = svg.decode()
    assert text.startswith("<svg") and 'stroke="#2ca02c"' in text and "API latency" in text


@pytest.mark.parametrize(("body", "fmt", "needle"), [
    ("not json", "png", "JSON object"),
    ('{"metrics": [["A"]]}', "png", "/metrics/0"),
    ('{"metrics": [["A", "B"]], "view": "gauge"}', "png", "gauge"),
    ('{"metrics": [["A", "B"]], "width": 99999}', "png", "width"),
    ('{"metrics": [["A", "B"]]}', "image/gif", "OutputFormat"),
    ('{"metrics": [["A", "B"]], "start": "yesterday"}', "png", "start"),
])
def test_bad_widgets_are_client_errors(cw, body, fmt, needle) -> None:
    with pytest.raises(ClientError) as e:
        cw.get_metric_widget_image(MetricWidget=body, OutputFormat=fmt)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert needle in err["Error"]["Message"]
