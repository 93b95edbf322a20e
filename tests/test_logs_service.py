"""LogsService directly: event_source, ingest listeners, the ingest buffer and index policies."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from rexwatch.errors import NotFound, Throttled
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.ingest import IngestBuffer
from rexwatch.services.logs.model import Group, LogEventBatch
from rexwatch.testing import wait_until


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def svc(runtime) -> LogsService:
    return runtime.service(LogsService)


def test_event_source_selects_live_events_with_group_names(runtime, svc):
    t = now_ms()
    for g in ("/a", "/b"):
        svc.create_log_group(g)
        for s in ("s1", "s2"):
            svc.create_log_stream(g, s)
            svc.put_log_events(g, s, LogEventBatch.from_records([{"timestamp": t - 3000 + i, "message": f'{{"g": "{g}", "n": {i}}}'}
                                      for i in range(3)]))
    svc.delete_log_stream("/b", "s2")
    sql, params = svc.event_source(["/a", "/b"], t - 2999, None)
    rows = runtime.telemetry.query_rows(
        f"SELECT log_group, log_stream, count(), min(seq) > 0 FROM ({sql}) GROUP BY 1, 2 ORDER BY 1, 2", params)
    assert rows == [("/a", "s1", 2, True), ("/a", "s2", 2, True), ("/b", "s1", 2, True)]
    sql, params = svc.event_source(["/a"], None, None, stream_names=["s2"])
    cols = runtime.telemetry.query_arrow(f"SELECT * FROM ({sql})", params).column_names
    assert cols == ["ts", "ingest_ts", "seq", "log_group", "log_stream", "message", "fields"]
    got = runtime.telemetry.query_rows(f"SELECT JSONExtractInt(message, 'n'), fields FROM ({sql}) ORDER BY seq",
                                       params)
    assert [r[0] for r in got] == [0, 1, 2] and all(not dict(r[1]) for r in got)
    with pytest.raises(NotFound):
        svc.event_source(["/a", "/nope"], None, None)


def test_ingest_listener_sees_each_durable_batch(svc):
    seen = []
    svc.add_ingest_listener(seen.append)
    svc.create_log_group("/l")
    svc.create_log_stream("/l", "s")
    t = now_ms()
    before = svc.buffer.last_seq
    svc.put_log_events("/l", "s", LogEventBatch.of([(t, "hello"), (t + 1, "x")]))
    wait_until(lambda: seen, 60, what="the ingest listener")  # listeners run right after the ack
    assert len(seen) == 1
    batch = seen[0]
    assert batch.after_seq == before and batch.last_seq == svc.buffer.last_seq
    assert batch.table.column("message").to_pylist() == ["hello", "x"]
    assert batch.table.column("group_id").to_pylist() == [svc.group("/l").id] * 2
    seqs = batch.table.column("seq").to_pylist()
    assert seqs == sorted(seqs) and before < seqs[0] and seqs[-1] == batch.last_seq
    assert {"ts", "ingest_ts"} <= set(batch.table.column_names)


def test_buffer_coalesces_concurrent_requests_and_throttles():
    inserted: list[int] = []
    gate, writing = threading.Event(), threading.Event()

    def slow_insert(table: pa.Table) -> None:
        writing.set()
        gate.wait(30)
        inserted.append(table.num_rows)

    buf = IngestBuffer(slow_insert, 0, max_pending=50, linger_s=0)
    g = Group(1, "/g", 0, None, None, "STANDARD", False, None, None)
    one = pa.table({"message": ["m"] * 10})
    threads = [threading.Thread(target=buf.submit, args=(one, g)) for _ in range(5)]
    threads[0].start()
    assert writing.wait(60)
    for th in threads[1:]:
        th.start()
    wait_until(lambda: buf._pending == 40, 60, what="four requests waiting")
    # The first batch is being written; four wait (40 events); 20 more would pass the bound of 50.
    with pytest.raises(Throttled):
        buf.submit(pa.table({"message": ["m"] * 20}), g)
    gate.set()
    for th in threads:
        th.join(60)
        assert not th.is_alive()
    buf.close()
    assert sum(inserted) == 50
    assert inserted[0] == 10 and inserted[1] == 40  # waiting requests went in as one insert


def test_index_policy_extracts_nested_fields(runtime, svc):
    svc.create_log_group("/p")
    svc.create_log_stream("/p", "s")
    svc.put_index_policy("/p", '{"Fields": ["req.id", "status"]}')
    assert svc.describe_index_policies(["/p"])[0].document == '{"Fields":["req.id","status"]}'
    assert [f.field_name for f in svc.describe_field_indexes(["/p"])] == ["req.id", "status"]
    svc.put_log_events("/p", "s", LogEventBatch.from_records([{"timestamp": now_ms(), "message": '{"req": {"id": "r1"}, "status": 500, "x": 1}'}]))
    sql, params = svc.event_source(["/p"], None, None)
    assert dict(runtime.telemetry.query_rows(f"SELECT fields FROM ({sql})", params)[0][0]) == {
        "req.id": "r1", "status": "500"}
    svc.delete_index_policy("/p")
    assert svc.describe_index_policies(["/p"]) == []


def test_retention_hides_at_once_and_purge_removes(runtime, svc):
    day = 86_400_000
    t = now_ms()
    svc.create_log_group("/r")
    svc.create_log_stream("/r", "s")
    svc.create_log_stream("/r", "gone")
    svc.put_log_events("/r", "s", LogEventBatch.from_records([{"timestamp": t - 10 * day, "message": "old"},
                                   {"timestamp": t - 10 * day + 1, "message": "old2"}]))
    svc.put_log_events("/r", "s", LogEventBatch.from_records([{"timestamp": t - 1000, "message": "new"}]))
    svc.put_log_events("/r", "gone", LogEventBatch.from_records([{"timestamp": t - 500, "message": "in a deleted stream"}]))
    svc.create_log_group("/dead")
    svc.create_log_stream("/dead", "s")
    svc.put_log_events("/dead", "s", LogEventBatch.from_records([{"timestamp": t, "message": "in a deleted group"}]))

    def stored() -> int:
        return runtime.telemetry.query_rows("SELECT count() FROM {db:Identifier}.log_events")[0][0]

    assert stored() == 5
    svc.put_retention_policy("/r", 7)
    svc.delete_log_stream("/r", "gone")
    svc.delete_log_group("/dead")
    assert [e.message for e in svc.filter_log_events(["/r"]).events] == ["new"]
    assert stored() == 5  # hidden, not yet removed
    report = svc.purge()
    assert report.expired_events == 2 and len(report.groups) == 1 and len(report.streams) == 1
    assert stored() == 1
    assert svc.purge().expired_events == 0


def test_filter_pages_stop_at_one_megabyte(svc):
    svc.create_log_group("/big")
    svc.create_log_stream("/big", "s")
    t = now_ms() - 10_000
    for b in range(3):
        svc.put_log_events("/big", "s", LogEventBatch.from_records([{"timestamp": t + b * 10 + i, "message": f"{b}-{i}-" + "x" * 200_000}
                                         for i in range(4)]))
    pages, token = [], None
    while True:
        page = svc.filter_log_events(["/big"], next_token=token)
        pages.append(len(page.events))
        token = page.next_token
        if not token:
            break
    assert pages == [5, 5, 2]


def test_text_with_tabs_quotes_and_backslashes_round_trips_through_query_parameters(svc):
    svc.create_log_group("/esc")
    svc.create_log_stream("/esc", "s")
    odd = "path C:\\temp\\x\tit's \"quoted\" end"
    svc.put_log_events("/esc", "s", LogEventBatch.from_records([{"timestamp": now_ms(), "message": odd}, {"timestamp": now_ms(), "message": "y"}]))
    assert [e.message for e in svc.filter_log_events(["/esc"], pattern='"it\'s"').events] == [odd]
    assert [e.message for e in svc.filter_log_events(["/esc"], stream_names=["s"]).events] == [odd, "y"]


def test_json_codec_still_converts_timestamps_after_skipping_plain_shapes():
    import botocore.session
    import orjson

    from rexwatch.aws.protocols import json as codec

    session = botocore.session.get_session()
    put = session.get_service_model("logs").operation_model("PutLogEvents")
    events = [{"timestamp": 1, "message": "m"}]
    assert codec.decode(orjson.dumps({"logEvents": events}), {}, put)["logEvents"] is not None
    stats = session.get_service_model("cloudwatch").operation_model("GetMetricStatistics")
    got = codec.decode(orjson.dumps({"StartTime": 1700000000, "Namespace": "x"}), {}, stats)
    assert got["StartTime"].year == 2023 and got["Namespace"] == "x"


def test_filter_paging_is_stable_while_events_arrive(svc):
    svc.create_log_group("/page")
    svc.create_log_stream("/page", "s")
    t = now_ms() - 100_000
    first = [{"timestamp": t + i * 10, "message": f"m{i}"} for i in range(100)]
    svc.put_log_events("/page", "s", LogEventBatch.from_records(first))
    seen, token, n = [], None, 0
    while True:
        page = svc.filter_log_events(["/page"], limit=7, next_token=token)
        seen += [e.message for e in page.events]
        # Events arrive between pages, before and after the position reached.
        svc.put_log_events("/page", "s", LogEventBatch.from_records([{"timestamp": t + 5 + n * 10, "message": f"late{n}"},
                                          {"timestamp": t + 2000 + n, "message": f"new{n}"}]))
        n += 1
        token = page.next_token
        if not token:
            break
    assert seen == [e["message"] for e in first]
    # A new search sees everything.
    assert len(svc.filter_log_events(["/page"]).events) == 100 + 2 * n


def test_retention_worker_is_registered_and_purges(runtime, svc):
    from rexwatch.workers.base import build

    svc.create_log_group("/w")
    svc.create_log_stream("/w", "s")
    svc.put_log_events("/w", "s", LogEventBatch.from_records([{"timestamp": now_ms(), "message": "x"}]))
    svc.delete_log_group("/w")
    worker = build("retention", runtime)
    assert worker.interval <= 3600
    worker.tick(time.time())
    assert runtime.telemetry.query_rows("SELECT count() FROM {db:Identifier}.log_events")[0][0] == 0


def test_retention_lease_lets_one_node_purge(runtime):
    from rexwatch.stores.control.leases import acquire as take_lease
    from rexwatch.stores.control.leases import release as release_lease

    assert take_lease(runtime.control, "retention", "node-a", 60)
    assert take_lease(runtime.control, "retention", "node-a", 60)  # renew
    assert not take_lease(runtime.control, "retention", "node-b", 60)
    release_lease(runtime.control, "retention", "node-a")
    assert take_lease(runtime.control, "retention", "node-b", 60)
    assert take_lease(runtime.control, "retention", "node-c", -1) is False
    assert take_lease(runtime.control, "retention", "node-b", -1)  # now expired
    assert take_lease(runtime.control, "retention", "node-c", 60)  # an expired lease is taken over
