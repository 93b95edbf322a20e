"""Prometheus scrape targets: fetch an exporter's page and store its samples in the metrics store.

rexwatch scrapes the exporters named in the ``scrape`` setting itself, so an
exporter works without a Prometheus server in between. This module is the
protocol part: the ``Accept`` header, reading the text exposition format
(0.0.4) or OpenMetrics 1.0 with ``prometheus_client``'s parsers, and turning
each family into datums (docs/intake.md, "Scraping exporters"):

- namespace: the target's ``namespace`` or the ``scrape_namespace`` setting;
- metric name: the sample name as exposed (``node_cpu_seconds_total``);
- dimensions: the sample's labels, the target's ``labels``, ``job`` and
  ``instance`` (the URL's host:port), in name order, at most 30; an exposed
  ``job`` or ``instance`` label is kept as ``exported_job`` /
  ``exported_instance``, as Prometheus does;
- gauges, untyped, info and stateset samples: the value as it is;
- counters (``_total``), and a histogram's or summary's ``_count`` and
  ``_sum``: the increase since the previous scrape, with reset detection
  (``cumulative.py``), so ``Sum`` over a period is the increase and
  ``Sum / PERIOD`` the rate; a series' first scrape is only a baseline
  unless its ``_created`` time is newer than one interval;
- histograms: additionally, under the family name, each bucket's new
  observations as one value (the bucket's middle) with their count, so
  ``SampleCount`` and ``pNN`` statistics come out as ``histogram_quantile``
  would give them;
- summaries: each quantile as a value with a ``quantile`` dimension.

The scrape worker (``workers/scrape.py``) does the fetching within the
outbound address policy and calls ``store`` from a thread.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
import zlib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rexwatch.intake.common import storable
from rexwatch.intake.cumulative import CumulativeTracker
from rexwatch.intake.otlp_metrics import PointBatch, put
from rexwatch.services.metrics.model import MAX_DIMENSIONS
from rexwatch.services.metrics.service import MetricsService

# What Prometheus 2.x asks for: OpenMetrics first, then the text format.
ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

_COUNTER_TYPE = re.compile(r"^#\s*TYPE\s+(\S+)\s+counter\s*$", re.M)

# Units CloudWatch knows, from the base-unit suffixes of Prometheus' naming conventions.
_SUFFIX_UNITS = (("_seconds", "Seconds"), ("_bytes", "Bytes"))


class ScrapeFailed(Exception):
    """A scrape that stores nothing but ``up`` = 0; ``reason`` is a short label for /metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def instance_of(url: str) -> str:
    """Prometheus' ``instance`` label: the target's host:port (the scheme's port when the URL has none)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def unit_of(name: str, declared: str = "") -> str:
    base = name.removesuffix("_total").removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    if name.endswith("_count"):
        return "Count"
    for suffix, unit in _SUFFIX_UNITS:
        if base.endswith(suffix) or declared == suffix[1:]:
            return unit
    return "None"


def parse(body: str, content_type: str, *, sample_limit: int, deadline: float) -> list[Any]:
    """The metric families of a scraped page, by the format its Content-Type names.

    Refuses (``ScrapeFailed``) past ``sample_limit`` samples or past ``deadline``
    (``time.monotonic()``) while parsing, so a huge page costs bounded time.
    """
    renamed: set[str] = set()
    if content_type.split(";", 1)[0].strip().lower() == "application/openmetrics-text":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families

        # The text parser appends _total to the samples of a counter not named so (OpenMetrics' rule);
        # Prometheus stores the name as exposed (pg_stat_database_xact_commit), and so does rexwatch.
        renamed = {m for m in _COUNTER_TYPE.findall(body) if not m.endswith("_total")}
    families: list[Any] = []
    samples = 0
    try:
        for fam in text_string_to_metric_families(body):
            samples += len(fam.samples)
            if samples > sample_limit:
                raise ScrapeFailed("sample_limit", f"more than {sample_limit} samples (scrape_sample_limit)")
            if time.monotonic() > deadline:
                raise ScrapeFailed("timeout", "parsing the answer took longer than the scrape timeout")
            if fam.type == "counter" and fam.name in renamed:
                fam.samples = [s._replace(name=s.name.removesuffix("_total")) if s.name == fam.name + "_total"
                               else s for s in fam.samples]
            families.append(fam)
    except ScrapeFailed:
        raise
    except Exception as e:  # the parsers raise ValueError, IndexError, KeyError… on malformed pages
        raise ScrapeFailed("parse", f"the answer is not valid {content_type or 'text exposition'}: {e}"[:500])
    return families


@dataclass
class Target:
    """One scrape target as the worker holds it."""

    url: str
    job: str
    interval_s: float
    timeout_s: float
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        return instance_of(self.url)

    def base_labels(self) -> dict[str, str]:
        return {**self.labels, "job": self.job, "instance": self.instance}

    @property
    def phase(self) -> float:
        """A stable offset in [0, interval) spreading targets over the interval, as Prometheus does."""
        return (zlib.crc32(f"{self.job}|{self.url}".encode()) % 10_000) / 10_000 * self.interval_s


class _Mapper:
    """Turns parsed families into a ``PointBatch`` for one scrape."""

    def __init__(self, target: Target, tracker: CumulativeTracker, now: dt.datetime) -> None:
        self.target = target
        self.tracker = tracker
        self.ns = target.namespace
        self.out = PointBatch(now)
        self.now_s = now.timestamp()
        self.t_ms = int(self.now_s * 1000)
        self.base = target.base_labels()
        self._dims: dict[tuple, tuple[list[tuple[str, str]], tuple]] = {}

    def dims(self, labels: dict[str, str], drop: str = "") -> tuple[list[tuple[str, str]], tuple]:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != drop))
        hit = self._dims.get(key)
        if hit is None:
            merged = dict(self.base)
            for k, v in key:
                if k in ("job", "instance") or k in self.target.labels:
                    k = f"exported_{k}"  # the target's labels win, as with Prometheus' honor_labels: false
                if v and k and k[0] != ":" and len(k) <= 255:
                    merged.setdefault(k, v[:1024])
            d = sorted((k, v) for k, v in merged.items() if v)[:MAX_DIMENSIONS]
            hit = self._dims[key] = (d, tuple(d))
        return hit

    def when(self, ts: Any, name: str) -> int | None:
        """The sample's own timestamp when it carries one (Prometheus honours them), else the scrape's."""
        if ts is None:
            return self.t_ms
        return self.out.when(int(float(ts) * 1e9), name)

    def gauge(self, s: Any, unit: str) -> None:
        t = self.when(s.timestamp, s.name)
        if t is None or math.isnan(s.value):
            return
        dims, _ = self.dims(s.labels)
        self.out.value(self.ns, s.name, dims, t, float(s.value), unit)

    def counter(self, s: Any, created: float | None, unit: str) -> None:
        """A cumulative total as its increase since the previous scrape."""
        t = self.when(s.timestamp, s.name)
        v = float(s.value)
        if t is None or math.isnan(v):
            return
        if not storable(v):
            self.out.refuse(1, f"{s.name}: value {v} cannot be stored")
            return
        dims, key = self.dims(s.labels)
        start_ns = int(created * 1e9) if created else 0
        # A counter created within the last interval started at 0 since the previous scrape; any other
        # first sighting (a new target, a server restart) is only a baseline: its total is not news.
        fresh = created is not None and created >= self.now_s - self.target.interval_s
        inc = self.tracker.increase((self.ns, s.name, key), start_ns, v, whole_if_new=fresh)
        if inc is not None:
            self.out.value(self.ns, s.name, dims, t, inc, unit)

    def family(self, fam: Any) -> None:
        kind = fam.type
        if kind == "counter":
            created = {_key(s.labels): s.value for s in fam.samples if s.name.endswith("_created")}
            for s in fam.samples:
                if not s.name.endswith("_created"):
                    self.counter(s, created.get(_key(s.labels)), unit_of(s.name, fam.unit))
        elif kind == "histogram":
            self.histogram(fam)
        elif kind == "summary":
            created = {_key(s.labels): s.value for s in fam.samples if s.name.endswith("_created")}
            for s in fam.samples:
                if s.name.endswith("_created"):
                    continue
                unit = unit_of(s.name, fam.unit)
                if s.name.endswith(("_count", "_sum")):
                    self.counter(s, created.get(_key(s.labels)), unit)
                else:
                    self.gauge(s, unit)
        else:  # gauge, untyped/unknown, info, stateset, gaugehistogram: values as they are
            for s in fam.samples:
                self.gauge(s, unit_of(s.name, fam.unit))

    def histogram(self, fam: Any) -> None:
        buckets: dict[tuple, list[tuple[float, float]]] = {}
        labels_of: dict[tuple, dict[str, str]] = {}
        created: dict[tuple, float] = {}
        stamps: dict[tuple, Any] = {}
        unit = unit_of(fam.name, fam.unit)
        for s in fam.samples:
            if s.name.endswith("_bucket") and "le" in s.labels:
                k = _key(s.labels, "le")
                try:
                    le = float(s.labels["le"])
                except ValueError:
                    self.out.refuse(1, f"{s.name}: le={s.labels['le']!r} is not a number")
                    continue
                buckets.setdefault(k, []).append((le, float(s.value)))
                labels_of[k] = {a: b for a, b in s.labels.items() if a != "le"}
                stamps[k] = s.timestamp
            elif s.name.endswith("_created"):
                created[_key(s.labels)] = s.value
        for s in fam.samples:
            if s.name.endswith(("_count", "_sum")):
                self.counter(s, created.get(_key(s.labels)), "Count" if s.name.endswith("_count") else unit)
        for k, cumulative in buckets.items():
            self.distribution(fam.name, labels_of[k], stamps[k], sorted(cumulative), created.get(k), unit)

    def distribution(self, name: str, labels: dict[str, str], ts: Any, cumulative: list[tuple[float, float]],
                     created: float | None, unit: str) -> None:
        t = self.when(ts, name)
        if t is None:
            return
        counts: dict[Hashable, float] = {}
        reps: dict[Hashable, float] = {}
        prev_le, prev_c = 0.0, 0.0
        finite = [le for le, _ in cumulative if not math.isinf(le)]
        for i, (le, c) in enumerate(cumulative):
            n = c - prev_c
            if n > 0:
                # The bucket's middle, as histogram_quantile interpolates inside it; the first bucket starts
                # at 0 (or is its bound when that is not positive), +Inf answers the highest finite bound.
                if math.isinf(le):
                    v = finite[-1] if finite else 0.0
                elif i == 0:
                    v = le / 2 if le > 0 else le
                else:
                    v = (prev_le + le) / 2
                counts[le], reps[le] = n, v
            prev_le, prev_c = le, max(c, prev_c)
        dims, key = self.dims(labels)
        start_ns = int(created * 1e9) if created else 0
        fresh = created is not None and created >= self.now_s - self.target.interval_s
        inc = self.tracker.bucket_delta((self.ns, name, key, "histogram"), start_ns, counts, whole_if_new=fresh)
        if inc:
            self.out.distribution(self.ns, name, dims, t, inc, reps, unit)


def _key(labels: dict[str, str], drop: str = "") -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


@dataclass
class Outcome:
    stored: int
    refused: int
    problem: str


def store(metrics: MetricsService, tracker: CumulativeTracker, target: Target, families: Iterable[Any] | None,
          *, started: float, duration_s: float) -> Outcome:
    """Store one scrape: its samples (None: the scrape failed), ``up``, ``scrape_duration_seconds`` and
    ``scrape_samples_scraped``, at the scrape's start time (epoch seconds ``started``) as Prometheus does."""
    m = _Mapper(target, tracker, dt.datetime.fromtimestamp(started, dt.UTC))
    scraped = 0
    if families is not None:
        for fam in families:
            scraped += len(fam.samples)
            m.family(fam)
    dims, _ = m.dims({})
    m.out.value(m.ns, "up", dims, m.t_ms, 1.0 if families is not None else 0.0, "None")
    m.out.value(m.ns, "scrape_duration_seconds", dims, m.t_ms, duration_s, "Seconds")
    m.out.value(m.ns, "scrape_samples_scraped", dims, m.t_ms, float(scraped), "Count")
    before = m.out.rejected
    put(metrics, m.out)
    stored = sum(len(c.cols) for c in m.out.by_ns.values())
    return Outcome(stored - (m.out.rejected - before), m.out.rejected, m.out.problem)
