"""rexwatch's native REST API: POST /api/v1/logs/events and /api/v1/metrics/data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.base import (
    MAX_METRIC_DATUMS,
    Exporter,
    ExportError,
    MetricDatum,
    chunks,
    dumps,
    loads,
    rejected_count,
    split_values,
)
from rexwatch.sdk.exporters.keepalive import TRANSPORT_ERRORS, Answer, KeepAliveClient

DEFAULT_ENDPOINT = "http://127.0.0.1:9099"


def raise_for(resp: Answer, what: str) -> None:
    if resp.status < 300:
        return
    # 429 and 5xx may pass; any other 4xx says the batch itself is wrong.
    retryable = resp.status == 429 or resp.status >= 500
    raise ExportError(f"{what}: HTTP {resp.status} {resp.text[:300]}", retryable=retryable)


def rejected_in(resp: Answer, n: int) -> int:
    # Almost every answer is {"nextSequenceToken": ...}: parse only one that reports skipped events.
    if b"rejectedLogEventsInfo" not in resp.body:
        return 0
    try:
        info = loads(resp.body).get("rejectedLogEventsInfo")
    except (ValueError, AttributeError):
        return 0
    return rejected_count(info, n)


def _error_field(resp: Answer) -> object:
    try:
        return loads(resp.body)["error"]["field"]
    except (ValueError, KeyError, TypeError):
        return None


class RexwatchExporter(Exporter):
    def __init__(self, config: Config) -> None:
        self.base = (config.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.headers = {"User-Agent": "rexwatch-sdk"}
        if config.api_key:
            self.headers["Authorization"] = f"Bearer {config.api_key}"
        self.timeout = config.timeout
        self.client = self._client()
        self.known: set[tuple[str, str]] = set()
        self.columnar = True  # until a server answers that it knows only the events shape

    def _client(self) -> KeepAliveClient:
        return KeepAliveClient(self.base, self.headers, self.timeout)

    def _post(self, path: str, body: dict[str, Any], what: str) -> Answer:
        try:
            return self.client.post(path, dumps(body))
        except TRANSPORT_ERRORS as e:
            raise ExportError(f"{what}: {type(e).__name__}: {e}", retryable=True)

    def _ensure_stream(self, group: str, stream: str) -> None:
        for path, body in (("/api/v1/logs/groups", {"name": group}),
                           ("/api/v1/logs/streams", {"group": group, "name": stream})):
            resp = self._post(path, body, f"create {path.rsplit('/', 1)[1][:-1]}")
            if resp.status != 409:  # already there is fine
                raise_for(resp, f"create {group} {stream}")
        self.known.add((group, stream))

    def send_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> int:
        if not events:
            return 0
        timestamps, messages = zip(*events, strict=True)
        return self.send_log_columns(group, stream, timestamps, messages)

    def send_log_columns(self, group: str, stream: str, timestamps: Sequence[int], messages: Sequence[str]) -> int:
        if (group, stream) not in self.known:
            self._ensure_stream(group, stream)
        resp = self._put_events(group, stream, timestamps, messages)
        if resp.status == 404:  # deleted since: create again once
            self._ensure_stream(group, stream)
            resp = self._put_events(group, stream, timestamps, messages)
        raise_for(resp, "PutLogEvents")
        return rejected_in(resp, len(messages))

    def _put_events(self, group: str, stream: str, timestamps: Sequence[int], messages: Sequence[str]) -> Answer:
        if self.columnar:
            # The sender's two columns as they are: the body is one orjson call, no object per event.
            body = {"group": group, "stream": stream, "timestamps": timestamps, "messages": messages}
            resp = self._post("/api/v1/logs/events", body, "PutLogEvents")
            if resp.status != 400 or _error_field(resp) != "events":
                return resp
            # A server from before the columnar shape asks for events: use that shape from now on.
            self.columnar = False
        body = {"group": group, "stream": stream,
                "events": [{"timestamp": ts, "message": m} for ts, m in zip(timestamps, messages, strict=True)]}
        return self._post("/api/v1/logs/events", body, "PutLogEvents")

    def send_metrics(self, namespace: str, data: list[MetricDatum]) -> None:
        items: list[dict[str, Any]] = []
        for d in data:
            head = {"metric_name": d.name, "dimensions": [{"name": n, "value": v} for n, v in d.dimensions],
                    "timestamp": d.timestamp, "unit": d.unit}
            if d.distribution:
                items.extend({**head, "values": values, "counts": counts} for values, counts in split_values(d))
            else:
                items.append({**head, "statistic_values": {"sample_count": d.count, "sum": d.sum,
                                                           "minimum": d.minimum, "maximum": d.maximum}})
        for part in chunks(items, MAX_METRIC_DATUMS):
            body = {"namespace": namespace, "metric_data": part}
            raise_for(self._post("/api/v1/metrics/data", body, "PutMetricData"), "PutMetricData")

    def after_fork(self) -> None:
        # The parent's socket must not be shared (nor closed: it is the parent's): open a new one in the child.
        self.client.forget()

    def close(self) -> None:
        self.client.close()
