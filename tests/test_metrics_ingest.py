"""PutMetricData's write-ahead log: acknowledged rows survive a crash before the batched insert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rexwatch.services.metrics import Datum, MetricId, MetricsService
from rexwatch.services.metrics.ingest import IngestBuffer, read_segment


def test_acknowledged_points_are_replayed_after_a_crash(runtime):
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC)
    # No flusher thread, as after a crash: the rows are only in the log.
    svc.ingest.thread = object()
    svc.put_metric_data("UTM/Application", [Datum("TenantCreated", [], now, value=1.0) for _ in range(3)])
    segments = sorted(svc.ingest.wal_dir.glob("*.arrows"))
    assert len(segments) == 1 and sum(t.num_rows for t in read_segment(segments[0])) == 3
    assert runtime.telemetry.query_rows("SELECT count() FROM {db}.metric_points") == [(0,)]
    svc.ingest.file.close()

    # A torn record at the end (crash mid-write) is ignored.
    with open(segments[0], "ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x00\x10\x00partial")
    replay = IngestBuffer(svc.ingest.wal_dir, svc.store.insert)
    assert replay.segment_no == int(segments[0].stem) + 1
    assert not list(svc.ingest.wal_dir.glob("*.arrows"))
    svc.ingest.pending, svc.ingest.file = [], None
    _, points = svc.get_metric_statistics(
        MetricId("UTM/Application", "TenantCreated"),
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(minutes=5),
        600,
        ["SampleCount"],
    )
    assert [p.sample_count for p in points] == [3.0]


def test_reads_see_writes_at_once_and_close_flushes(runtime, tmp_path: Path):
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC)
    svc.put_metric_data("UTM/Application", [Datum("InvitationSent", [], now, value=2.0)])
    _, points = svc.get_metric_statistics(
        MetricId("UTM/Application", "InvitationSent"),
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(minutes=5),
        600,
        ["Sum"],
    )
    assert [p.sum for p in points] == [2.0]
    svc.put_metric_data("UTM/Application", [Datum("InvitationSent", [], now, value=5.0)])
    svc.ingest.close()
    assert runtime.telemetry.query_rows("SELECT sum(sum) FROM {db}.metric_points") == [(7.0,)]
    assert not list(svc.ingest.wal_dir.glob("*.arrows"))
