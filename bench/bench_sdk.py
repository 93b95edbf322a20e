"""Per-request cost of the SDK on a minimal FastAPI app, and its memory with the server down.

Overhead, in two settings, each comparing the same app doing the same work: its route
logs one line per request through stdlib ``logging``. Without the SDK that line goes to
a ``logging.StreamHandler`` with a plain ``Formatter`` writing to a file (what an app
logging to stdout does); with it, the SDK's middleware runs and the root handler ships
the line as JSON, either to an HTTP sink process (the ``rexwatch`` exporter: the
background sender really encodes and posts batches) or to stdout redirected to a file
(the ``emf`` exporter with ``emf_destination=stdout``: the same kind of sink as without).
The SDK's own access line is off in those rows; the ``+ access line`` rows compare the
SDK with its access line against the app with a uvicorn-style access logger (two lines
per request in both).

- ``asgi``: the app is called through its ASGI interface in a worker process (one per
  revision), in interleaved rounds; throughput is requests per second of that process's CPU time
  (every thread, the sender's included), which a loaded machine disturbs less than wall
  time. p50/p99 are per call.
- ``uvicorn``: each variant is a uvicorn process (httptools, one worker) and an HTTP/1.1
  keep-alive load client in this process sends a bounded number of requests per round
  over a few connections, rounds interleaved across the variants; the figure is the
  server process's CPU time per request (psutil), the sender thread's included.

Server down: the instrumented app serves ``--down-requests`` requests as fast as it
can with the exporter pointed at a closed port, or, with ``--down-rate``, that many
requests per second for ``--down-seconds`` (paced in 50 ms steps); RSS is sampled
along the way.

With ``--baseline DIR`` (a source tree of another revision, e.g. a git worktree of
main), that tree's SDK runs beside this one's in the same rounds: in process, each tree's
variants run in a worker process of their own and the workers take turns round by round;
under uvicorn, each tree's SDK apps are servers of their own, driven in turn with the
others. Each revision is compared with the same stdlib-logging app.

Usage: python bench/bench_sdk.py [--part asgi,uvicorn,down] [--requests 20000] [--rounds 5]
       [--http-requests 20000] [--down-requests 600000] [--down-rate 1000 --down-seconds 600]
       [--baseline DIR] [--append bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

from benchlib import wait_healthy

SINK = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the rexwatch server (uvicorn) answers the SDK's pooled client
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # The real server's answers: 201 on creating a group or stream, a sequence token on events.
        if self.path.endswith(("/groups", "/streams")):
            status, body = b"201 Created", b'{"name":"x"}'
        elif self.path.endswith("/events"):
            status, body = b"200 OK", b'{"nextSequenceToken":"%d"}' % time.time_ns()
        else:
            status, body = b"200 OK", b"{}"
        # Head and body in one write, as uvicorn sends them (with TCP_NODELAY): two small writes
        # here would stall each batch 40 ms on Nagle's algorithm and the client's delayed ACK.
        self.wfile.write(b"HTTP/1.1 " + status + b"\\r\\nContent-Type: application/json\\r\\nContent-Length: "
                         + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"


class AccessLog:
    """What uvicorn's access log does: one stdlib line per request (for the rows with an access line)."""

    def __init__(self, app) -> None:
        self.app = app
        self.log = logging.getLogger("uvicorn.access")

    async def __call__(self, scope, receive, send) -> None:
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        self.log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", scope["method"], scope["path"],
                      scope["http_version"], status)


def make_app(instrumented: bool, access: bool = False):
    from fastapi import FastAPI

    from rexwatch.sdk.asgi import RexwatchMiddleware

    app = FastAPI()
    log = logging.getLogger("bench.api")

    @app.get("/api/v1/tenants/{tenant_id}")
    async def tenant(tenant_id: str) -> dict:
        log.info("tenant fetched", extra={"tenant_id": tenant_id})
        return {"id": tenant_id}

    if instrumented:
        app.add_middleware(RexwatchMiddleware)
    elif access:
        app.add_middleware(AccessLog)
    return app


