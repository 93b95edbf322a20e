"""CloudWatch Embedded Metric Format: metrics as JSON log events.

``emf_destination`` (``REXWATCH_EMF_DESTINATION``) says where the events go:

- ``logs`` (the default): with PutLogEvents (SigV4) into ``emf_log_group`` (the log
  group by default) and the stream, with ``x-amzn-logs-format: json/emf``; the app's
  log lines go out with PutLogEvents as with the ``aws`` exporter.
- ``stdout``: one JSON document per line on the process's standard output, log lines
  and EMF events alike, for Lambda and containers whose output a collector ships
  (Lambda extracts the metrics itself); no credentials, no network.
- ``tcp://host:port`` or ``udp://host:port``: the CloudWatch agent's EMF port
  (25888; rexwatch's ``emf_agent_port``), one line each, with ``_aws.LogGroupName``
  and ``_aws.LogStreamName`` naming where the agent files it; the app's log lines
  go the same way. TCP keeps one connection; UDP packs lines into datagrams.

CloudWatch Logs (and rexwatch) extract the metrics from the events, so the same
instrumentation works where PutMetricData is not allowed or costs more than logs.

EMF has no statistic sets: a value is one sample, or an array of up to 100. A
statistic set (count n, sum, min, max) is written as n samples that keep all four
exact: the minimum, the maximum, and n-2 copies of the remaining mean (which lies
between them). One event carries every metric of a namespace and dimension set,
100 samples each; more samples take more events.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.base import Exporter, ExportError, MetricDatum
from rexwatch.sdk.logs import dumps, loads

MAX_VALUES = 100  # samples per metric per event (CloudWatch's limit)
try:  # already-encoded JSON inside a document (orjson); plain lists without it
    from orjson import Fragment as _Fragment
except ImportError:  # pragma: no cover
    _Fragment = None
_EMF_HEADER = {"x-amzn-logs-format": "json/emf"}


def sample_runs(d: MetricDatum) -> list[tuple[float, int]]:
    """Samples whose SampleCount, Sum, Minimum and Maximum are the statistic set's, as (value, repeats)."""
    if d.distribution:  # each value as often as it was seen: percentiles survive
        return [(v, int(c)) for v, c in d.distribution if int(c) > 0]
    n = int(d.count)
    if n <= 1:
        return [(d.sum, 1)] if n == 1 else []
    if d.minimum == d.maximum:
        return [(d.minimum, n)]
    if n == 2:
        return [(d.minimum, 1), (d.maximum, 1)]
    return [(d.minimum, 1), (d.maximum, 1), ((d.sum - d.minimum - d.maximum) / (n - 2), n - 2)]


def samples(d: MetricDatum) -> list[float]:
    return [v for v, c in sample_runs(d) for _ in range(c)]


def _chunked(runs: list[tuple[float, int]], size: int = MAX_VALUES) -> list[list[tuple[float, int]]]:
    """Runs cut into chunks of at most ``size`` samples."""
    chunks: list[list[tuple[float, int]]] = []
    current: list[tuple[float, int]] = []
    room = size
    for value, count in runs:
        while count:
            k = min(count, room)
            current.append((value, k))
            count -= k
            room -= k
            if not room:
                chunks.append(current)
                current, room = [], size
    if current:
        chunks.append(current)
    return chunks


def _array(chunk: list[tuple[float, int]]) -> Any:
    """One event's samples of a metric: one bare, more as an array. A statistic set of n requests is n
    samples (mostly a handful of values repeated): each value is encoded once and the array's text
    repeated, rather than a float object and its formatting per sample."""
    if len(chunk) == 1 and chunk[0][1] == 1:
        return chunk[0][0]
    if _Fragment is None:
        return [v for v, k in chunk for _ in range(k)]
    return _Fragment("[" + ",".join([",".join([dumps(v)] * k) for v, k in chunk]) + "]")


