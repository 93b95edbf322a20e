from __future__ import annotations

import pyarrow as pa

from rexwatch.stores.telemetry import schema


def test_schema_apply_is_idempotent(runtime):
    assert schema.apply(runtime.telemetry) == []  # the fixture applied everything already
    ids = {r[0] for r in runtime.telemetry.query_rows("SELECT id FROM {db:Identifier}.schema_migrations")}
    assert {m.id for m in schema.all_migrations()} == ids


def test_insert_arrow_and_parameterised_query(runtime):
    tx = runtime.telemetry
    tx.execute("CREATE TABLE {db:Identifier}.t (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
    n = tx.insert_arrow("t", pa.table({"s": ["x", "y", "z"], "a": pa.array([1, 2, 3], pa.uint64())}))
    assert n == 3
    assert tx.query_rows("SELECT s FROM {db:Identifier}.t WHERE a >= {m:UInt64} ORDER BY a", {"m": 2}) == [("y",), ("z",)]
    assert tx.query_arrow("SELECT count() AS n FROM {db:Identifier}.t").column("n").to_pylist() == [3]


def test_databases_are_isolated(runtime, chdb_engine, tmp_path):
    from rexwatch.testing import make_runtime

    other = make_runtime(tmp_path / "other", chdb_engine, workers="none")
    runtime.telemetry.execute("CREATE TABLE {db:Identifier}.only_here (a UInt8) ENGINE = Memory")
    assert other.telemetry.query_rows("EXISTS TABLE {db:Identifier}.only_here") == [(0,)]
    other.telemetry.drop_database()


def test_long_query_does_not_hold_up_inserts(runtime):
    import threading

    from rexwatch.testing import wait_until

    tx = runtime.telemetry
    tx.execute("CREATE TABLE {db:Identifier}.ev (a UInt64) ENGINE = MergeTree ORDER BY a")
    done = threading.Event()

    def long_query() -> None:
        # About 3 s of wall time whatever the machine's load: sleepEachRow.
        tx.query_rows("SELECT sum(sleepEachRow(0.001)) FROM numbers(3000) SETTINGS max_block_size = 100")
        done.set()

    t = threading.Thread(target=long_query)
    t.start()
    running = "SELECT count() FROM system.processes WHERE query LIKE '%sleepEachRow%' AND query NOT LIKE '%processes%'"
    wait_until(lambda: tx.query_rows(running)[0][0], 60, what="the long query to start")
    tx.insert_arrow("ev", pa.table({"a": pa.array(range(1000), pa.uint64())}))
    # The insert finished while the query still ran: it did not queue behind it.
    assert not done.is_set(), "the long query ended before the insert: the test proves nothing"
    t.join()
    assert tx.query_rows("SELECT count() FROM {db:Identifier}.ev") == [(1000,)]