async def drive(app, n: int, times: list[int]) -> None:
    scope_base = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                  "scheme": "http", "query_string": b"", "root_path": "", "headers": [(b"host", b"bench")],
                  "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    clock = time.perf_counter_ns
    for i in range(n):
        path = f"/api/v1/tenants/{i % 500}"
        scope = {**scope_base, "path": path, "raw_path": path.encode()}
        t = clock()
        await app(scope, receive, send)
        times.append(clock() - t)


# Variants: (name, instrumented, access line, SDK exporter or None for stdlib logging)
VARIANTS = [
    ("stdlib logging to a file", False, False, None),
    ("SDK, JSON lines to stdout (a file)", True, False, "stdout"),
    ("SDK, batches posted to an HTTP sink", True, False, "http"),
    ("stdlib logging + uvicorn-style access line", False, True, None),
    ("SDK + its access line, HTTP sink", True, True, "http"),
]


def sdk_settings(kind: str, sink: str, access: bool) -> dict:
    common = {"service": "bench", "flush_interval": 1.0, "access_log": access}
    if kind == "stdout":
        return {**common, "exporter": "emf", "emf_destination": "stdout"}
    return {**common, "endpoint": sink}


def round_ratio(base: list[float], other: list[float]) -> float:
    """How many fewer requests per CPU-second, in %, as the median over rounds of each round's ratio: a
    round that another job on the machine disturbed moves it less than it moves the sums."""
    return statistics.median((1 - b / o) * 100 for b, o in zip(base, other, strict=True))


def asgi_worker(args) -> None:
    """One revision's in-process rounds, run on command from the parent (one line on stdin per round),
    so two revisions' workers can take turns in the same run. Answers each round with one JSON line."""
    import rexwatch.sdk as rw

    sink, tmp = args.sink, args.tmp
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    plain = logging.StreamHandler(open(os.path.join(tmp, f"stdlib-{os.getpid()}.log"), "a"))  # noqa: SIM115
    plain.setFormatter(logging.Formatter(PLAIN))
    sdk_out = open(os.path.join(tmp, f"sdk-stdout-{os.getpid()}.log"), "a")  # noqa: SIM115
    real_stdout = sys.stdout
    handler = rw.RexwatchHandler()
    apps = {(inst, access): make_app(inst, access) for _, inst, access, _ in VARIANTS}
    loop = asyncio.new_event_loop()
    for _ in sys.stdin:
        result: dict[str, dict] = {}
        sent = dropped = 0
        for name, inst, access, kind in VARIANTS:
            app = apps[(inst, access)]
            if kind is not None:
                sys.stdout = sdk_out if kind == "stdout" else real_stdout
                rw.configure(logging_level=None, **sdk_settings(kind, sink, access))
                root.addHandler(handler)
            else:
                root.addHandler(plain)
            times: list[int] = []
            start = time.process_time()  # CPU of every thread: the sender's work counts
            loop.run_until_complete(drive(app, args.requests, times))
            sender_cpu = 0.0
            if kind is not None:
                rw.flush(30)  # this round's lines leave inside its own measurement
                thread = rw.get().sender._thread  # started by this round's first line: its CPU is this round's
                if thread is not None and thread.ident is not None:
                    sender_cpu = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            used = time.process_time() - start
            if kind is not None:
                root.removeHandler(handler)
                st = rw.stats()
                sent += st["logs_sent"]
                dropped += st["logs_dropped"]
                rw.shutdown(10)
                sys.stdout = real_stdout
            else:
                root.removeHandler(plain)
            result[name] = {"cpu": used, "sender_cpu": sender_cpu, "times": times}
        print(json.dumps({"variants": result, "sent": sent, "dropped": dropped}), flush=True)


