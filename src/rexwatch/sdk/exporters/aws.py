"""PutLogEvents (JSON 1.1) and PutMetricData (JSON 1.0) signed with SigV4.

Points at ``endpoint`` (rexwatch's AWS door, or AWS_ENDPOINT_URL) or, with
neither set, at CloudWatch's regional endpoints: the same instrumentation works
against rexwatch and against AWS.
"""

from __future__ import annotations

import json
import os
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
from rexwatch.sdk.exporters.sigv4 import sign

LOGS_TARGET = "Logs_20140328"
METRICS_TARGET = "GraniteServiceVersion20100801"


class AwsExporter(Exporter):
    def __init__(self, config: Config) -> None:
        endpoint = config.endpoint or os.environ.get("AWS_ENDPOINT_URL")
        region = config.region
        self.logs_url = (endpoint or f"https://logs.{region}.amazonaws.com").rstrip("/") + "/"
        self.metrics_url = (endpoint or f"https://monitoring.{region}.amazonaws.com").rstrip("/") + "/"
        if not config.aws_access_key_id or not config.aws_secret_access_key:
            raise ValueError("the aws exporter needs aws_access_key_id and aws_secret_access_key "
                             "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        self.creds = {"access_key": config.aws_access_key_id, "secret_key": config.aws_secret_access_key,
                      "session_token": config.aws_session_token, "region": region}
        self.timeout = config.timeout
        self.client = httpx.Client(timeout=self.timeout, trust_env=False)
        self.known: set[tuple[str, str]] = set()

    def _call(self, url: str, service: str, target: str, version: str, body: dict[str, Any],
              extra: dict[str, str] | None = None) -> tuple[int, dict]:
        data = dumps(body)
        headers = sign("POST", url, {"Content-Type": f"application/x-amz-json-{version}", "X-Amz-Target": target,
                                     **(extra or {})}, data, service=service, **self.creds)
        try:
            resp = self.client.post(url, content=data, headers=headers)
        except httpx.HTTPError as e:
            raise ExportError(f"{target}: {type(e).__name__}: {e}", retryable=True)
        try:
            payload = resp.json() if resp.content else {}
        except ValueError:
            payload = {}
        return resp.status_code, payload if isinstance(payload, dict) else {}

    @staticmethod
    def _error(status: int, payload: dict) -> str:
        return str(payload.get("__type", "")).rpartition("#")[2]

    def _check(self, target: str, status: int, payload: dict, ok: tuple[str, ...] = ()) -> None:
        if status < 300 or self._error(status, payload) in ok:
            return
        retryable = status >= 500 or status == 429 or self._error(status, payload) in ("ThrottlingException",
                                                                                        "Throttling")
        raise ExportError(f"{target}: HTTP {status} {json.dumps(payload)[:300]}", retryable=retryable)

    def _logs(self, op: str, body: dict[str, Any], extra: dict[str, str] | None = None) -> tuple[int, dict]:
        return self._call(self.logs_url, "logs", f"{LOGS_TARGET}.{op}", "1.1", body, extra)

    def _ensure_stream(self, group: str, stream: str) -> None:
        st, p = self._logs("CreateLogGroup", {"logGroupName": group})
        self._check("CreateLogGroup", st, p, ("ResourceAlreadyExistsException",))
        st, p = self._logs("CreateLogStream", {"logGroupName": group, "logStreamName": stream})
        self._check("CreateLogStream", st, p, ("ResourceAlreadyExistsException",))
        self.known.add((group, stream))

    def send_logs(self, group: str, stream: str, events: list[tuple[int, str]],
                  extra: dict[str, str] | None = None) -> int:
        if (group, stream) not in self.known:
            self._ensure_stream(group, stream)
        body = {"logGroupName": group, "logStreamName": stream,
                "logEvents": [{"timestamp": ts, "message": m} for ts, m in events]}
        status, payload = self._logs("PutLogEvents", body, extra)
        if self._error(status, payload) == "ResourceNotFoundException":
            self._ensure_stream(group, stream)
            status, payload = self._logs("PutLogEvents", body, extra)
        self._check("PutLogEvents", status, payload)
        return rejected_count(payload.get("rejectedLogEventsInfo"), len(events))

    def send_metrics(self, namespace: str, data: list[MetricDatum]) -> None:
        items: list[dict[str, Any]] = []
        for d in data:
            head = {"MetricName": d.name, "Dimensions": [{"Name": n, "Value": v} for n, v in d.dimensions],
                    "Timestamp": d.timestamp, "Unit": d.unit}
            if d.distribution:  # Values/Counts: CloudWatch computes percentiles (p99) from them
                items.extend({**head, "Values": values, "Counts": counts} for values, counts in split_values(d))
            else:
                items.append({**head, "StatisticValues": {"SampleCount": d.count, "Sum": d.sum,
                                                          "Minimum": d.minimum, "Maximum": d.maximum}})
        for part in chunks(items, MAX_METRIC_DATUMS):
            body = {"Namespace": namespace, "MetricData": part}
            status, payload = self._call(self.metrics_url, "monitoring", f"{METRICS_TARGET}.PutMetricData",
                                         "1.0", body)
            self._check("PutMetricData", status, payload)

    def after_fork(self) -> None:
        self.client = httpx.Client(timeout=self.timeout, trust_env=False)

    def close(self) -> None:
        self.client.close()
