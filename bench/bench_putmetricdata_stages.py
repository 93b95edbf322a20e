"""Where one 1,000-item PutMetricData call spends its CPU, stage by stage, in process (no HTTP).

With ``--baseline DIR`` (a source tree of another revision, e.g. from ``git archive``), that
revision's query and CBOR codecs and type check are loaded beside this one's and timed
alternately in the same process, so the ratios are measured under the same load.

Usage: python bench/bench_putmetricdata_stages.py [--baseline DIR] [--rounds 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import pathlib
import sys
import tempfile
import time
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(__file__))

import bench_intake as bench
from rexwatch.aws import cloudwatch as cw_handlers
from rexwatch.aws import door, validate
from rexwatch.aws.protocols import cbor, query
from rexwatch.aws.registry import HANDLERS, AwsContext
from rexwatch.services.metrics import put
from rexwatch.stores.telemetry.chdb import engine_for
from rexwatch.testing import make_runtime


def load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    op = door.service_model("cloudwatch").operation_model("PutMetricData")
    qb = bench.put_metric_data_bodies(6)
    cb = bench.cbor_put_metric_data_bodies(6)
    old = {}
    if args.baseline:
        base = os.path.join(args.baseline, "src", "rexwatch", "aws")
        old = {"query": load("base_query", os.path.join(base, "protocols", "query.py")),
               "cbor": load("base_cbor", os.path.join(base, "protocols", "cbor.py")),
               "validate": load("base_validate", os.path.join(base, "validate.py"))}
        # The column builders: the handler's for the generic codecs' items, the service's for datums.
        registered = dict(HANDLERS)
        old["cloudwatch"] = load("base_cloudwatch", os.path.join(base, "cloudwatch.py"))
        HANDLERS.update(registered)  # loading it registered its handlers over these
        # The old codecs import their PutMetricData readers by package name: hand them the old ones.
        old["cbor"].cbor_metricdata = load("base_cbor_metricdata", os.path.join(base, "protocols",
                                                                                 "cbor_metricdata.py"))
        old["query"].query_metricdata = load("base_query_metricdata", os.path.join(base, "protocols",
                                                                                   "query_metricdata.py"))
        old["put"] = load("base_put", os.path.join(args.baseline, "src", "rexwatch", "services", "metrics",
                                                   "put.py"))
    now = dt.datetime.now(dt.UTC)
    items = [query.decode(b, {}, op).materialize()["MetricData"] for b in qb]
    datums = [[cw_handlers._datum(item, i, {}) for i, item in enumerate(its, 1)] for its in items]
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        rt = make_runtime(d / "data", engine_for(str(d / "chdb")), workers="none")
        ctx = AwsContext(rt, "cloudwatch", "PutMetricData", "bench", "us-east-1", "000000000000", "query")
        stages = {
            "query: find Action and Version": (
                old and (lambda b: parse_qs(b.decode(), keep_blank_values=True)),
                lambda b: (door._form_value(b.decode(), "Action"), door._form_value(b.decode(), "Version")), qb),
            "query: decode the form": (old and (lambda b: old["query"].decode(b, {}, op)),
                                       lambda b: query.decode(b, {}, op), qb),
            # A plain PutMetricData body is type-checked while it is decoded (the door's check then
            # returns at once): the two stages are timed together.
            "CBOR: decode and type check": (
                old and (lambda b: old["validate"].check(old["cbor"].decode(b, {}, op), op.input_shape)),
                lambda b: validate.check(cbor.decode(b, {}, op), op.input_shape), cb),
            "query: decode and columns": (old and (lambda b: old["query"].decode(b, {}, op).columns(now)),
                                          lambda b: query.decode(b, {}, op).columns(now), qb),
            "CBOR: decode, type check and columns": (
                old and (lambda b: old["validate"].check(p := old["cbor"].decode(b, {}, op), op.input_shape)
                         or p.columns(now)),
                lambda b: validate.check(p := cbor.decode(b, {}, op), op.input_shape) or p.columns(now), cb),
            "items as columns (the handler's builder, generic codecs' items)": (
                old and (lambda its: old["cloudwatch"]._columns(its, now)), lambda its: cw_handlers._columns(its, now),
                items),
            "datums as columns (the metrics service's as_columns)": (
                old and (lambda ds: old["put"].as_columns(ds, now)), lambda ds: put.as_columns(ds, now), datums),
            "handler and metrics service (query form)": (
                None, lambda p: cw_handlers.put_metric_data(ctx, p), [query.decode(b, {}, op) for b in qb]),
            "handler and metrics service (CBOR)": (
                None, lambda p: cw_handlers.put_metric_data(ctx, p), [cbor.decode(b, {}, op) for b in cb]),
        }
        best = {k: [float("inf"), float("inf")] for k in stages}
        for _ in range(args.rounds):
            for k, (before, after, inputs) in stages.items():
                for j, f in enumerate((before, after)):
                    if not f:
                        continue
                    for a in inputs:
                        t = time.perf_counter()
                        f(a)
                        best[k][j] = min(best[k][j], time.perf_counter() - t)
        rt.close(close_stores=False)
    print(f"| stage (one 1,000-item call, best of {args.rounds * 6}) | baseline ms | this revision ms | ratio |")
    print("|---|---|---|---|")
    for k, (b, a) in best.items():
        if b == float("inf"):
            print(f"| {k} | | {a * 1000:.1f} | |")
        else:
            print(f"| {k} | {b * 1000:.1f} | {a * 1000:.1f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
