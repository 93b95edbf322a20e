"""Prometheus Remote-Write 2.0 on the remote_write paths: bodies built from the declared v2 messages,
posted over HTTP to a live server, read back through GetMetricData and ListMetrics; and refusals.

(Debian's prometheus sends 1.0 only; the real binary's 1.0 writes are tested in test_intake_prometheus.py.)
"""

from __future__ import annotations

import datetime as dt
import struct
import time

import cramjam
import httpx
import pytest

from rexwatch.intake.prom_remote_write_v2 import Request

V2 = {"content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
      "content-encoding": "snappy", "x-prometheus-remote-write-version": "2.0.0",
      "user-agent": "rexwatch-test/1"}
WRITTEN = ("x-prometheus-remote-write-samples-written", "x-prometheus-remote-write-histograms-written",
           "x-prometheus-remote-write-exemplars-written")
STALE = struct.unpack("<d", (0x7FF0000000000002).to_bytes(8, "little"))[0]


class Body:
    """A v2 Request built as a sender does: strings interned in ``symbols``, symbols[0] = ""."""

    def __init__(self) -> None:
        self.req = Request()
        self.req.symbols.append("")
        self.index: dict[str, int] = {"": 0}

    def ref(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.req.symbols)
            self.req.symbols.append(s)
        return self.index[s]

    def series(self, labels: dict[str, str], samples=(), exemplars=(), histograms=(), help_text="",
               created: int = 0):
        ts = self.req.timeseries.add()
        for k, v in sorted(labels.items()):
            ts.labels_refs.extend([self.ref(k), self.ref(v)])
        for value, t in samples:
            ts.samples.add(value=value, timestamp=t)
        for value, t, trace in exemplars:
            ts.exemplars.add(labels_refs=[self.ref("trace_id"), self.ref(trace)], value=value, timestamp=t)
        for h in histograms:
            spans = h.pop("spans", [])
            hist = ts.histograms.add(**h)
            for offset, length in spans:
                hist.positive_spans.add(offset=offset, length=length)
        ts.created_timestamp = created
        ts.metadata.type = 1
        ts.metadata.help_ref = self.ref(help_text)
        return ts

    def bytes(self) -> bytes:
        return bytes(cramjam.snappy.compress_raw(self.req.SerializeToString()))


def _post(url: str, content: bytes, headers: dict = V2) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/write", content=content, headers=headers)


def _data(cw, name: str, dims: dict[str, str], stat: str) -> list[float]:
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
        "Namespace": "prometheus", "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())]},
        "Period": 3600, "Stat": stat}}], StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(minutes=5))
    return r["MetricDataResults"][0]["Values"]


def test_v2_samples_are_stored_with_labels_as_dimensions_and_counted_in_headers(live):
    now = int(time.time() * 1000)
    b = Body()
    b.series({"__name__": "rw2_requests_total", "job": "api", "code": "200"}, [(10, now - 2000), (15, now - 1000)],
             exemplars=[(0.2, now - 1000, "abc123")], help_text="Requests served.")
    b.series({"__name__": "rw2_requests_total", "job": "api", "code": "500"}, [(1, now), (STALE, now + 1)])
    b.series({"__name__": "rw2_temperature", "job": "api"}, [(21.5, now)])
    r = _post(live.url, b.bytes())
    assert r.status_code == 204, r.text
    assert [r.headers[h] for h in WRITTEN] == ["5", "0", "1"]  # the staleness marker is accepted, not stored
    cw = live.boto3_client("cloudwatch")
    assert _data(cw, "rw2_requests_total", {"code": "200", "job": "api"}, "Maximum") == [15.0]
    assert _data(cw, "rw2_requests_total", {"code": "200", "job": "api"}, "SampleCount") == [2.0]
    assert _data(cw, "rw2_requests_total", {"code": "500", "job": "api"}, "SampleCount") == [1.0]
    listed = cw.list_metrics(Namespace="prometheus", MetricName="rw2_temperature")["Metrics"]
    assert [m["Dimensions"] for m in listed] == [[{"Name": "job", "Value": "api"}]]
    # 1.0 still answers on the same path, without the 2.0 headers.
    from rexwatch.intake.prom_remote_write import WriteRequest

    v1 = WriteRequest()
    ts = v1.timeseries.add()
    ts.labels.add(name="__name__", value="rw2_temperature")
    ts.labels.add(name="job", value="api")
    ts.samples.add(value=22.5, timestamp=now + 1000)
    r = _post(live.url, bytes(cramjam.snappy.compress_raw(v1.SerializeToString())),
              {"content-type": "application/x-protobuf;proto=prometheus.WriteRequest", "content-encoding": "snappy"})
    assert r.status_code == 204 and WRITTEN[0] not in r.headers
    assert _data(cw, "rw2_temperature", {"job": "api"}, "Maximum") == [22.5]


