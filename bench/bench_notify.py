"""Notifier throughput: outbox rows delivered per second to a local webhook receiver.

Enqueues N messages (one transaction) for a topic with S http subscriptions,
then runs the notify worker's dispatch loop until every delivery is recorded
(claim → send with bounded concurrency → record, the same code the worker
runs). The receiver is a minimal keep-alive HTTP server in its own process so
it does not share the notifier's interpreter. Bounded: fixed count, time cap.
Usage: python bench/bench_notify.py [--messages 2000] [--subscriptions 2] [--control-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import platform
import tempfile
import time
from pathlib import Path

import psutil


def machine() -> str:
    return (f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
            f"Python {platform.python_version()}")


def receiver(port: int, ready: mp.Event, counter: mp.Value) -> None:
    """HTTP/1.1 keep-alive server answering 200 to every POST, counting them."""

    class Proto(asyncio.Protocol):
        def connection_made(self, transport):
            self.t = transport
            self.buf = b""

        def data_received(self, data):
            self.buf += data
            while True:
                head_end = self.buf.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buf[:head_end].lower()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                total = head_end + 4 + length
                if len(self.buf) < total:
                    return
                self.buf = self.buf[total:]
                with counter.get_lock():
                    counter.value += 1
                self.t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    async def main():
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def drain(dispatcher, total: int, cap_s: float) -> tuple[float, dict[str, float]]:
    """The worker's loop (claim → send → record), timing each phase."""
    from rexwatch.services.notify import NotifyService
    from rexwatch.services.notify.delivery import CLAIM_BATCH

    svc = dispatcher.rt.service(NotifyService)
    phases = {"claim": 0.0, "send": 0.0, "record": 0.0}
    started = time.perf_counter()
    async with dispatcher.new_client() as http:
        while time.perf_counter() - started < cap_s:
            t = time.perf_counter()
            items = await asyncio.to_thread(dispatcher.claim, CLAIM_BATCH)
            phases["claim"] += time.perf_counter() - t
            if not items:
                pending = await asyncio.to_thread(svc.deliveries, status="pending", limit=1)
                if not pending:
                    break
                await asyncio.sleep(0.01)
                continue
            t = time.perf_counter()
            outcomes = await dispatcher.send_all(items, http)
            phases["send"] += time.perf_counter() - t
            t = time.perf_counter()
            await asyncio.to_thread(dispatcher.record, outcomes)
            phases["record"] += time.perf_counter() - t
    return time.perf_counter() - started, phases


def scratch_pg(admin_url: str):
    """A throw-away database next to ``admin_url`` (created and dropped here)."""
    import contextlib
    import uuid

    from sqlalchemy import create_engine, text

    @contextlib.contextmanager
    def cm():
        name = f"bench_notify_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return cm()


def run(messages: int, subs: int, control_url: str | None, concurrency: int) -> dict:
    if control_url and control_url.startswith("postgresql"):
        with scratch_pg(control_url) as url:
            return _run(messages, subs, url, concurrency)
    return _run(messages, subs, control_url, concurrency)


def _run(messages: int, subs: int, control_url: str | None, concurrency: int) -> dict:
    from rexwatch.runtime import Runtime
    from rexwatch.services.notify import NotifyService
    from rexwatch.services.notify.delivery import Dispatcher
    from rexwatch.settings import load_settings
    from rexwatch.stores.control import connect_control, upgrade
    from rexwatch.testing import free_port

    port = free_port()
    ready, counter = mp.Event(), mp.Value("i", 0)
    proc = mp.Process(target=receiver, args=(port, ready, counter), daemon=True)
    proc.start()
    ready.wait(10)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=tmp, control_url=control_url or f"sqlite:///{Path(tmp) / 'control.db'}",
                                 notify_concurrency=concurrency)
        engine = connect_control(settings.effective_control_url)
        upgrade(engine)
        rt = Runtime(settings, engine, telemetry=None)  # the notifier never touches telemetry
        svc = rt.service(NotifyService)
        arn = svc.create_topic(f"bench-{free_port()}")
        for i in range(subs):
            svc.subscribe(arn, "http", f"http://127.0.0.1:{port}/hook/{i}", {"SkipConfirmation": "true"})
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for i in range(messages):
                svc.enqueue(conn, arn, f'{{"n": {i}, "text": "bench message"}}', subject="bench")
        enqueue_s = time.perf_counter() - t0
        cpu0 = time.process_time()
        elapsed, phases = asyncio.run(drain(Dispatcher(rt), messages * subs, 120))
        cpu = time.process_time() - cpu0
        delivered = len(svc.deliveries(status="delivered", topic_arn=arn, limit=1000))
        received = counter.value
        engine.dispose()
    proc.terminate()
    total = messages * subs
    return {"deliveries": total, "received": received, "seconds": elapsed, "rate": total / elapsed,
            "enqueue_rate": messages / enqueue_s, "delivered_sample": delivered, "phases": phases, "cpu": cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--subscriptions", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--control-url", default=None, help="PostgreSQL admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test; "
                    "the bench runs in a scratch database it creates and drops")
    a = ap.parse_args()
    print(machine())
    r = run(a.messages, a.subscriptions, a.control_url, a.concurrency)
    store = "PostgreSQL" if a.control_url and a.control_url.startswith("postgresql") else "SQLite"
    print(f"control store {store}: {r['deliveries']} deliveries in {r['seconds']:.2f}s = {r['rate']:.0f}/s "
          f"(receiver counted {r['received']}); enqueue {r['enqueue_rate']:.0f} messages/s; phases "
          + ", ".join(f"{k} {v:.2f}s" for k, v in r["phases"].items())
          + f"; notifier CPU {r['cpu']:.2f}s = {r['deliveries'] / r['cpu']:.0f} deliveries per CPU-second")


if __name__ == "__main__":
    main()
