"""Cumulative-to-delta state for OTLP sums and histograms.

A cumulative point carries the total since ``start_time_unix_nano``. The
metrics store keeps per-period increments (what CloudWatch's Sum statistic
means), so each point is turned into the increase since the previous point of
the same series. Rules, in the order applied:

- the first point of a series with a start time: its whole value is the
  increase (the counter was 0 at its start time);
- a different start time, or a value below the previous one: the counter was
  reset, and the new value is the increase since the reset;
- otherwise the difference to the previous point.

Histograms are the same per bucket. The state lives in this process (one
server node receiving a series' points, as an OTel collector's load balancer
keeps them) and holds at most ``MAX_SERIES`` series, forgetting the least
recently updated first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

MAX_SERIES = 500_000


class CumulativeTracker:
    """Per-series last totals; created once per runtime with ``runtime.service(CumulativeTracker)``."""

    def __init__(self, runtime: object = None, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self._last: OrderedDict[Hashable, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.resets = 0

    def _swap(self, key: Hashable, start_ns: int, total: object) -> tuple[int, object] | None:
        with self._lock:
            prev = self._last.pop(key, None)
            self._last[key] = (start_ns, total)
            if len(self._last) > self.max_series:
                self._last.popitem(last=False)
            return prev

    def delta(self, key: Hashable, start_ns: int, total: float) -> float:
        """The increase of a cumulative sum since its previous point."""
        inc = self.increase(key, start_ns, total, whole_if_new=bool(start_ns))
        return 0.0 if inc is None else inc

    def increase(self, key: Hashable, start_ns: int, total: float, *, whole_if_new: bool) -> float | None:
        """``delta``, with the caller deciding what a series' first point means: its whole value
        (``whole_if_new``, the counter started recently) or only a baseline (None)."""
        prev = self._swap(key, start_ns, total)
        if prev is None:
            return total if whole_if_new else None
        p_start, p_total = prev
        assert isinstance(p_total, float | int)
        if start_ns != p_start or total < p_total:
            self.resets += 1
            return total
        return total - p_total

    def bucket_delta(self, key: Hashable, start_ns: int, counts: dict[Hashable, float], *,
                     whole_if_new: bool | None = None) -> dict[Hashable, float]:
        """Per-bucket increases of a cumulative histogram since its previous point (a first point counts
        whole when ``whole_if_new``, by default when it has a start time; else it is a baseline)."""
        prev = self._swap(key, start_ns, counts)
        if prev is None:
            return counts if (bool(start_ns) if whole_if_new is None else whole_if_new) else {}
        p_start, p_counts = prev
        assert isinstance(p_counts, dict)
        if start_ns != p_start or any(c < p_counts.get(b, 0) for b, c in counts.items()) or any(
            b not in counts for b in p_counts
        ):
            self.resets += 1
            return counts
        return {b: c - p_counts.get(b, 0) for b, c in counts.items() if c - p_counts.get(b, 0) > 0}
