"""PutMetricData's write-ahead log: acknowledged rows survive a crash before the batched insert."""

from __future__ import annotations

import datetime as dt

from rexwatch.services.metrics import MetricDatum, MetricId, MetricsService
from rexwatch.services.metrics.ingest import IngestBuffer, read_segment

NS = "UTM/Application"


def test_acknowledged_points_are_replayed_after_a_crash(runtime):
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC)
    # No flusher thread, as after a crash: the rows are only in the log.
    svc.ingest.thread = object()
    svc.put_metric_data(NS, [MetricDatum("TenantCreated", [], now, value=1.0) for _ in range(3)])
    segments = sorted(svc.ingest.wal_dir.glob("*.arrows"))
    assert len(segments) == 1 and sum(t.num_rows for t in read_segment(segments[0])) == 3
    assert runtime.telemetry.query_rows("SELECT count() FROM {db:Identifier}.metric_points") == [(0,)]

    # Another live process sharing the data directory leaves a live log alone.
    other = IngestBuffer(svc.ingest.base_dir, svc.store.insert_points)
    assert other.replay_orphans() == 0 and segments[0].exists()

    # The process dies: its file and lock go, the in-memory batch is lost.
    svc.ingest.file.close()
    svc.ingest._lock_file.close()
    svc.ingest.pending, svc.ingest.file, svc.ingest._lock_file = [], None, None
    # A torn record at the end (crash mid-write) is ignored.
    with open(segments[0], "ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x00\x10\x00partial")
    IngestBuffer(svc.ingest.base_dir, svc.store.insert_points)  # replays at construction
    assert not svc.ingest.wal_dir.exists()
    _, points = svc.get_metric_statistics(
        MetricId(NS, "TenantCreated"),
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(minutes=5),
        600,
        ["SampleCount"],
    )
    assert [p.sample_count for p in points] == [3.0]


def test_crash_between_insert_and_segment_deletion_counts_once(runtime):
    import os
    import shutil

    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC)
    svc.ingest.thread = object()  # no flusher: this test drives the flush
    svc.put_metric_data(NS, [MetricDatum("APILatency", [], now, value=float(v)) for v in range(5)])
    (segment,) = sorted(svc.ingest.wal_dir.glob("*.arrows"))
    kept = segment.read_bytes()
    svc.ingest.flush()  # inserted into ClickHouse, then the segment is deleted ...
    assert not segment.exists()
    # ... but the process died just before the deletion: the segment is still on disk.
    segment.write_bytes(kept)
    svc.ingest._lock_file.close()
    svc.ingest._lock_file = None
    IngestBuffer(svc.ingest.base_dir, svc.store.insert_points)  # replays the orphaned segment
    assert not segment.exists()
    # Replayed with the first insert's token: neither the points nor the rollups count it twice.
    assert runtime.telemetry.query_rows("SELECT count(), sum(sum) FROM {db:Identifier}.metric_points") == [(5, 10.0)]
    assert runtime.telemetry.query_rows("SELECT sum(samples) FROM {db:Identifier}.metric_1m") == [(5.0,)]
    shutil.rmtree(svc.ingest.wal_dir, ignore_errors=True)
    assert os.path.isdir(svc.ingest.base_dir)


def test_reads_see_writes_at_once_and_close_flushes(runtime):
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC)
    svc.put_metric_data(NS, [MetricDatum("InvitationSent", [], now, value=2.0)])
    _, points = svc.get_metric_statistics(
        MetricId(NS, "InvitationSent"),
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(minutes=5),
        600,
        ["Sum"],
    )
    assert [p.sum for p in points] == [2.0]
    svc.put_metric_data(NS, [MetricDatum("InvitationSent", [], now, value=5.0)])
    svc.ingest.close()
    assert runtime.telemetry.query_rows("SELECT sum(sum) FROM {db:Identifier}.metric_points") == [(7.0,)]
    assert not svc.ingest.wal_dir.exists()


def test_kill_9_after_acknowledgement_loses_nothing(server_process, tmp_path):
    import httpx

    data_dir = tmp_path / "srv"
    srv = server_process("--workers", "none", data_dir=data_dir).start()
    h = {
        "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
        "Content-Type": "application/x-amz-json-1.0",
    }
    now = dt.datetime.now(dt.UTC).timestamp()
    for i in range(20):
        r = httpx.post(
            srv.url + "/",
            headers=h,
            json={
                "Namespace": NS,
                "MetricData": [
                    {"MetricName": "APILatency", "Value": float(i * 10 + j), "Timestamp": now}
                    for j in range(10)
                ],
            },
        )
        assert r.status_code == 200, r.text
    srv.stop(9)
    srv2 = server_process("--workers", "none", data_dir=data_dir).start()
    h["X-Amz-Target"] = "GraniteServiceVersion20100801.GetMetricStatistics"
    r = httpx.post(
        srv2.url + "/",
        headers=h,
        json={
            "Namespace": NS,
            "MetricName": "APILatency",
            "StartTime": now - 600,
            "EndTime": now + 600,
            "Period": 1200,
            "Statistics": ["SampleCount", "Sum"],
        },
    )
    assert r.status_code == 200, r.text
    (dp,) = r.json()["Datapoints"]
    assert dp["SampleCount"] == 200.0 and dp["Sum"] == float(sum(range(200)))
    srv2.stop()
