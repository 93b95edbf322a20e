"""The rexwatch exporter's own connection against a live server: rejected counts, streams deleted
under it, and keep-alive connections the server closed."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters import ExportError
from rexwatch.sdk.exporters.keepalive import KeepAliveClient
from rexwatch.sdk.exporters.rexwatch import RexwatchExporter


def _events(n: int, start_ms: int | None = None) -> list[tuple[int, str]]:
    start = int(time.time() * 1000) if start_ms is None else start_ms
    return [(start + i, f'{{"message":"line {i}"}}') for i in range(n)]


def test_rejected_events_are_counted_and_a_deleted_stream_is_created_again(live):
    exporter = RexwatchExporter(Config(service="t", endpoint=live.url))
    group, stream = f"/t/{uuid.uuid4().hex[:8]}", "s-1"
    try:
        assert exporter.send_logs(group, stream, _events(3)) == 0
        # Fifteen days old: beyond PutLogEvents' 14-day window, skipped and reported by the server.
        old = int(time.time() * 1000) - 15 * 86_400_000
        assert exporter.send_logs(group, stream, _events(2, old)) == 2
        # One of three too old (an hour either side of the 14-day edge, within a batch's 24 hours):
        # the end index is exclusive, so it is counted once.
        edge = int(time.time() * 1000) - 14 * 86_400_000
        mixed = _events(1, edge - 3_600_000) + _events(2, edge + 3_600_000)
        assert exporter.send_logs(group, stream, mixed) == 1
        # Deleted since the exporter created it: the 404 makes it create the stream once more.
        assert httpx.delete(f"{live.url}/api/v1/logs/streams", params={"group": group, "name": stream}).status_code == 204
        assert exporter.send_logs(group, stream, _events(4)) == 0
        page = httpx.get(f"{live.url}/api/v1/logs/events", params={"group": group, "stream": stream,
                                                                   "start_from_head": True}).json()
        assert len(page["events"]) == 4
        assert exporter.columnar  # the server took the parallel-lists body throughout
    finally:
        exporter.close()


class _OneAnswerPerConnection:
    """A keep-alive server that answers one request per connection and then drops it, without saying
    so, as a server's idle timeout does to a pooled connection: either right after the answer, or
    when the next request arrives (the close racing the client's send). Counts the connections."""

    def __init__(self, close_on_next_request: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.close_on_next_request = close_on_next_request
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += conn.recv(65536)
        return True

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                if not self._read_request(conn):
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                if self.close_on_next_request:
                    self._read_request(conn)  # and close without an answer

    def stop(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("close_on_next_request", [False, True])
def test_a_connection_the_server_closed_is_replaced_without_an_error(close_on_next_request):
    server = _OneAnswerPerConnection(close_on_next_request)
    client = KeepAliveClient(f"http://127.0.0.1:{server.port}", {}, timeout=5)
    try:
        for _ in range(3):
            answer = client.post("/x", b"{}")
            assert answer.status == 200 and answer.body == b"{}"
        assert server.accepted == 3
    finally:
        client.close()
        server.stop()


def test_a_fresh_connection_refused_is_an_error_the_sender_may_retry():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        exporter = RexwatchExporter(Config(service="t", endpoint=f"http://127.0.0.1:{port}", timeout=2))
        with pytest.raises(ExportError) as e:
            exporter.send_logs("/g", "s", _events(1))
    assert e.value.retryable and "ConnectionRefusedError" in str(e.value)


def test_endpoint_must_be_an_http_url():
    with pytest.raises(ValueError, match="http"):
        RexwatchExporter(Config(service="t", endpoint="127.0.0.1:9099"))


class _ServerBeforeColumnarBodies(BaseHTTPRequestHandler):
    """Answers as a rexwatch server from before the parallel-lists body did: 400 on a body without events."""

    protocol_version = "HTTP/1.1"
    bodies: list[dict] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        if self.path.endswith("/events") and "events" not in body:
            status, answer = 400, {"error": {"code": "Invalid", "message": "events: Field required", "field": "events"}}
        else:
            status, answer = (200, {"nextSequenceToken": "1"}) if self.path.endswith("/events") else (201, {})
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_server_that_knows_only_the_events_shape_gets_it():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ServerBeforeColumnarBodies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    exporter = RexwatchExporter(Config(service="t", endpoint=f"http://127.0.0.1:{server.server_port}"))
    try:
        assert exporter.send_logs("/g", "s", _events(2)) == 0
        assert not exporter.columnar
        assert exporter.send_logs("/g", "s", _events(3)) == 0
        events = [b for b in _ServerBeforeColumnarBodies.bodies if "stream" in b and "name" not in b]
        # One columnar try, then the events shape for that batch and every later one.
        assert ["events" in b for b in events] == [False, True, True]
        assert [e["message"] for e in events[-1]["events"]] == [m for _, m in _events(3)]
    finally:
        exporter.close()
        server.shutdown()
