"""Business metrics: ``put_metric``, counters and timers, aggregated into statistic sets.

Every value recorded for a series within one flush interval becomes one
CloudWatch statistic set (SampleCount, Sum, Minimum, Maximum): a million
increments cost one datum, and the server's Sum/Average/Min/Max stay exact.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rexwatch.sdk.exporters.base import MetricDatum

Key = tuple[str, str, tuple[tuple[str, str], ...], str]
# Series beyond this many per interval are dropped and counted: a dimension fed raw user input
# must not grow memory without end.
MAX_SERIES = 10_000

UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})


def dims_of(dimensions: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not dimensions:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))


class Aggregator:
    """Statistic sets per series for the current interval; the sender drains it every flush."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.lock = threading.Lock()
        self.series: dict[Key, list[float]] = {}
        self.max_series = max_series
        self.dropped = 0
        # Other recorders (request metrics) keep their own cheaper tallies and expand them at drain time.
        self.sources: list[Callable[[float], list[tuple[str, MetricDatum]]]] = []
        # Their resets, run with ours in a forked child: the parent's tallies are the parent's to send.
        self.source_resets: list[Callable[[], None]] = []
        # Their cheap upkeep between drains (folding what requests appended), so backlogs stay small.
        self.source_folds: list[Callable[[], None]] = []

    def add(self, namespace: str, name: str, value: float, unit: str, dims: tuple[tuple[str, str], ...]) -> None:
        key = (namespace, name, dims, unit)
        with self.lock:
            s = self.series.get(key)
            if s is None:
                if len(self.series) >= self.max_series:
                    self.dropped += 1
                    return
                self.series[key] = [1.0, value, value, value]
                return
            s[0] += 1
            s[1] += value
            if value < s[2]:
                s[2] = value
            if value > s[3]:
                s[3] = value

    def drain(self) -> dict[str, list[MetricDatum]]:
        now = time.time()
        with self.lock:
            series, self.series = self.series, {}
        out: dict[str, list[MetricDatum]] = {}
        for (ns, name, dims, unit), (count, total, lo, hi) in series.items():
            out.setdefault(ns, []).append(MetricDatum(name, dims, unit, now, count, total, lo, hi))
        for source in self.sources:
            for ns, datum in source(now):
                out.setdefault(ns, []).append(datum)
        return out

    def fold(self) -> None:
        for fold in self.source_folds:
            fold()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.series = {}
        for reset in self.source_resets:
            reset()


class Counter:
    def __init__(self, client: MetricsClient, name: str, dims: tuple[tuple[str, str], ...], namespace: str) -> None:
        self.client, self.name, self.dims, self.namespace = client, name, dims, namespace

    def inc(self, n: float = 1) -> None:
        self.client.aggregator.add(self.namespace, self.name, float(n), "Count", self.dims)


class Timer:
    """Records elapsed milliseconds: ``with timer:`` or ``@timer``."""

    def __init__(self, client: MetricsClient, name: str, dims: tuple[tuple[str, str], ...], namespace: str) -> None:
        self.client, self.name, self.dims, self.namespace = client, name, dims, namespace

    def record(self, milliseconds: float) -> None:
        self.client.aggregator.add(self.namespace, self.name, float(milliseconds), "Milliseconds", self.dims)

    @contextmanager
    def time(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record((time.perf_counter() - start) * 1000)

    def __enter__(self) -> Timer:
        # ``with metrics.timer("X"):`` makes a Timer per use; a shared one is safe as a decorator.
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.record((time.perf_counter() - self._start) * 1000)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.time():
                return fn(*args, **kwargs)
        return wrapper


class MetricsClient:
    """The application's metrics: ``put_metric("TenantCreated", 1)``, ``counter(...)``, ``timer(...)``."""

    def __init__(self, aggregator: Aggregator, namespace: str) -> None:
        self.aggregator = aggregator
        self.namespace = namespace

    def put_metric(self, name: str, value: float, unit: str = "None", dimensions: Mapping[str, Any] | None = None,
                   namespace: str | None = None) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit {unit!r} is not a CloudWatch unit")
        if not name or len(name) > 255:
            raise ValueError("a metric name has 1 to 255 characters")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric value {value!r} is not a number")
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"metric value {value!r} is not finite")
        self.aggregator.add(namespace or self.namespace, name, v, unit, dims_of(dimensions))

    def counter(self, name: str, dimensions: Mapping[str, Any] | None = None, namespace: str | None = None) -> Counter:
        return Counter(self, name, dims_of(dimensions), namespace or self.namespace)

    def timer(self, name: str, dimensions: Mapping[str, Any] | None = None, namespace: str | None = None) -> Timer:
        return Timer(self, name, dims_of(dimensions), namespace or self.namespace)