def part_asgi(args, sink: str, tmp: str, trees: dict[str, str]) -> list[str]:
    """Each revision's variants in a worker process of its own; the workers take turns, round by round."""
    workers = {}
    for label, src in trees.items():
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, os.path.abspath(__file__), "--asgi-worker", "--sink", sink, "--tmp", tmp,
               "--requests", str(args.requests)] + (["--no-stdout"] if args.no_stdout else [])
        workers[label] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    cpu = {label: {v[0]: 0.0 for v in VARIANTS} for label in trees}
    per_round: dict[str, dict[str, list[float]]] = {label: {v[0]: [] for v in VARIANTS} for label in trees}
    times: dict[str, dict[str, list[int]]] = {label: {v[0]: [] for v in VARIANTS} for label in trees}
    sender: dict[str, dict[str, float]] = {label: {v[0]: 0.0 for v in VARIANTS} for label in trees}
    sent = {label: 0 for label in trees}
    dropped = {label: 0 for label in trees}
    try:
        for r in range(args.rounds + 1):  # the first round warms up and is not counted
            for label, proc in workers.items():
                proc.stdin.write("round\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"{label}: the in-process worker stopped")
                got = json.loads(line)
                if r == 0:
                    continue
                for name, v in got["variants"].items():
                    cpu[label][name] += v["cpu"]
                    sender[label][name] += v.get("sender_cpu", 0.0)
                    per_round[label][name].append(v["cpu"])
                    times[label][name].extend(v["times"])
                sent[label] += got["sent"]
                dropped[label] += got["dropped"]
    finally:
        for proc in workers.values():
            proc.stdin.close()
            proc.wait(60)
    n = args.requests * args.rounds
    p99 = lambda xs: sorted(xs)[int(len(xs) * 0.99)] / 1000  # noqa: E731
    lines = ["| app (ASGI calls in process) | revision | p50 | p99 | requests per CPU-second | vs. its baseline "
             "| median of the rounds' ratios |", "|---|---|---|---|---|---|---|"]
    for label in trees:
        rows = {name: (statistics.median(times[label][name]) / 1000, p99(times[label][name]), n / cpu[label][name])
                for name, *_ in VARIANTS}
        base = {access: next(v[0] for v in VARIANTS if v[2] == access and v[3] is None) for access in (False, True)}
        for name, _, access, _ in VARIANTS:
            p50, q99, thr = rows[name]
            b = rows[base[access]]
            if base[access] == name:
                vs, med = "baseline", ""
            else:
                vs = f"+{p50 - b[0]:.1f} µs p50, {(1 - thr / b[2]) * 100:.1f} % fewer"
                med = f"{round_ratio(per_round[label][base[access]], per_round[label][name]):.1f} % fewer"
            lines.append(f"| {name} | {label} | {p50:.1f} µs | {q99:.1f} µs | {thr:,.0f} | {vs} | {med} |")
    lines.append("")
    lines.append("The SDK's sender thread, CPU per request (its request-metrics fold included; the access-line "
                 "row ships two lines per request, the others one): "
                 + "; ".join(f"{label}: " + ", ".join(f"{name} {sender[label][name] / n * 1e6:.2f} µs"
                                                     for name, _, _, kind in VARIANTS if kind is not None)
                             for label in trees) + ".")
    lines.append("")
    lines.append("Lines sent by the SDK rounds " + ", ".join(f"{label} {sent[label]:,} (dropped {dropped[label]:,})"
                                                          for label in trees) + ".")
    return lines


APP_MODULE = """
import logging, os, sys
from fastapi import FastAPI

mode, access = os.environ["BENCH_MODE"], os.environ.get("BENCH_ACCESS") == "1"
app = FastAPI()
log = logging.getLogger("bench.api")


@app.get("/api/v1/tenants/{tenant_id}")
async def tenant(tenant_id: str) -> dict:
    log.info("tenant fetched", extra={"tenant_id": tenant_id})
    return {"id": tenant_id}


root = logging.getLogger()
root.setLevel(logging.INFO)
if mode == "stdlib":
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(h)
else:
    import rexwatch.sdk as rw
    from rexwatch.sdk.asgi import RexwatchMiddleware

    settings = {"exporter": "emf", "emf_destination": "stdout"} if mode == "stdout" else {
        "endpoint": os.environ["BENCH_SINK"]}
    rw.configure(service="bench", flush_interval=1.0, access_log=access, **settings)
    app.add_middleware(RexwatchMiddleware)
"""


async def _client(port: int, n: int, conns: int) -> list[float]:
    """n GET requests over ``conns`` keep-alive connections; returns each one's latency (s)."""
    lat: list[float] = []
    per = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]

    async def one(k: int, count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in range(count):
                req = f"GET /api/v1/tenants/{(k * 7919 + i) % 500} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
                t = time.perf_counter()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                lat.append(time.perf_counter() - t)
        finally:
            writer.close()

    await asyncio.gather(*(one(k, c) for k, c in enumerate(per)))
    return lat


def _other_threads_cpu(ps) -> float:
    """CPU seconds of a process's threads other than its main one (a thread that ended is not counted:
    the SDK's sender lives as long as the server)."""
    return sum(t.user_time + t.system_time for t in ps.threads() if t.id != ps.pid)


def part_uvicorn(args, sink: str, tmp: str, trees: dict[str, str]) -> list[str]:
    import psutil

    with open(os.path.join(tmp, "bench_sdk_app.py"), "w") as f:
        f.write(textwrap.dedent(APP_MODULE))
    servers = {}
    # The stdlib app imports no rexwatch: one serves as the baseline of every revision.
    first = next(iter(trees))
    modes = {"stdlib logging to stdout (a file)": ("stdlib", False, trees[first])}
    for label, src in trees.items():
        suffix = f" ({label})" if len(trees) > 1 else ""
        if not args.no_stdout:
            modes[f"SDK, JSON lines to stdout (a file){suffix}"] = ("stdout", False, src)
        modes[f"SDK, batches posted to an HTTP sink{suffix}"] = ("http", False, src)
    try:
        for name, (mode, access, src) in modes.items():
            p = free_port()
            env = {**os.environ,
                   "PYTHONPATH": os.pathsep.join(filter(None, [tmp, src, os.environ.get("PYTHONPATH")])),
                   "BENCH_MODE": mode, "BENCH_ACCESS": "1" if access else "0",
                   "BENCH_SINK": sink}
            out = open(os.path.join(tmp, f"uvicorn-{mode}-{p}.log"), "w")  # noqa: SIM115
            proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench_sdk_app:app", "--port", str(p),
                                     "--no-access-log", "--log-level", "warning", "--http", "httptools"],
                                    env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
            servers[name] = (proc, p, out)
        for name, (proc, p, _) in servers.items():
            wait_healthy(f"http://127.0.0.1:{p}", proc, 60, "/api/v1/tenants/1", f"{name}: uvicorn")
        cpu = {name: 0.0 for name in servers}
        others = {name: 0.0 for name in servers}  # threads besides the event loop's: the SDK's sender
        per_round: dict[str, list[float]] = {name: [] for name in servers}
        lat: dict[str, list[float]] = {name: [] for name in servers}
        loop = asyncio.new_event_loop()
        for r in range(args.rounds + 1):
            for name, (proc, p, _) in servers.items():
                ps = psutil.Process(proc.pid)
                before = ps.cpu_times()
                before_others = _other_threads_cpu(ps)
                got = loop.run_until_complete(_client(p, args.http_requests, args.connections))
                time.sleep(1.2)  # lets the SDK's 1 s flush of this round's lines land inside the round
                after = ps.cpu_times()
                after_others = _other_threads_cpu(ps)
                if r:
                    others[name] += after_others - before_others
                    cpu[name] += (after.user + after.system) - (before.user + before.system)
                    per_round[name].append((after.user + after.system) - (before.user + before.system))
                    lat[name].extend(got)
    finally:
        for proc, _, out in servers.values():
            proc.terminate()
            proc.wait(10)
            out.close()
    n = args.http_requests * args.rounds
    lines = ["| app (uvicorn process, HTTP client) | server CPU per request | requests per CPU-second | "
             "client p50 | vs. stdlib logging | median of the rounds' ratios | CPU of other threads per request |",
             "|---|---|---|---|---|---|---|"]
    first = next(iter(servers))
    base = n / cpu[first]
    for name in servers:
        thr = n / cpu[name]
        vs = "baseline" if name == first else f"{(1 - thr / base) * 100:.1f} % fewer"
        med = "" if name == first else f"{round_ratio(per_round[first], per_round[name]):.1f} % fewer"
        lines.append(f"| {name} | {cpu[name] / n * 1e6:.0f} µs | {thr:,.0f} | "
                     f"{statistics.median(lat[name]) * 1e6:.0f} µs | {vs} | {med} | {others[name] / n * 1e6:.2f} µs |")
    return lines


