"""The interface every collector implements, and a helper for counters that AWS reports as rates."""

from __future__ import annotations

from typing import Any, Protocol

from rexwatch.agent.model import Collected


class Collector(Protocol):
    """One source of metrics or log lines. ``collect`` is called once per interval from one thread."""

    name: str

    def collect(self, now: float) -> Collected: ...

    def close(self) -> None: ...


class Deltas:
    """Turns monotonically growing counters into per-interval differences.

    The first sample of a counter yields nothing (there is no interval yet), and a counter that went
    backwards (a restart of the watched system) restarts the baseline instead of reporting a negative.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def delta(self, key: str, value: float, now: float) -> tuple[float, float] | None:
        """(difference, seconds elapsed) since the previous sample of ``key``, or None."""
        prev = self._last.get(key)
        self._last[key] = (value, now)
        if prev is None or value < prev[0] or now <= prev[1]:
            return None
        return value - prev[0], now - prev[1]


def as_dims(mapping: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in mapping.items() if v not in (None, ""))