def _hist(t: int, deltas: list[int], **kw) -> dict:
    """An integer native histogram of schema 0 (buckets (1, 2], (2, 4], (4, 8]…) from bucket 1 on."""
    counts, acc = [], 0
    for d in deltas:
        acc += d
        counts.append(acc)
    return {"timestamp": t, "schema": 0, "count_int": sum(counts), "sum": 1.5 * sum(counts),
            "spans": [(1, len(deltas))], "positive_deltas": deltas, **kw}


def test_native_histograms_are_stored_as_distributions(live):
    now = int(time.time() * 1000)
    cw = live.boto3_client("cloudwatch")
    b = Body()
    # Cumulative: bucket (1, 2] holds 3, then 5; bucket (2, 4] holds 1, then 1 (deltas between neighbours).
    b.series({"__name__": "rw2_latency_seconds", "job": "x"},
             histograms=[_hist(now - 2000, [3, -2]), _hist(now - 1000, [5, -4])], created=now - 60_000)
    # Custom buckets (a classic histogram's bounds), as a gauge histogram: counts kept as they are.
    b.series({"__name__": "rw2_size_bytes", "job": "x"}, histograms=[{
        "timestamp": now, "schema": -53, "custom_values": [10.0, 20.0, 40.0], "reset_hint": 3,
        "spans": [(0, 4)], "positive_counts": [0.0, 4.0, 0.0, 1.0], "count_float": 5.0}])
    r = _post(live.url, b.bytes())
    assert r.status_code == 204, r.text
    assert [r.headers[h] for h in WRITTEN] == ["0", "3", "0"]
    # The first point counts whole (its series has a created timestamp), the second its increase.
    assert _data(cw, "rw2_latency_seconds", {"job": "x"}, "SampleCount") == [6.0]
    [p50] = _data(cw, "rw2_latency_seconds", {"job": "x"}, "p50")
    assert 1 < p50 <= 2
    [mx] = _data(cw, "rw2_latency_seconds", {"job": "x"}, "p99")
    assert 2 < mx <= 4
    assert _data(cw, "rw2_size_bytes", {"job": "x"}, "SampleCount") == [5.0]
    [p50] = _data(cw, "rw2_size_bytes", {"job": "x"}, "p50")
    assert 10 <= p50 <= 20