def part_down(args, root: logging.Logger) -> list[str]:
    import rexwatch.sdk as rw

    inst = make_app(True)
    loop = asyncio.new_event_loop()
    handler = rw.RexwatchHandler()
    rw.configure(service="bench", endpoint=f"http://127.0.0.1:{free_port()}", flush_interval=1.0,
                 logging_level=None)
    root.addHandler(handler)
    samples = []
    down_start = time.perf_counter()
    if args.down_rate:
        step = 0.05
        per_step = max(1, round(args.down_rate * step))
        served = 0
        next_step = next_sample = down_start
        baseline = 0
        while time.perf_counter() - down_start < args.down_seconds:
            loop.run_until_complete(drive(inst, per_step, []))
            served += per_step
            now = time.perf_counter()
            if now >= next_sample:
                samples.append(rss())
                next_sample += args.down_seconds / 20
                if len(samples) == 3:  # after 10 % of the time
                    baseline = samples[-1]
            next_step += step
            if next_step > now:
                time.sleep(next_step - now)  # pacing the offered load, not waiting for an event
        samples.append(rss())
        baseline = baseline or samples[0]
    else:
        chunk = max(1, args.down_requests // 20)
        served = chunk * 20
        for i in range(20):
            loop.run_until_complete(drive(inst, chunk, []))
            samples.append(rss())
            if i == 1:
                baseline = rss()
    down_wall = time.perf_counter() - down_start
    down_stats = rw.stats()
    rw.shutdown(2)
    root.removeHandler(handler)
    mib = 1024 * 1024
    return [
        f"Server down (closed port): {served:,} requests in {down_wall:.0f} s "
        f"({served / down_wall:,.0f} req/s{f', paced at {args.down_rate:,.0f}' if args.down_rate else ''}); "
        f"RSS after 10 % of them {baseline / mib:.0f} MiB, "
        f"at the end {samples[-1] / mib:.0f} MiB, highest {max(samples) / mib:.0f} MiB; "
        f"lines dropped {down_stats['logs_dropped']:,}, given up {down_stats['logs_failed']:,}, "
        f"send errors {down_stats['send_errors']:,}."
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="asgi,uvicorn,down")
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--http-requests", type=int, default=20_000, help="per variant and round (uvicorn part)")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--down-requests", type=int, default=600_000)
    ap.add_argument("--down-rate", type=float, default=0.0, help="requests/s with the server down (0: flat out)")
    ap.add_argument("--down-seconds", type=float, default=600.0)
    ap.add_argument("--no-stdout", action="store_true",
                    help="leave out the stdout rows (to measure a tree whose SDK has no stdout destination)")
    ap.add_argument("--append", default=None)
    ap.add_argument("--baseline", default=None,
                    help="a source tree of another revision (e.g. a git worktree of main): its SDK runs beside "
                         "this tree's, rounds alternating, in the asgi and uvicorn parts")
    ap.add_argument("--asgi-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sink-url", default=None,
                    help="post the SDK's batches to this server (e.g. a running rexwatch server) instead of the "
                         "bench's own sink")
    ap.add_argument("--sink", default="", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.no_stdout:
        VARIANTS[:] = [v for v in VARIANTS if v[3] != "stdout"]
    if args.asgi_worker:
        asgi_worker(args)
        return
    parts = set(args.part.split(","))
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    trees = {"this tree": here}
    if args.baseline:
        trees["baseline"] = os.path.join(os.path.abspath(args.baseline), "src")

    sink_proc = None
    if args.sink_url:
        sink = args.sink_url.rstrip("/")
    else:
        port = free_port()
        sink = f"http://127.0.0.1:{port}"
        sink_proc = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    lines = [
        "\n## SDK overhead (`bench/bench_sdk.py`)\n",
        f"{dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start; {args.rounds} interleaved rounds "
        f"(after one warm-up round) per variant\n",
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if "asgi" in parts:
                got = part_asgi(args, sink, tmp, trees)
                lines += [f"In process, {args.requests:,} requests per round:\n", *got, ""]
            if "uvicorn" in parts:
                got = part_uvicorn(args, sink, tmp, trees)
                lines += [f"uvicorn, {args.http_requests:,} requests per round over {args.connections} "
                          "keep-alive connections:\n", *got, ""]
            if "down" in parts:
                lines += part_down(args, logging.getLogger())
    finally:
        if sink_proc is not None:
            sink_proc.terminate()
            sink_proc.wait()
    lines.append(f"\nLoad average at the end {os.getloadavg()[0]:.1f}.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
