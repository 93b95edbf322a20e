"""The CloudWatch agent's embedded-metric-format listener: TCP and UDP on ``emf_agent_port``.

``aws-embedded-metrics`` in agent mode (and other EMF libraries) send each
event as one line of JSON, newline-terminated, over TCP (a kept-open
connection) or UDP (one or more lines per datagram), with the target log
group and stream in ``_aws.LogGroupName`` / ``_aws.LogStreamName``. As the
agent does, each line becomes a log event of that group (created on first
use; ``DEFAULT_GROUP`` without a name) and stream (``DEFAULT_STREAM``), and
the logs service extracts its metrics like any EMF event. Lines that are not
JSON objects are dropped and counted (``rexwatch_rejected_total{kind="emf_agent"}``).

Bounded: a line longer than ``MAX_LINE`` ends its TCP connection, and at most
``QUEUE_LINES`` lines wait to be stored; past that, lines are dropped and
counted (the agent protocol has no way to push back).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import orjson

from rexwatch.errors import Invalid, RexwatchError
from rexwatch.intake.otlp_logs import chunks, put_creating
from rexwatch.runtime import Runtime
from rexwatch.services.logs import rules
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.logs.service import LogsService

log = logging.getLogger("rexwatch.intake")

DEFAULT_GROUP = "/emf/default"
DEFAULT_STREAM = "emf-agent"
MAX_LINE = 1024 * 1024
QUEUE_LINES = 100_000
BATCH_LINES = 10_000


def _target(doc: dict[str, Any]) -> tuple[str, str, int | None]:
    meta = doc.get("_aws")
    meta = meta if isinstance(meta, dict) else {}
    group, stream, ts = meta.get("LogGroupName"), meta.get("LogStreamName"), meta.get("Timestamp")
    group = group if isinstance(group, str) and group else DEFAULT_GROUP
    stream = stream if isinstance(stream, str) and stream else DEFAULT_STREAM
    return group, stream, ts if isinstance(ts, int) and not isinstance(ts, bool) else None


def store_lines(runtime: Runtime, lines: list[bytes]) -> int:
    """Store a batch of EMF lines as log events; return how many were dropped."""
    logs = runtime.service(LogsService)
    now_ms = int(time.time() * 1000)
    by_stream: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    dropped = 0
    for raw in lines:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            dropped += 1
            continue
        group, stream, ts = _target(doc)
        by_stream[(group, stream)].append((ts if ts is not None else now_ms, raw.decode("utf-8", "replace")))
    for (group, stream), events in by_stream.items():
        try:
            rules.check_group_name(group)
            rules.check_stream_name(stream, "logStreamName")
        except Invalid:
            dropped += len(events)
            continue
        events.sort(key=lambda e: e[0])
        for chunk in chunks(events):
            try:
                put_creating(logs, group, stream, LogEventBatch.of(chunk))
            except RexwatchError as e:
                dropped += len(chunk)
                log.warning("EMF agent listener: %s/%s: %s", group, stream, e.message)
    return dropped


class EmfAgentListener:
    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        self.host, self.port = host, port
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LINES)
        self.tasks: list[asyncio.Task] = []
        self.tcp: asyncio.Server | None = None
        self.udp: asyncio.DatagramTransport | None = None
        self.stored = 0  # lines stored as log events (tests wait on it)

    def _offer(self, line: bytes) -> None:
        line = line.strip()
        if not line:
            return
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            self.runtime.metrics.rejected.labels("emf_agent", "queue_full").inc()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as e:
                    self._offer(e.partial)  # the last line of a closed connection needs no newline
                    return
                except asyncio.LimitOverrunError:
                    self.runtime.metrics.rejected.labels("emf_agent", "line_too_long").inc()
                    return
                self._offer(line)
        except ConnectionError:
            return
        finally:
            writer.close()

    async def _drain(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH_LINES and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                dropped = await asyncio.to_thread(store_lines, self.runtime, batch)
            except Exception:
                log.exception("EMF agent listener: storing %d lines failed", len(batch))
                dropped = len(batch)
            if dropped:
                self.runtime.metrics.rejected.labels("emf_agent", "invalid").inc(dropped)
            self.stored += len(batch) - dropped

    async def start(self) -> None:
        self.tcp = await asyncio.start_server(self._client, self.host, self.port, limit=MAX_LINE)
        listener = self

        class Udp(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                for line in data.split(b"\n"):
                    listener._offer(line)

        loop = asyncio.get_running_loop()
        self.udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=(self.host, self.port))
        self.tasks.append(asyncio.create_task(self._drain(), name="emf-agent-drain"))
        log.info("EMF agent listener on %s:%d (TCP and UDP)", self.host, self.port)

    async def stop(self) -> None:
        if self.tcp is not None:
            self.tcp.close()
        if self.udp is not None:
            self.udp.close()
        for t in self.tasks:
            t.cancel()
