"""GetLogGroupFields: the fields found in a log group's recent events, with the share of events
holding each, as Logs Insights discovers them (JSON keys, nested ones joined with dots)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson

from rexwatch.errors import Invalid

# CloudWatch looks 8 minutes either side of ``time``, or at the last 15 minutes without it.
HALF_WINDOW_MS = 8 * 60_000
DEFAULT_WINDOW_MS = 15 * 60_000
# Events read to estimate the shares: enough for a percentage, bounded in cost.
SAMPLE = 1000
MAX_FIELDS = 1000
SYSTEM_FIELDS = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime")


def _walk(doc: dict[str, Any], prefix: str, found: set[str], depth: int = 0) -> None:
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and depth < 5:
            _walk(v, f"{name}.", found, depth + 1)
        else:
            found.add(name)


def log_group_fields(logs: Any, group: str, time_s: int | None = None, *,
                     window_ms: tuple[int, int] | None = None) -> list[tuple[str, int]]:
    """(field, percent of sampled events holding it), system fields first. ``window_ms`` (start,
    end) samples that range instead (the console's editor completes the fields of its time range)."""
    if window_ms is not None:
        start, end = window_ms
    elif time_s is not None:
        if not isinstance(time_s, int) or time_s < 0:
            raise Invalid("time must be epoch seconds", field="time")
        start, end = time_s * 1000 - HALF_WINDOW_MS, time_s * 1000 + HALF_WINDOW_MS
    else:
        end = int(time.time() * 1000)
        start = end - DEFAULT_WINDOW_MS
    page = logs.filter_log_events([group], start_ms=max(0, start), end_ms=end, limit=SAMPLE)
    counts: Counter[str] = Counter()
    for e in page.events:
        text = e.message.strip()
        if not text.startswith("{"):
            continue
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict):
            found: set[str] = set()
            _walk(doc, "", found)
            counts.update(found)
    n = len(page.events)
    out = [(f, 100) for f in SYSTEM_FIELDS] if n else []
    out += [(f, round(100 * c / n)) for f, c in counts.most_common(MAX_FIELDS)]
    return out