def test_malformed_histograms_and_nameless_series_are_a_partial_write(live):
    now = int(time.time() * 1000)
    b = Body()
    b.series({"__name__": "rw2_partial", "job": "x"}, [(1, now)])
    b.series({"__name__": "rw2_hist_ok", "job": "x"}, histograms=[_hist(now, [1], reset_hint=3)])
    # Spans covering ten buckets with two counts; a schema that does not exist.
    b.series({"__name__": "rw2_hist_bad", "job": "x"}, histograms=[
        {**_hist(now, [1, 1]), "spans": [(0, 10)]}, _hist(now, [1], schema=9)])
    b.series({"job": "nameless"}, [(1, now), (2, now + 1)])
    r = _post(live.url, b.bytes())
    assert r.status_code == 400
    assert "2 samples refused: a series has no __name__" in r.text
    assert "2 histograms refused: rw2_hist_bad: a native histogram is malformed: its spans cover more" in r.text
    assert [r.headers[h] for h in WRITTEN] == ["1", "1", "0"]
    cw = live.boto3_client("cloudwatch")
    assert _data(cw, "rw2_partial", {"job": "x"}, "SampleCount") == [1.0]
    assert _data(cw, "rw2_hist_ok", {"job": "x"}, "SampleCount") == [1.0]
    assert cw.list_metrics(Namespace="prometheus", MetricName="rw2_hist_bad")["Metrics"] == []


def _raw(symbols: list[bytes], series: list[bytes]) -> bytes:
    """A v2 body written by hand on the wire, for what the message classes refuse to build."""
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    return bytes(cramjam.snappy.compress_raw(b"".join(field(4, s) for s in symbols)
                                             + b"".join(field(5, s) for s in series)))


@pytest.mark.parametrize(("refs", "why"), [
    ([1, 2, 1], "odd number (3) of label references"),
    ([1, 7], "refers to symbol 7 of a table of 5"),
])
def test_malformed_label_references_are_refused_whole(live, refs, why):
    now = int(time.time() * 1000)
    b = Body()
    b.series({"__name__": "rw2_never", "job": "x"}, [(1, now)])
    bad = b.req.timeseries.add()
    bad.labels_refs.extend(refs)
    bad.samples.add(value=1, timestamp=now)
    r = _post(live.url, b.bytes())
    assert r.status_code == 400 and why in r.text and "timeseries[1]" in r.text, r.text
    assert [r.headers[h] for h in WRITTEN] == ["0", "0", "0"]
    assert live.boto3_client("cloudwatch").list_metrics(Namespace="prometheus",
                                                        MetricName="rw2_never")["Metrics"] == []


