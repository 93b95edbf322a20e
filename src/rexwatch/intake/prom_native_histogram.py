"""Prometheus native histograms (Remote-Write 2.0's ``Histogram``) as buckets the metrics store takes.

A native histogram is stored as OTLP exponential histograms are (``otlp_metrics``):
each non-empty bucket becomes a value with its count, so pNN statistics come
out within a bucket's width. Representative values:

- exponential schemas (-4 to 8): bucket ``k`` is ``(base^(k-1), base^k]`` with
  ``base = 2^(2^-schema)`` (one off from OTLP's indexing); its geometric middle,
  ``base^(k-0.5)``, negated for negative buckets; the zero bucket is 0;
- custom buckets (schema -53): bucket ``k`` is ``(custom_values[k-1],
  custom_values[k]]``; its midpoint, the upper bound for the first bucket and
  the last bound for the +Inf bucket.

Buckets are given as spans (a start index, then gaps) over a flat list of
counts (float histograms) or of deltas between neighbouring counts (integer
histograms). Anything inconsistent raises ``ValueError`` with the reason; the
cost is bounded by the lists' lengths (which the body bound bounds), never by
a span's declared length.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterator
from typing import Any

CUSTOM_BUCKETS = -53
GAUGE = 3  # Histogram.ResetHint.RESET_HINT_GAUGE: counts are not cumulative


def _buckets(spans: Any, counts: Any, deltas: Any) -> Iterator[tuple[int, float]]:
    """(bucket index, count) of one side, in order."""
    values = counts if len(counts) else deltas
    cumulate = not len(counts)
    i, index, acc = 0, 0, 0
    for span in spans:
        index += span.offset
        for _ in range(span.length):
            if i >= len(values):
                raise ValueError("its spans cover more buckets than it has counts")
            if cumulate:
                acc += values[i]
                c = float(acc)
            else:
                c = values[i]
            i += 1
            if not c >= 0 or math.isinf(c):
                raise ValueError(f"a bucket count is {c}")
            yield index, c
            index += 1
    if i != len(values):
        raise ValueError("it has more bucket counts than its spans cover")


def buckets(h: Any) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
    """(bucket -> count, bucket -> representative value) of one native histogram sample."""
    schema = h.schema
    counts: dict[Hashable, float] = {}
    reps: dict[Hashable, float] = {}
    if schema == CUSTOM_BUCKETS:
        bounds = list(h.custom_values)
        if any(not b < c for b, c in itertools.pairwise(bounds)) or any(map(math.isinf, bounds)):
            raise ValueError("its custom bucket bounds are not finite and increasing")
        for k, c in _buckets(h.positive_spans, h.positive_counts, h.positive_deltas):
            if not 0 <= k <= len(bounds):
                raise ValueError(f"custom bucket {k} is past its {len(bounds)} bounds")
            if c:
                if not bounds:
                    v = h.sum / c if math.isfinite(h.sum) else 0.0
                elif k == 0:
                    v = bounds[0]
                elif k == len(bounds):
                    v = bounds[-1]
                else:
                    v = (bounds[k - 1] + bounds[k]) / 2
                counts[k], reps[k] = c, v
        return counts, reps
    if not -4 <= schema <= 8:
        raise ValueError(f"schema {schema} is not one of -4 to 8 or -53 (custom buckets)")
    base = 2.0 ** (2.0 ** -schema)
    zero = h.zero_count_float or float(h.zero_count_int)
    if zero:
        counts["z"], reps["z"] = zero, 0.0
    for sign, spans, cs, ds in ((1.0, h.positive_spans, h.positive_counts, h.positive_deltas),
                                (-1.0, h.negative_spans, h.negative_counts, h.negative_deltas)):
        for k, c in _buckets(spans, cs, ds):
            if c:
                try:
                    v = sign * base ** (k - 0.5)
                except OverflowError:
                    raise ValueError(f"bucket {k} is out of range for schema {schema}") from None
                counts[(sign, schema, k)], reps[(sign, schema, k)] = c, v
    return counts, reps
