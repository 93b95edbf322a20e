"""One keep-alive HTTP/1.1 connection for an exporter's sender thread, on the standard library.

The sender posts a batch every second or so to one origin from one thread: a
connection pool, an async-capable transport and per-request header models buy
nothing there, and httpx spent about 1 µs of the sender's CPU per log line on
a 1,000-line batch against about 0.45 µs for ``http.client`` (the body's copy
to the kernel is most of what is left). No proxies from the environment are
used, as with ``httpx.Client(trust_env=False)``.
"""

from __future__ import annotations

import http.client
import select
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

# Errors from the socket or a malformed answer: the batch may pass on a new connection later.
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
# What a reused connection raises when the server closed it while idle (uvicorn closes idle
# keep-alive connections after 5 s, the SDK's default flush interval).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _tls_context() -> ssl.SSLContext:
    try:  # the CA bundle httpx used, so HTTPS endpoints verify against the same roots
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover
        return ssl.create_default_context()


class KeepAliveClient:
    """POSTs to one origin over one reused connection; every socket operation has ``timeout``."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint must be an http:// or https:// URL, not {base_url!r}")
        self.https = url.scheme == "https"
        self.host = url.hostname
        self.port = url.port or (443 if self.https else 80)
        self.prefix = url.path.rstrip("/")
        self.headers = headers
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._tls: ssl.SSLContext | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            if self._tls is None:  # loading the CA bundle costs milliseconds: once per client
                self._tls = _tls_context()
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> Answer:
        conn, reused = self._conn, True
        if conn is None or _closed_by_peer(conn):
            self.close()
            conn, reused = self._connect(), False
        self._conn = conn
        try:
            return self._exchange(conn, path, body, content_type)
        except _STALE:
            self.close()
            if not reused:
                raise
        except BaseException:
            self.close()  # half a request or answer on the wire: never reuse this connection
            raise
        # The server closed the idle connection as we sent: once more on a new one.
        self._conn = conn = self._connect()
        try:
            return self._exchange(conn, path, body, content_type)
        except BaseException:
            self.close()
            raise

    def _exchange(self, conn: http.client.HTTPConnection, path: str, body: bytes, content_type: str) -> Answer:
        conn.putrequest("POST", self.prefix + path, skip_accept_encoding=True)
        for name, value in self.headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)  # headers and body in one send: no Nagle / delayed-ACK stall
        resp = conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self.close()
        return Answer(resp.status, data)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def forget(self) -> None:
        """Drop the connection without closing it: after a fork it is the parent's."""
        self._conn = None


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that reads as ready has been closed (or sent garbage): don't reuse it."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
