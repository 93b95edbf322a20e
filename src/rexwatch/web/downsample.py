"""Charts are drawn at their pixel width: a series with more points than the chart has pixel columns
is cut into one time bucket per column, and each bucket keeps its lowest and highest value (the
points at the bucket's first and last timestamp), so a spike or a threshold crossing inside a
column still shows. The page tells the server how wide its chart is (``w=`` or a cookie that
console.js keeps); the work is numpy over the whole series, never a loop per point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import Request

DEFAULT_WIDTH = 1000  # px: a chart on a laptop's screen; the page sends its own once it has drawn one
MIN_WIDTH, MAX_WIDTH = 100, 4000
WIDTH_COOKIE = "rexwatch_chart_w"


def chart_width(request: Request) -> int:
    """The chart's width in CSS pixels: ``w=`` of the request, else the cookie console.js sets
    from the chart's box, else ``DEFAULT_WIDTH``; clamped to 100-4,000."""
    for raw in (request.query_params.get("w"), request.cookies.get(WIDTH_COOKIE)):
        if raw and raw.isdigit() and len(raw) <= 6:
            return max(MIN_WIDTH, min(MAX_WIDTH, int(raw)))
    return DEFAULT_WIDTH


def _values(values: list[float | None]) -> np.ndarray:
    return np.array(values, dtype=float)  # None (a gap) becomes NaN


def to_width(data: dict[str, Any], width: int) -> dict[str, Any]:
    """``data`` (``{"x": [seconds, ascending], "series": [{"values": [...]}]}``) with at most two
    points per pixel column: each column's minimum and maximum, for every series on the shared x.
    Unchanged when there are no more points than two per column. Sets ``data["columns"]`` (the
    columns drawn) and ``data["points_in"]`` (the points before) when it thins."""
    n = len(data["x"])
    if n <= 2 * width:
        return data
    xs = np.asarray(data["x"], dtype=float)
    span = xs[-1] - xs[0]
    col = np.minimum(((xs - xs[0]) * width / span).astype(np.int64), width - 1) if span > 0 else np.zeros(n, int)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])  # each non-empty column's first point
    ends = np.r_[starts[1:], n] - 1  # and its last
    single = starts == ends
    keep = np.column_stack([np.ones(len(starts), bool), ~single]).ravel()  # one point for a lone one
    x_out = np.column_stack([xs[starts], xs[ends]]).ravel()[keep]
    for s in data["series"]:
        v = _values(s["values"])
        with np.errstate(invalid="ignore"):
            lo = np.fmin.reduceat(v, starts)  # fmin/fmax skip NaN (gaps) unless a column is all gaps
            hi = np.fmax.reduceat(v, starts)
        out = np.column_stack([lo, hi]).ravel()[keep]
        s["values"] = np.where(np.isnan(out), None, out).tolist()
    data["x"] = [int(x) if float(x).is_integer() else float(x) for x in x_out.tolist()]
    data["columns"] = len(starts)
    data["points_in"] = n
    return data
