"""Prometheus remote_write: Debian's real prometheus binary as the sender, and hostile bodies."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
import time

import cramjam
import httpx
import pytest

from rexwatch.intake.prom_remote_write import WriteRequest
from rexwatch.testing import free_port, wait_until

HEADERS = {"content-type": "application/x-protobuf", "content-encoding": "snappy",
           "x-prometheus-remote-write-version": "0.1.0"}


def _write(url: str, series: list[tuple[dict[str, str], list[tuple[float, int]]]]) -> httpx.Response:
    req = WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for k, v in sorted(labels.items()):
            ts.labels.add(name=k, value=v)
        for value, t in samples:
            ts.samples.add(value=value, timestamp=t)
    return httpx.post(f"{url}/api/v1/write", content=bytes(cramjam.snappy.compress_raw(req.SerializeToString())),
                      headers=HEADERS)


def _stats(cw, name, dims, stat="Sum"):
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_statistics(Namespace="prometheus", MetricName=name, Dimensions=dims,
                                 StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                                 Period=3600, Statistics=["SampleCount", stat])
    return r["Datapoints"]


def test_samples_become_datapoints_with_labels_as_dimensions(live):
    now = int(time.time() * 1000)
    stale = struct.unpack("<d", (0x7FF0000000000002).to_bytes(8, "little"))[0]  # Prometheus' staleness marker
    r = _write(live.url, [
        ({"__name__": "http_requests_total", "job": "api", "code": "200"}, [(10, now - 2000), (15, now - 1000)]),
        ({"__name__": "http_requests_total", "job": "api", "code": "500"}, [(1, now), (stale, now)]),
    ])
    assert r.status_code == 204, r.text
    cw = live.boto3_client("cloudwatch")
    [p] = _stats(cw, "http_requests_total", [{"Name": "code", "Value": "200"}, {"Name": "job", "Value": "api"}],
                 "Maximum")
    assert (p["SampleCount"], p["Maximum"]) == (2.0, 15.0)  # raw counter samples, as Prometheus keeps them
    [p] = _stats(cw, "http_requests_total", [{"Name": "code", "Value": "500"}, {"Name": "job", "Value": "api"}])
    assert p["SampleCount"] == 1.0


def test_hostile_bodies_get_4xx_with_a_reason(live):
    r = httpx.post(f"{live.url}/api/v1/write", content=b"not snappy at all", headers=HEADERS)
    assert r.status_code == 400 and "snappy" in r.text
    r = httpx.post(f"{live.url}/api/v1/write", content=bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")),
                   headers=HEADERS)
    assert r.status_code == 400 and "WriteRequest" in r.text
    # A series whose label name is not UTF-8 (the labels are decoded apart from the body).
    r = httpx.post(f"{live.url}/api/v1/write", content=bytes(cramjam.snappy.compress_raw(
        b"\x0a\x05\x0a\x03\x0a\x01\xff")), headers=HEADERS)
    assert r.status_code == 400 and "WriteRequest" in r.text
    r = httpx.post(f"{live.url}/api/v1/write", content=b"x", headers={**HEADERS, "content-encoding": "gzip"})
    assert r.status_code == 415
    month_ago = int(time.time() * 1000) - 30 * 86400_000
    r = _write(live.url, [({"__name__": "old", "job": "x"}, [(1, month_ago)]), ({"job": "nameless"}, [(1, 1)])])
    assert r.status_code == 400 and "2 samples refused" in r.text
    # A snappy header claiming a huge body is refused before decompressing it.
    bomb = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + b"\0" * 10
    r = httpx.post(f"{live.url}/api/v1/write", content=bomb, headers=HEADERS)
    assert r.status_code in (400, 413)


@pytest.mark.slow
def test_real_prometheus_remote_writes_what_it_scrapes(live, tmp_path):
    assert shutil.which("prometheus"), "Debian's prometheus package is needed (.ci/run installs it)"
    port = free_port()
    target = live.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: rexwatch
    static_configs:
      - targets: ["{target}"]
remote_write:
  - url: {live.url}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
""")
    proc = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cw = live.boto3_client("cloudwatch")
        dims = [{"Name": "instance", "Value": target}, {"Name": "job", "Value": "rexwatch"}]
        def up_points() -> list:
            assert proc.poll() is None, "prometheus exited"
            return _stats(cw, "up", dims, "Maximum")

        # up = 1 from a scrape that worked. Not the first sample written: the scrape timeout is the 1 s
        # interval, and on a loaded machine a scrape that takes longer is written as up = 0.
        wait_until(lambda: any(p["Maximum"] == 1.0 for p in up_points()), 180, interval=0.5,
                   what="prometheus to remote-write up = 1")

        # rexwatch's own counters came through with their labels (maybe in a later batch than up).
        def names() -> set[str]:
            return {m["MetricName"] for m in cw.list_metrics(Namespace="prometheus")["Metrics"]}

        wait_until(lambda: "rexwatch_http_requests_total" in names(), 60, what="rexwatch's own counters")
    finally:
        proc.terminate()
        proc.wait(30)


def test_label_sets_are_read_once_and_the_cache_stays_bounded(monkeypatch):
    from rexwatch.intake import prom_remote_write as rw

    monkeypatch.setattr(rw, "SERIES_CACHE", 3)
    monkeypatch.setattr(rw, "_SERIES", {})
    monkeypatch.setattr(rw, "_DIMS", {})

    def raw(*labels: tuple[str, str]) -> tuple[bytes, ...]:
        return tuple(rw.Label(name=k, value=v).SerializeToString() for k, v in labels)

    a = rw._series(raw(("__name__", "a"), ("job", "x"), ("instance", "h:1")))
    b = rw._series(raw(("instance", "h:1"), ("__name__", "b"), ("job", "x")))
    assert a == ("a", [("instance", "h:1"), ("job", "x")])
    assert b[1] is a[1]  # one dimensions list for the same labels besides __name__
    assert rw._series(raw(("job", "x"), ("job", "y"), ("__name__", "c" * 256))) == ("", [("job", "x")])
    rw._series(raw(("__name__", "d")))
    assert len(rw._SERIES) == 1 and len(rw._DIMS) == 1  # cleared at the bound, then refilled
    with pytest.raises(rw.IntakeError, match=r"not a protobuf prometheus\.WriteRequest"):
        rw._series((b"\x0a\x02\xff\xfe",))  # a label name that is not UTF-8
