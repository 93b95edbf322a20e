"""Local servers for probe tests: an HTTP server the test flips between healthy, failing,
slow and hanging, a TCP listener that can be closed and reopened, a tiny DNS responder,
a webhook receiver, and a prober running in its own thread."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FlipServer:
    """``mode``: healthy (200 JSON), failing (503), slow (answers after ``delay``), hanging (never answers
    within any sane timeout), redirect (302 to /health), or an int status code."""

    def __init__(self) -> None:
        self.mode: str | int = "healthy"
        self.delay = 0.3
        self.redirect_to = "/health"
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _answer(self, code: int, body: bytes, extra: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                outer.hits += 1
                mode = outer.mode
                if mode == "redirect" and self.path != "/health":
                    self._answer(302, b"", {"Location": outer.redirect_to})
                    return
                if mode == "slow":
                    time.sleep(outer.delay)
                if mode == "hanging":
                    time.sleep(30)
                    return
                if mode == "failing":
                    self._answer(503, json.dumps({"status": "unhealthy", "database": "down"}).encode())
                    return
                if isinstance(mode, int):
                    self._answer(mode, b'{"status": "odd"}')
                    return
                body = {"status": "healthy", "timestamp": int(time.time()), "database": "up", "redis": "up"}
                self._answer(200, json.dumps(body).encode())

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class TcpListener:
    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.port = 0
        self.open()

    def open(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self.sock = s

    def close(self) -> None:
        if self.sock:
            self.sock.close()
            self.sock = None


class DnsResponder:
    """Answers A/TXT queries for names in ``records`` over UDP on 127.0.0.1; NXDOMAIN otherwise."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        import dns.message
        import dns.rcode
        import dns.rrset

        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False

        def serve() -> None:
            while not self._stop:
                try:
                    data, addr = self.sock.recvfrom(4096)
                except OSError:
                    return
                q = dns.message.from_wire(data)
                resp = dns.message.make_response(q)
                question = q.question[0]
                name = question.name.to_text().rstrip(".")
                rtype = dns.rdatatype.to_text(question.rdtype)
                values = self.records.get((name, rtype))
                if values is None:
                    resp.set_rcode(dns.rcode.NXDOMAIN)
                else:
                    resp.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rtype, values))
                self.sock.sendto(resp.to_wire(), addr)

        threading.Thread(target=serve, daemon=True).start()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                outer.received.append({"at": time.time(), "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ProberThread:
    """Runs a real worker (the ProbeWorker by default) in its own event loop thread until ``stop()``."""

    def __init__(self, runtime: Any, worker_cls: Any = None) -> None:
        from rexwatch.workers.probes import ProbeWorker

        self.worker = (worker_cls or ProbeWorker)(runtime)
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def go() -> None:
            self._stop = asyncio.Event()
            await self.worker.run(self._stop)

        self.loop.run_until_complete(go())

    def __enter__(self) -> ProberThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not getattr(self.worker, "_started", True):
            assert time.monotonic() < deadline, "prober did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=15)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def recorded_checks(runtime, kind: str, check_id: int, since: float = 0.0) -> list[dict]:
    """The checks the prober recorded for a monitor or target group (``kind``), oldest first."""
    from rexwatch.stores.telemetry.probes import ProbeResults

    rows = ProbeResults(runtime.telemetry).history(kind, str(check_id), since, time.time() + 5, 10_000)
    return list(reversed(rows))
