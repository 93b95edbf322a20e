"""An acknowledged PutLogEvents survives SIGKILL of a real server process."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.config import Config

from rexwatch.testing import wait_until


def _client(url: str):
    return boto3.client("logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
                        aws_secret_access_key="s", config=Config(retries={"max_attempts": 1},
                                                                 read_timeout=60, connect_timeout=10))


@pytest.mark.slow
def test_acked_events_survive_sigkill(server_process, tmp_path):
    data = tmp_path / "srv"
    srv = server_process(data_dir=data, env={"REXWATCH_WORKERS": "none"}).start()
    c = _client(srv.url)
    c.create_log_group(logGroupName="/aws/ecs/utm-api")
    for i in range(4):
        c.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName=f"w{i}")
    acked: list[set[str]] = [set() for _ in range(4)]
    stop = threading.Event()

    def writer(i: int) -> None:
        cl = _client(srv.url)
        n = 0
        while not stop.is_set() and n < 400:
            msgs = [f"w{i}-b{n}-e{j}" for j in range(100)]
            now = int(time.time() * 1000)
            try:
                cl.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName=f"w{i}",
                                  logEvents=[{"timestamp": now, "message": m} for m in msgs])
            except Exception:
                return  # the server died mid-request: this batch was never acknowledged
            acked[i].update(msgs)
            n += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    # SIGKILL while the writers are busy: each has had batches acknowledged and goes on sending.
    wait_until(lambda: all(len(a) >= 500 for a in acked), 120, what="every writer to have 5 batches acked")
    srv.stop(9)
    stop.set()
    for t in threads:
        t.join(20)
    total_acked = sum(len(a) for a in acked)
    assert total_acked > 0

    srv2 = server_process(data_dir=data, env={"REXWATCH_WORKERS": "none"}).start()
    c2 = _client(srv2.url)
    stored: set[str] = set()
    token = None
    while True:
        kw = {"nextToken": token} if token else {}
        page = c2.filter_log_events(logGroupName="/aws/ecs/utm-api", limit=10_000, **kw)
        stored.update(e["message"] for e in page["events"])
        token = page.get("nextToken")
        if not token:
            break
    missing = set().union(*acked) - stored
    assert not missing, f"{len(missing)} of {total_acked} acknowledged events were lost"
    srv2.stop()