def test_hostile_v2_bodies_get_4xx_with_a_reason(live):
    # A symbol that is not UTF-8.
    series = b"\x0a\x02\x01\x02" + b"\x12\x09\x09" + struct.pack("<d", 1.0)
    r = _post(live.url, _raw([b"", b"__name__", b"\xff\xfe"], [series]))
    assert r.status_code == 400 and "io.prometheus.write.v2.Request" in r.text, r.text
    r = _post(live.url, bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")))
    assert r.status_code == 400 and "io.prometheus.write.v2.Request" in r.text
    r = _post(live.url, b"not snappy")
    assert r.status_code == 400 and "snappy" in r.text
    # An exemplar or metadata referring past the table.
    b = Body()
    ts = b.series({"__name__": "rw2_bad", "job": "x"}, [(1, int(time.time() * 1000))])
    ts.exemplars.add(labels_refs=[1, 99], value=1, timestamp=1)
    r = _post(live.url, b.bytes())
    assert r.status_code == 400 and "an exemplar of timeseries[0] refers to symbol 99" in r.text
    # Metadata is not read, so a reference of its past the table is not looked at.
    b = Body()
    ts = b.series({"__name__": "rw2_meta", "job": "x"}, [(1, int(time.time() * 1000))])
    ts.metadata.unit_ref = 1000
    r = _post(live.url, b.bytes())
    assert r.status_code == 204 and r.headers[WRITTEN[0]] == "1"
    # A symbols table as large as the body bound allows costs one parse; the refusal names the limit.
    r = _post(live.url, bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + b"\0" * 10)
    assert r.status_code in (400, 413)


def test_unknown_proto_is_415_naming_the_accepted_ones(live):
    r = _post(live.url, b"x", {**V2, "content-type": "application/x-protobuf;proto=io.prometheus.write.v3.Request"})
    assert r.status_code == 415
    assert "io.prometheus.write.v2.Request" in r.text and "prometheus.WriteRequest" in r.text
    r = _post(live.url, b"x", {**V2, "content-encoding": "zstd"})
    assert r.status_code == 415
    # Parameters are matched case-insensitively, values may be quoted.
    b = Body()
    b.series({"__name__": "rw2_quoted", "job": "x"}, [(3, int(time.time() * 1000))])
    r = _post(live.url, b.bytes(), {**V2, "content-type": 'application/x-protobuf; Proto="io.prometheus.write.v2.Request"'})
    assert r.status_code == 204 and r.headers[WRITTEN[0]] == "1"


def test_native_histogram_buckets_and_their_representative_values():
    from rexwatch.intake.prom_native_histogram import buckets
    from rexwatch.intake.prom_remote_write_v2 import _M

    h = _M["Histogram"](schema=1, zero_count_int=2, positive_deltas=[1, 1], negative_counts=[])
    h.positive_spans.add(offset=-1, length=1)
    h.positive_spans.add(offset=2, length=1)  # buckets -1 and 2
    h.negative_spans.add(offset=0, length=1)
    h.negative_deltas.append(4)
    counts, reps = buckets(h)
    assert counts == {"z": 2.0, (1.0, 1, -1): 1.0, (1.0, 1, 2): 2.0, (-1.0, 1, 0): 4.0}
    base = 2 ** 0.5
    assert reps[(1.0, 1, 2)] == pytest.approx(base ** 1.5)  # the middle of (base, base^2]
    assert reps[(-1.0, 1, 0)] == pytest.approx(-(base ** -0.5))
    # Custom buckets: the first bucket's value is its upper bound, the +Inf bucket's the last bound.
    h = _M["Histogram"](schema=-53, custom_values=[1.0, 5.0], positive_counts=[2.0, 0.0, 3.0])
    h.positive_spans.add(offset=0, length=3)
    assert buckets(h) == ({0: 2.0, 2: 3.0}, {0: 1.0, 2: 5.0})
    for bad, why in ((dict(custom_values=[5.0, 1.0]), "increasing"), (dict(positive_counts=[1.0, -1.0, 0]), "-1.0"),
                     (dict(positive_counts=[1.0, 1.0, 1.0, 1.0]), "more bucket counts")):
        h = _M["Histogram"](**{"schema": -53, "custom_values": [1.0, 5.0], "positive_counts": [1.0, 1.0, 1.0], **bad})
        h.positive_spans.add(offset=0, length=3)
        with pytest.raises(ValueError, match=why):
            buckets(h)
    # A span claiming four billion buckets costs what its counts cost.
    h = _M["Histogram"](schema=0, positive_deltas=[1])
    h.positive_spans.add(offset=0, length=2**32 - 1)
    with pytest.raises(ValueError, match="more buckets than it has counts"):
        buckets(h)
    h = _M["Histogram"](schema=0, positive_deltas=[1])
    h.positive_spans.add(offset=2**31 - 1, length=1)
    with pytest.raises(ValueError, match="out of range"):
        buckets(h)


def test_a_refused_request_leaves_histogram_state_alone(live):
    now = int(time.time() * 1000)
    labels = {"__name__": "rw2_state", "job": "x"}
    b = Body()
    b.series(labels, histograms=[_hist(now - 3000, [2])], created=now - 60_000)
    bad = b.req.timeseries.add()
    bad.labels_refs.extend([1, 999])
    bad.samples.add(value=1, timestamp=now)
    assert _post(live.url, b.bytes()).status_code == 400  # refused whole: its histogram is not read
    b = Body()
    b.series(labels, histograms=[_hist(now - 2000, [3])], created=now - 60_000)
    r = _post(live.url, b.bytes())
    assert r.status_code == 204 and r.headers[WRITTEN[1]] == "1"
    # The series' first histogram read counts whole (3), not as an increase over the refused one (1).
    assert _data(live.boto3_client("cloudwatch"), "rw2_state", {"job": "x"}, "SampleCount") == [3.0]
