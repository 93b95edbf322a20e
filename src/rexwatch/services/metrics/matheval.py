"""Metric math evaluation over aligned numpy vectors.

A time series is a ``Series``: ascending epoch-second timestamps and float
values, NaN for "no data". Series read from the store hold only the periods
that have data, so work is sized by the data and never by the time range;
FILL() alone spreads a series over every period of the request's range (whose
size the caller has bounded). Operators and functions work on whole
vectors; two series on different grids are aligned on the union of their
timestamps first. A value is a float (scalar), a ``Series`` or a list of
series; arithmetic broadcasts over lists as CloudWatch does (``METRICS() * 2``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rexwatch.errors import QueryError
from rexwatch.lang.mathexpr import Binary, Call, ListExpr, Num, Ref, Str, Unary

KEYWORDS = {"REPEAT", "LINEAR"}


@dataclass
class Series:
    t: np.ndarray  # int64 epoch seconds, ascending
    v: np.ndarray  # float64, NaN = missing
    label: str
    period: int = 60
    id: str = ""
    props: dict[str, str] | None = None  # for dynamic labels: MetricName, Namespace, Stat, Period, Dim.<name>


Value = float | Series | list


def _align(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if a.t.shape == b.t.shape and np.array_equal(a.t, b.t):
        return a.t, a.v, b.v
    t = np.union1d(a.t, b.t)
    return t, _reindex(a, t), _reindex(b, t)


def _reindex(s: Series, t: np.ndarray) -> np.ndarray:
    out = np.full(t.shape, np.nan)
    if len(s.t):
        idx = np.searchsorted(t, s.t)
        out[idx] = s.v
    return out


def _binop(op: str, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "+":
            r = np.add(x, y)
        elif op == "-":
            r = np.subtract(x, y)
        elif op == "*":
            r = np.multiply(x, y)
        elif op == "/":
            r = np.divide(x, y)
            # CloudWatch drops points that divide by zero rather than returning infinities.
            r = (
                np.where(np.isfinite(r), r, np.nan)
                if isinstance(r, np.ndarray)
                else (r if np.isfinite(r) else float("nan"))
            )
        elif op == "^":
            r = np.power(x, y)
        else:
            xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            if op == "<":
                c = xa < ya
            elif op == "<=":
                c = xa <= ya
            elif op == ">":
                c = xa > ya
            elif op == ">=":
                c = xa >= ya
            elif op == "==":
                c = xa == ya
            elif op == "!=":
                c = xa != ya
            elif op == "AND":
                c = (xa != 0) & (ya != 0)
            elif op == "OR":
                c = (xa != 0) | (ya != 0)
            else:
                raise ValueError(op)
            r = np.where(np.isnan(xa) | np.isnan(ya), np.nan, c.astype(float))
            if r.ndim == 0:
                r = float(r)
    return r


class Evaluator:
    """Evaluates one expression; ``resolve(name)`` returns the value of another query."""

    def __init__(
        self,
        text: str,
        resolve: Callable[[str, int], Value],
        metric_series: Callable[[], list[Series]],
        search: Callable[[str, str, int], list[Series]] | None = None,
        *,
        span: tuple[int, int] | None = None,
        max_points: int = 100_800,
    ) -> None:
        self.span = span  # the request's [start, end) in epoch seconds: the grid FILL() fills
        self.max_points = max_points
        self.text = text
        self.resolve = resolve
        self.metric_series = metric_series
        self.search = search

    def error(self, message: str, pos: int) -> QueryError:
        return QueryError(message, query=self.text, start=pos)

    def eval(self, node: object) -> Value:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Str):
            raise self.error("a string is only allowed as an argument of METRICS()", node.pos)
        if isinstance(node, Ref):
            if node.name.upper() in KEYWORDS:
                raise self.error(f"{node.name} is only allowed as the second argument of FILL()", node.pos)
            return self.resolve(node.name, node.pos)
        if isinstance(node, ListExpr):
            items: list[Series] = []
            for it in node.items:
                v = self.eval(it)
                if isinstance(v, Series):
                    items.append(v)
                elif isinstance(v, list):
                    items.extend(v)
                else:
                    raise self.error("a list may only hold time series", getattr(it, "pos", node.pos))
            return items
        if isinstance(node, Unary):
            return self.apply(lambda x: np.negative(x), self.eval(node.operand))
        if isinstance(node, Binary):
            return self.binary(node.op, self.eval(node.left), self.eval(node.right), node.pos)
        if isinstance(node, Call):
            return self.call(node)
        raise self.error("unsupported expression", 0)

    # -- helpers -------------------------------------------------------------------------
    def apply(self, fn: Callable, x: Value) -> Value:
        if isinstance(x, list):
            return [self.apply(fn, s) for s in x]
        if isinstance(x, Series):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                v = fn(x.v)
            v = np.where(np.isfinite(v), v, np.nan)
            return Series(x.t, v, x.label, x.period)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return float(fn(np.float64(x)))

    def binary(self, op: str, a: Value, b: Value, pos: int) -> Value:
        if isinstance(a, list) or isinstance(b, list):
            if isinstance(a, list) and isinstance(b, list):
                if len(a) != len(b):
                    raise self.error(f"cannot combine lists of {len(a)} and {len(b)} time series", pos)
                return [self.binary(op, x, y, pos) for x, y in zip(a, b, strict=True)]
            if isinstance(a, list):
                return [self.binary(op, x, b, pos) for x in a]
            return [self.binary(op, a, y, pos) for y in b]
        if isinstance(a, Series) and isinstance(b, Series):
            t, x, y = _align(a, b)
            return Series(t, np.asarray(_binop(op, x, y), dtype=float), a.label, min(a.period, b.period))
        if isinstance(a, Series):
            return Series(a.t, np.asarray(_binop(op, a.v, b), dtype=float), a.label, a.period)
        if isinstance(b, Series):
            return Series(b.t, np.asarray(_binop(op, a, b.v), dtype=float), b.label, b.period)
        return float(_binop(op, a, b))

    def series_arg(self, node: Call, i: int) -> Series | list:
        if i >= len(node.args):
            raise self.error(f"{node.name}() needs at least {i + 1} argument(s)", node.pos)
        v = self.eval(node.args[i])
        if not isinstance(v, Series | list):
            raise self.error(
                f"argument {i + 1} of {node.name}() must be a time series",
                getattr(node.args[i], "pos", node.pos),
            )
        return v

    def nargs(self, node: Call, lo: int, hi: int) -> None:
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.error(f"{node.name}() takes {want} argument(s), got {len(node.args)}", node.pos)

    # -- functions -----------------------------------------------------------------------
    def call(self, node: Call) -> Value:
        name = node.name
        if name == "METRICS":
            self.nargs(node, 0, 1)
            series = self.metric_series()
            if node.args:
                arg = node.args[0]
                if not isinstance(arg, Str):
                    raise self.error("METRICS() takes a string", node.pos)
                series = [s for s in series if arg.value in s.id or arg.value in s.label]
            return series
        if name == "SEARCH":
            self.nargs(node, 3, 3)
            query, stat, period = node.args
            if not isinstance(query, Str) or not isinstance(stat, Str) or not isinstance(period, Num):
                raise self.error("SEARCH() takes ('search expression', 'Statistic', period)", node.pos)
            if self.search is None:
                raise self.error("SEARCH() is not available here", node.pos)
            try:
                return self.search(query.value, stat.value, int(period.value))
            except QueryError as e:
                # Point into the search string, inside this expression.
                raise self.error(f"in SEARCH(): {e.detail}", query.pos + 1 + e.start)
        if name in _AGGREGATES:
            self.nargs(node, 1, 1)
            arg = self.series_arg(node, 0)
            fn = _AGGREGATES[name]
            if isinstance(arg, Series):
                ok = arg.v[~np.isnan(arg.v)]
                return float(fn(ok[None, :])[0]) if len(ok) else float("nan")
            if not arg:
                raise self.error(f"{name}() got an empty list", node.pos)
            t = arg[0].t
            for s in arg[1:]:
                t = np.union1d(t, s.t) if not np.array_equal(t, s.t) else t
            m = np.vstack([_reindex(s, t) for s in arg]).T
            with np.errstate(all="ignore"):
                present = ~np.isnan(m)
                v = np.where(present.any(axis=1), fn(m), np.nan)
            return Series(t, v, name, min(s.period for s in arg))
        if name in _ELEMENTWISE:
            self.nargs(node, 1, 1)
            return self.apply(_ELEMENTWISE[name], self.eval(node.args[0]))
        if name in ("RATE", "DIFF", "DIFF_TIME"):
            self.nargs(node, 1, 1)
            return self._per_series(self.series_arg(node, 0), lambda s: _delta(s, name))
        if name == "RUNNING_SUM":
            self.nargs(node, 1, 1)

            def running(s: Series) -> Series:
                ok = ~np.isnan(s.v)
                v = np.where(ok, np.cumsum(np.where(ok, s.v, 0.0)), np.nan)
                return Series(s.t, v, s.label, s.period)

            return self._per_series(self.series_arg(node, 0), running)
        if name == "PERIOD":
            self.nargs(node, 1, 1)
            arg = self.series_arg(node, 0)
            return float(arg.period if isinstance(arg, Series) else arg[0].period)
        if name == "FILL":
            self.nargs(node, 2, 2)
            arg = self.series_arg(node, 0)
            how = node.args[1]
            if isinstance(how, Ref) and how.name.upper() in KEYWORDS:
                mode: str | float = how.name.upper()
            else:
                v = self.eval(how)
                if not isinstance(v, float):
                    raise self.error(
                        "the second argument of FILL() is a number, REPEAT or LINEAR",
                        getattr(how, "pos", node.pos),
                    )
                mode = v
            return self._per_series(arg, lambda s: _fill(s, mode, self._grid(s, node.pos)))
        if name == "REMOVE_EMPTY":
            self.nargs(node, 1, 1)
            arg = self.series_arg(node, 0)
            items = arg if isinstance(arg, list) else [arg]
            return [s for s in items if not np.all(np.isnan(s.v))]
        if name == "IF":
            self.nargs(node, 2, 3)
            cond = self.eval(node.args[0])
            a = self.eval(node.args[1])
            b = self.eval(node.args[2]) if len(node.args) == 3 else float("nan")
            return self._if(cond, a, b, node.pos)
        raise self.error(f"unknown function {name}()", node.pos)

    def _grid(self, s: Series, pos: int) -> np.ndarray:
        """Every period of ``s`` in the request's range, plus the timestamps ``s`` already has."""
        if self.span is None:
            return s.t
        start, end = self.span
        first = start - start % s.period
        n = max(0, -(-(end - first) // s.period))
        if n > self.max_points:
            raise self.error(
                f"FILL() would produce {n} datapoints, more than the limit of {self.max_points}: "
                f"use a longer period or a shorter time range",
                pos,
            )
        return np.union1d(np.arange(first, end, s.period, dtype=np.int64), s.t)

    def _per_series(self, arg: Series | list, fn: Callable[[Series], Series]) -> Value:
        return [fn(s) for s in arg] if isinstance(arg, list) else fn(arg)

    def _if(self, cond: Value, a: Value, b: Value, pos: int) -> Value:
        if isinstance(cond, list):
            return [
                self._if(c, a[i] if isinstance(a, list) else a, b[i] if isinstance(b, list) else b, pos)
                for i, c in enumerate(cond)
            ]
        if not isinstance(cond, Series):
            return a if (cond != 0 and not np.isnan(cond)) else b
        t = cond.t

        def on_grid(x: Value) -> np.ndarray:
            if isinstance(x, Series):
                return _reindex(x, t) if not np.array_equal(x.t, t) else x.v
            if isinstance(x, list):
                raise self.error("IF() branches must be a time series or a number", pos)
            return np.full(t.shape, float(x))

        av, bv = on_grid(a), on_grid(b)
        c = cond.v
        v = np.where(np.isnan(c), np.nan, np.where(c != 0, av, bv))
        label = a.label if isinstance(a, Series) else cond.label
        return Series(t, v, label, cond.period)


def _delta(s: Series, kind: str) -> Series:
    ok = np.flatnonzero(~np.isnan(s.v))
    out = np.full(s.v.shape, np.nan)
    if len(ok) > 1:
        dv = np.diff(s.v[ok])
        dtm = np.diff(s.t[ok]).astype(float)
        if kind == "RATE":
            out[ok[1:]] = dv / dtm
        elif kind == "DIFF":
            out[ok[1:]] = dv
        else:
            out[ok[1:]] = dtm
    return Series(s.t, out, s.label, s.period)


def _fill(s: Series, mode: str | float, grid: np.ndarray) -> Series:
    if not np.array_equal(grid, s.t):
        s = Series(grid, _reindex(s, grid), s.label, s.period, s.id, s.props)
    v = s.v.copy()
    missing = np.isnan(v)
    if not missing.any():
        return s
    if isinstance(mode, float):
        v[missing] = mode
    elif mode == "REPEAT":
        idx = np.where(~missing, np.arange(len(v)), 0)
        np.maximum.accumulate(idx, out=idx)
        filled = v[idx]
        # Leading gaps have nothing to repeat: fill them with the first value.
        first = np.flatnonzero(~missing)
        if len(first):
            filled[: first[0]] = v[first[0]]
        v = filled
    else:  # LINEAR
        ok = ~missing
        if ok.sum() >= 1:
            v = np.interp(s.t.astype(float), s.t[ok].astype(float), v[ok])
    return Series(s.t, v, s.label, s.period)


_AGGREGATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "SUM": lambda m: np.nansum(m, axis=1),
    "AVG": lambda m: np.nanmean(m, axis=1),
    "MIN": lambda m: np.nanmin(m, axis=1),
    "MAX": lambda m: np.nanmax(m, axis=1),
    "STDDEV": lambda m: np.nanstd(m, axis=1, ddof=0),
}

_ELEMENTWISE: dict[str, Callable] = {
    "ABS": np.abs,
    "CEIL": np.ceil,
    "FLOOR": np.floor,
    "LOG": np.log,
    "LOG10": np.log10,
    "EXP": np.exp,
    "SQRT": np.sqrt,
}
