"""rexwatch's native REST API: POST /api/v1/logs/events and /api/v1/metrics/data."""

from __future__ import annotations

from typing import Any

import httpx

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.base import (
    MAX_METRIC_DATUMS,
    Exporter,
    ExportError,
    MetricDatum,
    chunks,
    dumps,
    rejected_count,
    split_values,
)

DEFAULT_ENDPOINT = "http://127.0.0.1:9099"
_JSON = {"Content-Type": "application/json"}


def raise_for(resp: httpx.Response, what: str) -> None:
    if resp.status_code < 300:
        return
    # 429 and 5xx may pass; any other 4xx says the batch itself is wrong.
    retryable = resp.status_code == 429 or resp.status_code >= 500
    raise ExportError(f"{what}: HTTP {resp.status_code} {resp.text[:300]}", retryable=retryable)


class RexwatchExporter(Exporter):
    def __init__(self, config: Config) -> None:
        self.base = (config.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.headers = {"User-Agent": "rexwatch-sdk"}
        if config.api_key:
            self.headers["Authorization"] = f"Bearer {config.api_key}"
        self.timeout = config.timeout
        self.client = self._client()
        self.known: set[tuple[str, str]] = set()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=self.timeout, trust_env=False)

    def _post(self, path: str, body: dict[str, Any], what: str) -> httpx.Response:
        try:
            return self.client.post(path, content=dumps(body), headers=_JSON)
        except httpx.HTTPError as e:
            raise ExportError(f"{what}: {type(e).__name__}: {e}", retryable=True)

    def _ensure_stream(self, group: str, stream: str) -> None:
        for path, body in (("/api/v1/logs/groups", {"name": group}),
                           ("/api/v1/logs/streams", {"group": group, "name": stream})):
            resp = self._post(path, body, f"create {path.rsplit('/', 1)[1][:-1]}")
            if resp.status_code != 409:  # already there is fine
                raise_for(resp, f"create {group} {stream}")
        self.known.add((group, stream))

    def send_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> int:
        if (group, stream) not in self.known:
            self._ensure_stream(group, stream)
        body = {"group": group, "stream": stream,
                "events": [{"timestamp": ts, "message": m} for ts, m in events]}
        resp = self._post("/api/v1/logs/events", body, "PutLogEvents")
        if resp.status_code == 404:  # deleted since: create again once
            self._ensure_stream(group, stream)
            resp = self._post("/api/v1/logs/events", body, "PutLogEvents")
        raise_for(resp, "PutLogEvents")
        return rejected_count(resp.json().get("rejectedLogEventsInfo"), len(events))

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
        # The parent's pooled sockets must not be shared: open new ones in the child.
        self.client = self._client()

    def close(self) -> None:
        self.client.close()
