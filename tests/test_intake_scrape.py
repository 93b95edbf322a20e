"""Prometheus scrape targets: Debian's node, PostgreSQL and Redis exporters against the real servers,
prometheus_client's own OpenMetrics and text pages, and every way a scrape can fail."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import http.server
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client import generate_latest as text_page
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_page

from rexwatch import netpolicy
from rexwatch.errors import ConfigError
from rexwatch.intake.prom_scrape import ACCEPT
from rexwatch.settings import load_settings
from rexwatch.testing import LiveServer, free_port, make_runtime, wait_until
from rexwatch.workers.scrape import ScrapeWorker, targets_of

NS = "prometheus/scrape"


# ------------------------------------------------------------------ helpers


class Page:
    """A local HTTP server answering GET with whatever ``respond`` returns (status, headers, body)."""

    def __init__(self, respond: Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]) -> None:
        self.respond = respond
        self.seen: list[dict[str, str]] = []
        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers[":path"] = self.path
                page.seen.append(headers)
                status, extra, body = page.respond(headers)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def registry_page(reg: CollectorRegistry, openmetrics: bool) -> Page:
    def respond(_h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if openmetrics:
            return 200, {"Content-Type": OPENMETRICS}, openmetrics_page(reg)
        return 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}, text_page(reg)

    return Page(respond)


def scrape_once(runtime, n: int = 1) -> list[dict]:
    """Run ``n`` scrapes of every configured target with the real worker and client; their outcomes."""
    worker = ScrapeWorker(runtime)

    async def go() -> list[dict]:
        pol = netpolicy.policy(runtime.settings)
        out = []
        async with netpolicy.guarded_client(pol, headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"}) as client:
            for _ in range(n):
                for t in worker.targets:
                    out.append(await worker.scrape(t, client))
        return out

    return asyncio.run(go())


def stats(cw, name: str, dims: dict[str, str], stats=("SampleCount", "Sum", "Maximum"), ext=(), minutes=60):
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_statistics(Namespace=NS, MetricName=name,
                                 Dimensions=[{"Name": k, "Value": v} for k, v in sorted(dims.items())],
                                 StartTime=now - dt.timedelta(minutes=minutes), EndTime=now + dt.timedelta(minutes=5),
                                 Period=minutes * 60 + 300, **({"Statistics": list(stats)} if stats else {}),
                                 **({"ExtendedStatistics": list(ext)} if ext else {}))
    return r["Datapoints"][0] if r["Datapoints"] else None


def metric_data(cw, name: str, dims: dict[str, str], stat: str) -> list[float]:
    """GetMetricData over the last hour in one period."""
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {
        "Metric": {"Namespace": NS, "MetricName": name,
                   "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())]},
        "Period": 3600, "Stat": stat}}], StartTime=now - dt.timedelta(minutes=55),
        EndTime=now + dt.timedelta(minutes=5))
    return r["MetricDataResults"][0]["Values"]


@pytest.fixture
def make_live(tmp_path: Path, chdb_engine) -> Iterator[Callable[..., LiveServer]]:
    made: list[tuple] = []

    def make(*, run_workers: bool = False, **settings) -> LiveServer:
        rt = make_runtime(tmp_path / f"data{len(made)}", chdb_engine, workers="scrape" if run_workers else "none",
                          **settings)
        srv = LiveServer(rt, run_workers=run_workers).start()
        made.append((rt, srv))
        return srv

    yield make
    for rt, srv in made:
        srv.stop()
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()


# ------------------------------------------------------------------ configuration


def test_scrape_targets_come_from_the_config_file(tmp_path):
    cfg = tmp_path / "rexwatch.toml"
    cfg.write_text("""
[[scrape]]
url = "http://127.0.0.1:9100/metrics"
job = "node"
interval_s = 15
labels = {env = "prod"}

