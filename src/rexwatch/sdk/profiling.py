"""On-demand profiling, the pprof equivalent: off by default, on a localhost port, optionally behind a token.

    configure(profiling_port=6060)            # or REXWATCH_PROFILING_PORT=6060

- ``GET /debug/pprof/profile?seconds=30&hz=100``: a CPU profile of every thread from a sampling
  profiler, as speedscope JSON (open it at speedscope.app or with ``speedscope file.json``);
- ``GET /debug/pprof/heap[?start=1&limit=50]``: the heap by allocation site from tracemalloc
  (``start=1`` starts tracing if it is off; tracing costs memory and time while on);
- ``GET /debug/pprof/goroutine``: the stack of every thread and asyncio task, as text.

Binding to anything but loopback requires a token (``Authorization: Bearer <token>`` or
``?token=``). Sampling runs on the request's thread: nothing is done while nobody asks.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
import threading
import time
import traceback
import tracemalloc
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_SECONDS = 120
MAX_HZ = 1000
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def register_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let the stack dump list this loop's tasks (the ASGI middleware registers the app's loop)."""
    _loops.add(loop)


def cpu_profile(seconds: float, hz: float = 100.0, *, exclude: set[int] | None = None) -> dict[str, Any]:
    """Sample every thread's stack ``hz`` times a second for ``seconds``; return speedscope JSON."""
    interval = 1.0 / hz
    exclude = {threading.get_ident(), *(exclude or ())}
    frames: list[dict[str, Any]] = []
    index: dict[tuple[str, str, int], int] = {}
    per_thread: dict[int, tuple[list[list[int]], list[float]]] = {}
    names = {t.ident: t.name for t in threading.enumerate()}
    start = time.perf_counter()
    deadline = start + seconds
    last = start
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        weight = now - last
        last = now
        for ident, frame in sys._current_frames().items():
            if ident in exclude:
                continue
            stack: list[int] = []
            f = frame
            while f is not None:
                code = f.f_code
                key = (code.co_qualname, code.co_filename, code.co_firstlineno)
                i = index.get(key)
                if i is None:
                    i = index[key] = len(frames)
                    frames.append({"name": key[0], "file": key[1], "line": key[2]})
                stack.append(i)
                f = f.f_back
            stack.reverse()  # speedscope wants the root first
            samples, weights = per_thread.setdefault(ident, ([], []))
            samples.append(stack)
            weights.append(weight or interval)
        time.sleep(max(0.0, interval - (time.perf_counter() - now)))
    end = time.perf_counter() - start
    profiles = [{
        "type": "sampled", "name": f"{names.get(ident, 'thread')} ({ident})", "unit": "seconds",
        "startValue": 0, "endValue": end, "samples": samples, "weights": weights,
    } for ident, (samples, weights) in per_thread.items()]
    return {"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {"frames": frames},
            "profiles": profiles, "name": f"CPU profile, {seconds:g} s at {hz:g} Hz", "activeProfileIndex": 0,
            "exporter": "rexwatch-sdk"}


def heap_snapshot(limit: int = 50, start: bool = False) -> dict[str, Any]:
    if not tracemalloc.is_tracing():
        if not start:
            return {"tracing": False, "message": "tracemalloc is off: ask again with ?start=1 to start it"}
        tracemalloc.start(25)
    current, peak = tracemalloc.get_traced_memory()
    stats = tracemalloc.take_snapshot().statistics("traceback")
    top = [{"size": s.size, "count": s.count,
            "traceback": [f"{fr.filename}:{fr.lineno}" for fr in reversed(s.traceback)]} for s in stats[:limit]]
    return {"tracing": True, "current": current, "peak": peak, "top": top}


def stacks() -> str:
    out: list[str] = []
    names = {t.ident: t for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        t = names.get(ident)
        out.append(f"thread {t.name if t else '?'} ({ident}){' daemon' if t and t.daemon else ''}:\n")
        out.extend(traceback.format_stack(frame))
        out.append("\n")
    for loop in list(_loops):
        if loop.is_closed():
            continue
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the set changed under us: another try is cheap
            tasks = list(asyncio.all_tasks(loop))
        for task in tasks:
            out.append(f"task {task.get_name()} ({task.get_coro()!r}):\n")
            for f in task.get_stack():
                out.extend(traceback.format_stack(f, limit=1))
            out.append("\n")
    return "".join(out)


class ProfilingServer:
    def __init__(self, port: int, host: str = "127.0.0.1", token: str | None = None) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not token:
            raise ValueError("the profiling endpoint serves only loopback without a token: set profiling_token")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: these requests are not the app's
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _error(self, code: int, message: str) -> None:
                self._send(code, json.dumps({"error": message}).encode(), "application/json")

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if server.token:
                    auth = self.headers.get("Authorization", "")
                    given = auth[7:] if auth.startswith("Bearer ") else q.get("token", "")
                    if not hmac.compare_digest(given.encode(), server.token.encode()):
                        return self._error(401, "send the profiling token: Authorization: Bearer <token>")
                try:
                    if url.path == "/debug/pprof/profile":
                        seconds = float(q.get("seconds", "30"))
                        hz = float(q.get("hz", "100"))
                        if not 0 < seconds <= MAX_SECONDS:
                            return self._error(400, f"seconds must be between 0 and {MAX_SECONDS}")
                        if not 0 < hz <= MAX_HZ:
                            return self._error(400, f"hz must be between 0 and {MAX_HZ}")
                        body = json.dumps(cpu_profile(seconds, hz, exclude=server.threads())).encode()
                        return self._send(200, body, "application/json")
                    if url.path == "/debug/pprof/heap":
                        limit = int(q.get("limit", "50"))
                        if not 0 < limit <= 10_000:
                            return self._error(400, "limit must be between 1 and 10000")
                        doc = heap_snapshot(limit, q.get("start") in ("1", "true"))
                        return self._send(200 if doc["tracing"] else 409, json.dumps(doc).encode(),
                                          "application/json")
                    if url.path == "/debug/pprof/goroutine":
                        return self._send(200, stacks().encode(), "text/plain; charset=utf-8")
                    if url.path in ("/debug/pprof", "/debug/pprof/"):
                        return self._send(200, (__doc__ or "").encode(), "text/plain; charset=utf-8")
                except ValueError as e:
                    return self._error(400, f"bad parameter: {e}")
                return self._error(404, "try /debug/pprof/profile, /debug/pprof/heap or /debug/pprof/goroutine")

        self.token = token
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="rexwatch-profiling", daemon=True)

    def threads(self) -> set[int]:
        return {t.ident for t in threading.enumerate() if t.name.startswith("rexwatch-") and t.ident}

    def start(self) -> ProfilingServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
