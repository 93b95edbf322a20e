"""Reading back what the SDK sent, from a live rexwatch server, with deadlines instead of sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_for(fn: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def log_lines(url: str, group: str, stream_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every JSON line in a group (or [] when the group does not exist yet)."""
    body: dict[str, Any] = {"groups": [group], "start": 0, "limit": 10000}
    if stream_prefix:
        body["stream_prefix"] = stream_prefix
    r = httpx.post(f"{url}/api/v1/logs/filter", json=body, timeout=30)
    if r.status_code == 404:
        return []
    r.raise_for_status()
    out = []
    for e in r.json()["events"]:
        doc = json.loads(e["message"])
        doc["@stream"] = e.get("logStreamName") or e.get("log_stream_name")
        out.append(doc)
    return out


def metric_stats(url: str, namespace: str, name: str, dims: dict[str, str] | None = None) -> dict[str, float]:
    """Sum and SampleCount over the last hour, in one period; {} when there is no data."""
    params: list[tuple[str, str | int]] = [("namespace", namespace), ("metric_name", name), ("start", "1h"),
                                           ("period", 3600 * 2), ("statistics", "Sum"),
                                           ("statistics", "SampleCount"), ("statistics", "Maximum"),
                                           ("statistics", "Minimum")]
    params += [("dimension", f"{k}={v}") for k, v in (dims or {}).items()]
    r = httpx.get(f"{url}/api/v1/metrics/statistics", params=params, timeout=30)
    r.raise_for_status()
    points = r.json().get("datapoints") or r.json().get("Datapoints") or []
    if not points:
        return {}
    total: dict[str, float] = {"Sum": 0.0, "SampleCount": 0.0}
    for p in points:
        total["Sum"] += p.get("Sum", p.get("sum", 0.0))
        total["SampleCount"] += p.get("SampleCount", p.get("sample_count", 0.0))
        total["Maximum"] = max(total.get("Maximum", float("-inf")), p.get("Maximum", p.get("maximum", 0.0)))
        total["Minimum"] = min(total.get("Minimum", float("inf")), p.get("Minimum", p.get("minimum", 0.0)))
    return total