[[scrape]]
url = "https://db.internal:9187/metrics"
job = "postgres"
namespace = "UTM/Postgres"
""")
    s = load_settings(cfg)
    [node, pg] = targets_of(s)
    assert (node.job, node.interval_s, node.timeout_s, node.namespace) == ("node", 15.0, 10.0, NS)
    assert node.base_labels() == {"env": "prod", "job": "node", "instance": "127.0.0.1:9100"}
    assert (pg.namespace, pg.instance, pg.interval_s) == ("UTM/Postgres", "db.internal:9187", 60.0)
    assert s.masked()["scrape"][0]["url"] == "http://127.0.0.1:9100/metrics"


@pytest.mark.parametrize("target, problem", [
    ({"url": "ftp://x/metrics", "job": "a"}, "http:// or https://"),
    ({"url": "http://127.0.0.1:1/metrics", "job": "a", "interval_s": 5, "timeout_s": 10}, "interval_s"),
    ({"url": "http://127.0.0.1:1/metrics"}, "job"),
    ({"url": "http://127.0.0.1:1/metrics", "job": "a", "labels": {"instance": "x"}}, "labels"),
    ({"url": "http://127.0.0.1:1/metrics", "job": "a", "every": 3}, "unknown setting"),
])
def test_bad_targets_stop_the_server_with_a_clear_error(target, problem):
    with pytest.raises(ConfigError) as e:
        load_settings(scrape=[target])
    assert "scrape" in str(e.value) and problem in str(e.value)


# ------------------------------------------------------------------ formats and mapping


@pytest.mark.parametrize("openmetrics", [True, False], ids=["openmetrics", "text"])
def test_counters_become_increments_and_histograms_percentiles(make_live, openmetrics):
    reg = CollectorRegistry()
    requests = Counter("app_requests", "Requests.", ["route"], registry=reg)
    latency = Histogram("app_latency_seconds", "Latency.", buckets=(0.1, 0.5, 1, 5), registry=reg)
    queue = Gauge("app_queue_depth", "Jobs waiting.", registry=reg)
    summary = Summary("app_payload_bytes", "Payload sizes.", registry=reg)
    page = registry_page(reg, openmetrics)
    try:
        live = make_live(scrape=[{"url": page.url, "job": "app", "interval_s": 60}])
        rt = live.runtime
        requests.labels("/a").inc(5)
        for v in [0.05] * 900 + [0.3] * 90 + [3.0] * 10:
            latency.observe(v)
        queue.set(7)
        summary.observe(100)
        [first] = scrape_once(rt)
        assert first["up"] and first["error"] == "" and first["refused"] == 0, first
        requests.labels("/a").inc(7)
        latency.observe(0.7)
        summary.observe(300)
        [second] = scrape_once(rt)
        assert second["up"]
        # The exporter restarts: its counter starts again from 0 (a smaller value is a reset).
        requests.labels("/a")._value.set(3)
        scrape_once(rt)

        cw = live.boto3_client("cloudwatch")
        base = {"job": "app", "instance": page.url.split("/")[2]}
        assert page.seen[0]["accept"] == ACCEPT
        p = stats(cw, "app_requests_total", {**base, "route": "/a"})
        # OpenMetrics carries _created (the counter is new: its first total counts); the text format does
        # not, so the first scrape is only a baseline there.
        assert p["Sum"] == (5 + 7 + 3 if openmetrics else 7 + 3), p
        assert stats(cw, "app_queue_depth", base)["Maximum"] == 7
        assert stats(cw, "app_payload_bytes_sum", base)["Sum"] == (400 if openmetrics else 300)
        assert stats(cw, "up", base)["SampleCount"] == 3
        dist = stats(cw, "app_latency_seconds", base, stats=("SampleCount",), ext=("p50", "p98", "p99", "p99.9"))
        if openmetrics:
            assert dist["SampleCount"] == 1001
            ext = dist["ExtendedStatistics"]
            assert ext["p50"] == pytest.approx(0.05, rel=0.01)  # the middle of (0, 0.1]
            assert ext["p98"] == pytest.approx(0.3, rel=0.01)  # (0.1, 0.5]
            assert ext["p99"] == pytest.approx(0.75, rel=0.01)  # (0.5, 1]: the observation of 0.7
            assert ext["p99.9"] == pytest.approx(3.0, rel=0.01)  # (1, 5]
        else:
            assert dist["SampleCount"] == 1  # the baseline is not news: one observation since
            assert dist["ExtendedStatistics"]["p50"] == pytest.approx(0.75, rel=0.01)  # (0.5, 1]
        assert metric_data(cw, "app_latency_seconds_count", base, "Sum") == [1001.0 if openmetrics else 1.0]
        assert metric_data(cw, "up", base, "Minimum") == [1.0]
    finally:
        page.close()


def test_exposed_job_and_instance_labels_do_not_replace_the_targets(make_live):
    body = b'# TYPE temp gauge\ntemp{job="sensor",instance="x",room="a"} 21.5\n# TYPE hits counter\nhits 5\n'
    page = Page(lambda _h: (200, {"Content-Type": "text/plain; version=0.0.4"}, body))
    try:
        live = make_live(scrape=[{"url": page.url, "job": "home", "labels": {"site": "berlin"}}])
        scrape_once(live.runtime, 2)
        cw = live.boto3_client("cloudwatch")
        # A counter not named *_total keeps its name, as Prometheus stores it.
        names = {m["MetricName"] for m in cw.list_metrics(Namespace=NS)["Metrics"]}
        assert "hits" in names and "hits_total" not in names
        [m] = cw.list_metrics(Namespace=NS, MetricName="temp")["Metrics"]
        assert {d["Name"]: d["Value"] for d in m["Dimensions"]} == {
            "exported_instance": "x", "exported_job": "sensor", "instance": page.url.split("/")[2],
            "job": "home", "room": "a", "site": "berlin"}
    finally:
        page.close()


def test_gzip_pages_are_read(make_live):
    body = gzip.compress(b"# TYPE g gauge\ng 4\n")
    page = Page(lambda _h: (200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, body))
    try:
        live = make_live(scrape=[{"url": page.url, "job": "z"}])
        [out] = scrape_once(live.runtime)
        assert out["up"] and out["stored"] == 4  # g, up, scrape_duration_seconds, scrape_samples_scraped
    finally:
        page.close()


# ------------------------------------------------------------------ failures: up = 0 and a reason


def test_every_failed_scrape_stores_up_zero_with_a_reason(make_live):
    hang = threading.Event()
    big = b"# TYPE g gauge\n" + b"".join(b"g{i=\"%d\"} 1\n" % i for i in range(60_000))
    bomb = gzip.compress(b"#" * (3 * 1024 * 1024))
    answers = {
        "/500": (500, {}, b"oops"),
        "/garbage": (200, {"Content-Type": "text/plain"}, b"this is { not prometheus\n"),
        "/big": (200, {"Content-Type": "text/plain"}, big),
        "/bomb": (200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, bomb),
    }

    def respond(h: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        path = h[":path"]
        if path == "/hang":
            hang.wait(30)
        return answers.get(path, (200, {}, b""))

    page = Page(respond)
    closed_port = free_port()
    try:
        base = page.url.removesuffix("/metrics")
        # Only the hanging target has a short timeout: the others answer at once, but on a loaded machine
        # reading a megabyte (or a refused connection) can take over a second and would fail as a timeout.
        targets = [{"url": f"{base}{p}", "job": p.strip("/"), "timeout_s": 30} for p in answers]
        targets.append({"url": f"{base}/hang", "job": "hang", "timeout_s": 1.5})
        targets.append({"url": f"http://127.0.0.1:{closed_port}/metrics", "job": "closed", "timeout_s": 30})
        live = make_live(scrape=targets, scrape_max_body_mb=1, scrape_sample_limit=50_000)
        out = {t["job"]: o for t, o in zip(targets, scrape_once(live.runtime), strict=True)}
        hang.set()
        assert not any(o["up"] for o in out.values()), out
        assert "HTTP 500" in out["500"]["error"]
        assert "not valid" in out["garbage"]["error"]
        assert "scrape_max_body_mb" in out["big"]["error"] or "scrape_sample_limit" in out["big"]["error"]
        assert "exceeds" in out["bomb"]["error"]
        assert "1.5 s" in out["hang"]["error"]
        assert "ConnectError" in out["closed"]["error"]
        cw = live.boto3_client("cloudwatch")
        for o_job, url in (("500", f"{base}/500"), ("closed", f"http://127.0.0.1:{closed_port}/metrics")):
            dims = {"job": o_job, "instance": url.split("/")[2]}
            assert metric_data(cw, "up", dims, "Maximum") == [0.0]
        metrics = httpx.get(f"{live.url}/metrics").text
        assert 'rexwatch_rejected_total{kind="scrape",reason="timeout"} 1.0' in metrics
    finally:
        hang.set()
        page.close()


def test_sample_limit_fails_the_scrape(make_live):
    body = b"# TYPE g gauge\n" + b"".join(b"g{i=\"%d\"} 1\n" % i for i in range(200))
    page = Page(lambda _h: (200, {"Content-Type": "text/plain"}, body))
    try:
        live = make_live(scrape=[{"url": page.url, "job": "many"}], scrape_sample_limit=100)
        [out] = scrape_once(live.runtime)
        assert not out["up"] and "more than 100 samples" in out["error"]
    finally:
        page.close()


def test_scrapes_obey_the_outbound_address_policy(make_live):
    page = Page(lambda _h: (200, {"Content-Type": "text/plain"}, b"g 1\n"))
    try:
        live = make_live(scrape=[{"url": page.url, "job": "local"}], outbound_allow_loopback=False)
        [out] = scrape_once(live.runtime)
        assert not out["up"] and "outbound_allow_loopback" in out["error"]
        assert page.seen == []  # nothing was sent
    finally:
        page.close()


# ------------------------------------------------------------------ Debian's exporters, run by the worker


def _exporter(argv: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    assert shutil.which(argv[0]), f"Debian's {argv[0]} package is needed (.ci/run installs it)"
    port = free_port()
    argv = [a.replace("PORT", str(port)) for a in argv]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_until(lambda: httpx.get(url, timeout=5).status_code == 200, 60, what=f"{argv[0]} to answer")
    return proc, url


@pytest.mark.slow
def test_node_postgres_and_redis_exporters_scraped_by_the_server(make_live):
    import os

    procs = []
    try:
        node, node_url = _exporter(["prometheus-node-exporter", "--web.listen-address=127.0.0.1:PORT"])
        procs.append(node)
        pg, pg_url = _exporter(
            ["prometheus-postgres-exporter", "--web.listen-address=127.0.0.1:PORT"],
            env={**os.environ, "DATA_SOURCE_NAME": "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable"})
        procs.append(pg)
        rd, rd_url = _exporter(["prometheus-redis-exporter", "-redis.addr", "redis://127.0.0.1:6379",
                                "-web.listen-address", "127.0.0.1:PORT"])
        procs.append(rd)
        live = make_live(run_workers=True, scrape=[
            {"url": node_url, "job": "node", "interval_s": 1, "timeout_s": 1},
            {"url": pg_url, "job": "postgres", "interval_s": 1, "timeout_s": 1},
            {"url": rd_url, "job": "redis", "interval_s": 1, "timeout_s": 1},
        ])
        cw = live.boto3_client("cloudwatch")
        dims = {job: {"job": job, "instance": url.split("/")[2]}
                for job, url in (("node", node_url), ("postgres", pg_url), ("redis", rd_url))}
        for job in dims:
            wait_until(lambda job=job: metric_data(cw, "up", dims[job], "Maximum") == [1.0], 120,
                       what=f"up of {job}")
        # Counters: a baseline scrape, then work the exporters must count, then its increase.
        live.runtime.metrics.ticks.wait("scrape", 3, 60)
        r = redis.Redis(host="127.0.0.1", port=6379)
        for _ in range(200):
            r.ping()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
            for _ in range(50):
                conn.execute("SELECT 1")
        rd_dims = dims["redis"]
        pg_dims = {**dims["postgres"], "datid": _datid(), "datname": "test", "server": "127.0.0.1:5432"}
        wait_until(lambda: (metric_data(cw, "redis_commands_processed_total", rd_dims, "Sum") or [0])[0] >= 200,
                   120, what="Redis' commands counted as increments")
        wait_until(lambda: (metric_data(cw, "pg_stat_database_xact_commit", pg_dims, "Sum") or [0])[0] >= 50,
                   120, what="PostgreSQL's commits counted as increments")
        assert metric_data(cw, "pg_up", dims["postgres"], "Minimum") == [1.0]
        assert metric_data(cw, "redis_up", rd_dims, "Minimum") == [1.0]
        # node_exporter's CPU counters are per cpu and mode; their increase is CPU seconds spent.
        def cpu_seconds() -> float:
            per_mode = [stats(cw, "node_cpu_seconds_total", {**dims["node"], "cpu": "0", "mode": mode})
                        for mode in ("idle", "user", "system")]
            assert all(p and p["Maximum"] < 60 for p in per_mode), per_mode  # increments, not totals
            return sum(p["Sum"] for p in per_mode)

        wait_until(lambda: cpu_seconds() > 0, 60, what="CPU seconds of cpu 0 as increments")
        # A summary's quantiles carry a quantile dimension.
        q = stats(cw, "go_gc_duration_seconds", {**dims["node"], "quantile": "1"}, stats=("Maximum",))
        assert q and q["Maximum"] >= 0
        # Stop an exporter: up falls to 0.
        rd.terminate()
        rd.wait(30)
        wait_until(lambda: metric_data(cw, "up", rd_dims, "Minimum") == [0.0], 60, what="redis up = 0")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)


def _datid() -> str:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
        return str(conn.execute("SELECT oid FROM pg_database WHERE datname = 'test'").fetchone()[0])
