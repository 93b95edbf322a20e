"""On-demand profiling: a CPU profile in speedscope JSON, a heap snapshot and every thread's stack."""

from __future__ import annotations

import threading

import httpx
import pytest

import rexwatch.sdk as rw
from rexwatch.sdk.profiling import ProfilingServer
from rexwatch.testing import free_port


def hot_loop(stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n = (n * 31 + 7) % 1_000_003


@pytest.fixture
def profiled():
    port = free_port()
    sdk = rw.configure(logging_level=None, endpoint=f"http://127.0.0.1:{free_port()}", flush_interval=60,
                       profiling_port=port, profiling_token="s3cret")
    assert any(isinstance(x, ProfilingServer) for x in sdk.extras)
    stop = threading.Event()
    worker = threading.Thread(target=hot_loop, args=(stop,), name="hot-worker", daemon=True)
    worker.start()
    yield f"http://127.0.0.1:{port}"
    stop.set()
    worker.join()
    rw.shutdown(5)


def test_cpu_profile_is_speedscope_json_showing_the_hot_function(profiled):
    auth = {"Authorization": "Bearer s3cret"}
    r = httpx.get(f"{profiled}/debug/pprof/profile", params={"seconds": 1, "hz": 200}, headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    hot = next(p for p in doc["profiles"] if p["name"].startswith("hot-worker"))
    assert hot["type"] == "sampled" and len(hot["samples"]) == len(hot["weights"]) > 10
    leaf_names = {frames[s[-1]]["name"] for s in hot["samples"]}
    assert "hot_loop" in leaf_names
    # Root first: the thread's bootstrap is the outermost frame.
    assert frames[hot["samples"][0][0]]["name"].startswith("Thread._bootstrap")
    assert all(not p["name"].startswith("rexwatch-") for p in doc["profiles"])


def test_heap_and_stacks_and_the_token(profiled):
    assert httpx.get(f"{profiled}/debug/pprof/goroutine", timeout=30).status_code == 401
    assert httpx.get(f"{profiled}/debug/pprof/goroutine?token=nope", timeout=30).status_code == 401
    text = httpx.get(f"{profiled}/debug/pprof/goroutine?token=s3cret", timeout=30).text
    assert "thread hot-worker" in text and "in hot_loop" in text
    auth = {"Authorization": "Bearer s3cret"}
    bad = httpx.get(f"{profiled}/debug/pprof/profile?seconds=9999", headers=auth, timeout=30)
    assert bad.status_code == 400 and "seconds" in bad.json()["error"]
    import tracemalloc

    was = tracemalloc.is_tracing()
    try:
        if not was:
            off = httpx.get(f"{profiled}/debug/pprof/heap", headers=auth, timeout=30)
            assert off.status_code == 409 and "start=1" in off.json()["message"]
        assert httpx.get(f"{profiled}/debug/pprof/heap?start=1", headers=auth, timeout=60).json()["tracing"]
        hoard = [bytearray(1000) for _ in range(2000)]  # 2 MB allocated on a line of this file
        heap = httpx.get(f"{profiled}/debug/pprof/heap?limit=5", headers=auth, timeout=60).json()
        assert heap["tracing"] is True and heap["current"] >= 2_000_000 and len(heap["top"]) <= 5
        assert any("test_sdk_profiling.py" in frame for frame in heap["top"][0]["traceback"]), heap["top"][0]
        del hoard
    finally:
        if not was:
            tracemalloc.stop()


def test_profiling_refuses_a_public_address_without_a_token():
    with pytest.raises(ValueError, match="profiling_token"):
        ProfilingServer(free_port(), "0.0.0.0")