def emf_events(namespace: str, data: list[MetricDatum],
               target: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """EMF events (epoch ms, JSON) for one namespace's statistic sets; ``target`` adds
    ``LogGroupName``/``LogStreamName`` to ``_aws`` (for the agent)."""
    groups: dict[tuple[tuple[tuple[str, str], ...], int], list[MetricDatum]] = {}
    for d in data:
        groups.setdefault((d.dimensions, int(d.timestamp * 1000)), []).append(d)
    events: list[tuple[int, str]] = []
    for (dims, ts), datums in groups.items():
        values = [(d, _chunked(sample_runs(d))) for d in datums]
        arrays: dict[tuple, Any] = {}  # most events repeat the same chunks ([1, 1, ...], [0, 0, ...]): encode once
        chunks = max(len(v) for _, v in values) if values else 0
        for k in range(chunks):
            doc: dict[str, Any] = {}
            metrics = []
            for d, v in values:
                if k >= len(v):
                    continue
                key = tuple(v[k])
                value = arrays.get(key)
                if value is None:
                    value = arrays[key] = _array(v[k])
                doc[d.name] = value
                metrics.append({"Name": d.name, "Unit": d.unit})
            if not metrics:
                continue
            for name, value in dims:
                doc.setdefault(name, value)  # a dimension named like a metric cannot be both: the metric wins
            doc["_aws"] = {**(target or {}), "Timestamp": ts, "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [[name for name, _ in dims]], "Metrics": metrics}]}
            events.append((ts, dumps(doc)))
    events.sort(key=lambda e: e[0])
    return events


_STDOUT_PIECE = 65_536
# A UDP datagram holds at most this many bytes of lines (IPv4's limit is 65,507).
MAX_DATAGRAM = 65_000


def parse_destination(text: str | None) -> tuple[str, str, int]:
    """``logs``, ``stdout``, ``tcp://host:port`` or ``udp://host:port`` → (kind, host, port)."""
    value = (text or "logs").strip()
    if value.lower() in ("logs", "stdout"):
        return value.lower(), "", 0
    parts = urlsplit(value)
    if parts.scheme not in ("tcp", "udp") or not parts.hostname:
        raise ValueError(f"emf_destination {value!r}: use logs, stdout, tcp://host:port or udp://host:port")
    try:
        port = parts.port or 25888
    except ValueError:
        raise ValueError(f"emf_destination {value!r}: the port is not a number") from None
    return parts.scheme, parts.hostname, port


def with_target(message: str, ts: int, target: dict[str, str], target_json: bytes) -> bytes:
    """A log line for the agent: a JSON object led by ``_aws`` with its group, stream and time."""
    raw = message.encode("utf-8", "replace")
    if raw.startswith(b'{"_aws"'):  # an EMF event the app wrote itself: fill in what it leaves out
        try:
            doc = loads(raw)
            doc["_aws"] = {**target, "Timestamp": ts, **doc["_aws"]}
            return dumps(doc).encode()
        except (ValueError, TypeError):
            pass
    if not raw.startswith(b"{") or not raw.endswith(b"}"):
        raw = dumps({"message": message}).encode()
    rest = raw[1:].lstrip()
    head = b'{"_aws":' + target_json[:-1] + b',"Timestamp":' + str(ts).encode() + b"}"
    return head + (b"," if rest != b"}" else b"") + rest


class EmfExporter(Exporter):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.kind, self.host, self.port = parse_destination(config.emf_destination)
        self.aws: Any = None
        self.sock: socket.socket | None = None
        if self.kind == "logs":
            from rexwatch.sdk.exporters.aws import AwsExporter

            self.aws = AwsExporter(config)

    def _target(self, group: str, stream: str) -> dict[str, str]:
        return {"LogGroupName": group, "LogStreamName": stream}

    def send_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> int:
        if self.aws is not None:
            return int(self.aws.send_logs(group, stream, events))
        if self.kind == "stdout":
            self._stdout_lines([m for _, m in events])
            return 0
        target = self._target(group, stream)
        target_json = dumps(target).encode()
        return self._write([with_target(m, ts, target, target_json) for ts, m in events])

    def send_log_columns(self, group: str, stream: str, timestamps: Sequence[int], messages: Sequence[str]) -> int:
        if self.kind != "stdout":
            return super().send_log_columns(group, stream, timestamps, messages)
        self._stdout_lines(messages)
        return 0

    def _stdout_lines(self, messages: Sequence[str]) -> None:
        if messages:
            # One join (an empty last item gives the final newline) and one encoding for the whole batch,
            # rather than two new objects per line.
            self._write_stdout("\n".join([*messages, ""]).encode("utf-8", "replace"))

    def send_metrics(self, namespace: str, data: list[MetricDatum]) -> None:
        group = self.config.emf_log_group or self.config.log_group or "/app/app"
        stream = self.config.log_stream or "emf"
        if self.aws is not None:
            events = emf_events(namespace, data)
            for i in range(0, len(events), 10_000):  # PutLogEvents' count limit; EMF events are small
                self.aws.send_logs(group, stream, events[i:i + 10_000], _EMF_HEADER)
            return
        target = None if self.kind == "stdout" else self._target(group, stream)
        self._write([m.encode() for _, m in emf_events(namespace, data, target)])

    def _write(self, lines: list[bytes]) -> int:
        """Write lines; return how many were skipped (a line too long for one datagram)."""
        if self.kind == "stdout":
            # Pieces of about 64 kB: a second's metrics at thousands of requests per second come to a
            # megabyte of events, and one join of it costs a fresh memory mapping and its page faults.
            piece: list[bytes] = []
            size = 0
            for line in lines:
                piece.append(line)
                size += len(line) + 1
                if size >= _STDOUT_PIECE:
                    self._write_stdout(b"\n".join([*piece, b""]))
                    piece, size = [], 0
            if piece:
                self._write_stdout(b"\n".join([*piece, b""]))
            return 0
        try:
            if self.kind == "tcp":
                self._connect().sendall(b"".join(line + b"\n" for line in lines))
                return 0
            return self._send_datagrams(lines)
        except OSError as e:
            self._close_socket()
            raise ExportError(f"EMF agent {self.kind}://{self.host}:{self.port}: {e}", retryable=True) from None

    def _write_stdout(self, data: bytes) -> None:
        out = sys.stdout  # looked up each time: the app (or a test) may have replaced it
        try:
            out.buffer.write(data)  # type: ignore[union-attr]
        except AttributeError:  # a text-only stream
            out.write(data.decode("utf-8", "replace"))
        out.flush()

    def _connect(self) -> socket.socket:
        if self.sock is None:
            kind = socket.SOCK_STREAM if self.kind == "tcp" else socket.SOCK_DGRAM
            if self.kind == "tcp":
                self.sock = socket.create_connection((self.host, self.port), timeout=self.config.timeout)
            else:
                family, _, _, _, addr = socket.getaddrinfo(self.host, self.port, type=kind)[0]
                self.sock = socket.socket(family, kind)
                self.sock.connect(addr)
            self.sock.settimeout(self.config.timeout)
        return self.sock

    def _send_datagrams(self, lines: list[bytes]) -> int:
        sock = self._connect()
        skipped = 0
        packet: list[bytes] = []
        size = 0
        for line in lines:
            n = len(line) + 1
            if n > MAX_DATAGRAM:
                skipped += 1
                continue
            if size + n > MAX_DATAGRAM:
                sock.send(b"".join(packet))
                packet, size = [], 0
            packet.append(line + b"\n")
            size += n
        if packet:
            sock.send(b"".join(packet))
        return skipped

    def _close_socket(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def after_fork(self) -> None:
        self.sock = None  # the parent's socket stays the parent's
        if self.aws is not None:
            self.aws.after_fork()

    def close(self) -> None:
        self._close_socket()
        if self.aws is not None:
            self.aws.close()
