"""uvicorn's HTTP protocol with a read deadline and a header size limit.

uvicorn closes idle keep-alive connections but never times out a client that is
still sending: one that trickles a header byte every few seconds holds its socket
(and its buffers) forever. Here every request gets ``read_timeout_s`` from its first
byte (or from the connection's opening) until its body is complete; past it the
connection is closed, which the app sees as a disconnect. Headers are also capped in
size, because the HTTP parser keeps a header that has not ended yet in memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line and headers of one request. Browsers and SDKs stay far below it.
MAX_HEADER_BYTES = 64 * 1024


class _Bounded(HttpToolsProtocol):
    read_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._headers_done = False

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is also bounded

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._headers_done:
            if self._deadline is None:  # first bytes of a request on a kept-alive connection
                self._arm()
            self._header_bytes += len(data)
        super().data_received(data)
        if not self._headers_done and self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self._header_bytes = 0
            self.send_431()

    def send_431(self) -> None:
        body = b"request headers exceed 65536 bytes"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The TCP peer, kept before uvicorn's proxy-header handling replaces "client" with the address
        # an X-Forwarded-For names: trusting a proxy's X-Forwarded-User needs the proxy's own address.
        self.scope["rexwatch.peer"] = self.client  # type: ignore[typeddict-unknown-key]
        self._headers_done = False
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._header_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def protocol_class(read_timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, with this server's read timeout."""
    return type("RexwatchHttpProtocol", (_Bounded,), {"read_timeout_s": read_timeout_s})
