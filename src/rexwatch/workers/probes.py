"""The prober: runs every configured monitor and target-group health check on time.

One asyncio scheduler (a heap of due times) starts each check when it is due,
through one shared ``httpx.AsyncClient`` and a concurrency limit
(``probe_concurrency``). Results go through the state machines on the event
loop (cheap), and every ``FLUSH_S`` one batch leaves for the stores in a single
I/O thread: one Arrow insert into ClickHouse, one control-store transaction
for changed states, one metrics call and any notifications.

The configuration is re-read every ``RELOAD_S``; the prober checks only what it
names, and a check never overlaps the previous one of the same thing (a
check still running when its next slot comes skips that slot and counts it).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx
import orjson

from rexwatch import netpolicy
from rexwatch.runtime import Runtime
from rexwatch.services.monitors import engine, sinks
from rexwatch.services.monitors import types as monitor_types
from rexwatch.services.monitors.service import MonitorService
from rexwatch.services.monitors.target_groups import check_url, dimension_value
from rexwatch.services.monitors.types import CheckResult, Probe, ProbeContext
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.probes")

RELOAD_S = 1.0  # how often the configuration is checked for changes
FULL_RELOAD_S = 300.0  # ... and re-read even when it looks unchanged
FLUSH_S = 0.5  # results, states and notifications
METRICS_FLUSH_S = 5.0
KEEPALIVE = 32  # idle connections kept by the shared HTTP client  # metric data (each PutMetricData has a fixed cost in the metrics store)


@dataclass
class Job:
    key: tuple[str, int]
    probe: Probe
    module: ModuleType
    version: bytes
    due: float
    meta: dict[str, Any] = field(default_factory=dict)
    running: bool = False
    gen: int = 0


def _phase(key: tuple[str, int]) -> float:
    """A stable fraction in [0, 1) spreading first checks over the interval."""
    return (zlib.crc32(f"{key[0]}:{key[1]}".encode()) % 10_000) / 10_000


def _epoch(v: datetime | None) -> float | None:
    return v.timestamp() if v is not None else None


class ProbeWorker(Worker):
    name = "probes"
    interval = 1.0

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        # Everything stored or read goes through the service (which also opens sealed settings).
        self.svc = runtime.service(MonitorService)
        self.concurrency = runtime.settings.probe_concurrency
        self.jobs: dict[tuple[str, int], Job] = {}
        self.heap: list[tuple[float, int, tuple[str, int], int]] = []
        self._seq = 0
        self.mon_states: dict[int, engine.MonitorState] = {}
        self.tgt_states: dict[int, engine.TargetState] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.group_metrics_due: dict[int, float] = {}
        self.windows: list[dict[str, Any]] = []
        # Output waiting for the next flush.
        self.rows: list[dict[str, Any]] = []
        self.mon_updates: dict[int, dict[str, Any]] = {}
        self.tgt_updates: dict[int, dict[str, Any]] = {}
        self.datums: list[sinks.Datum] = []
        self.alerts: list[sinks.Alert] = []
        # Figures for /metrics, tests and the benchmark.
        self.lateness: deque[float] = deque(maxlen=200_000)
        self.checks = 0
        self.skipped = 0
        self.flush_errors = 0
        self.io_seconds: dict[str, float] = {}
        self._metrics_due = time.time() + METRICS_FLUSH_S
        self._io = ThreadPoolExecutor(1, thread_name_prefix="probes-io")
        self._wake = asyncio.Event()
        self._started = False
        self._mark: tuple | None = None
        self._full_reload_at = 0.0
        self._inflight: set[asyncio.Task] = set()

    # Entry point -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        s = self.runtime.settings
        # Few idle connections: httpcore's pool scans every connection for every request, so a large
        # idle pool costs CPU on each check (and feeds a slowdown spiral under load).
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=KEEPALIVE)
        common = {
            "limits": limits,
            "timeout": None,
            "follow_redirects": False,
            "headers": {"User-Agent": "rexwatch-prober/1"},
        }
        # Every connection (each redirect hop too) resolves once, is checked against the outbound
        # address policy and goes to the checked address.
        policy = netpolicy.policy(s)
        async with (
            netpolicy.guarded_client(policy, **common) as client,
            netpolicy.guarded_client(policy, verify=False, **common) as insecure,
        ):
            self.ctx = ProbeContext(client, insecure, policy, last_push=self._last_push)
            self.sem = asyncio.Semaphore(self.concurrency)
            self._wake = asyncio.Event()
            await self._reload()
            self._started = True
            tasks = [
                asyncio.create_task(self._reloader(stop), name="probes-reload"),
                asyncio.create_task(self._flusher(stop), name="probes-flush"),
                asyncio.create_task(self._scheduler(stop), name="probes-schedule"),
            ]
            try:
                await stop.wait()
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # Checks in flight get a moment to finish, then are dropped.
                if self._inflight:
                    await asyncio.wait(list(self._inflight), timeout=2)
                    for t in list(self._inflight):
                        t.cancel()
                await self._flush(final=True)
        self._io.shutdown(wait=True)

    # Configuration ---------------------------------------------------------------------------------------

    def _load(self) -> tuple[list[dict], list[dict], list[dict], list[dict]] | None:
        # Re-read everything only when something changed (or every FULL_RELOAD_S regardless).
        mark = self.svc.probe_config_mark()
        if mark == self._mark and time.monotonic() < self._full_reload_at:
            return None
        self._mark, self._full_reload_at = mark, time.monotonic() + FULL_RELOAD_S
        c = self.svc.probe_config()
        return c["monitors"], c["groups"], c["targets"], c["windows"]

    async def _reload(self) -> None:
        loop = asyncio.get_running_loop()
        loaded = await loop.run_in_executor(self._io, self._load)
        if loaded is None:
            return
        monitors, groups, targets, windows = loaded
        self.windows = windows
        now = time.time()
        seen: set[tuple[str, int]] = set()
        for m in monitors:
            key = ("monitor", m["id"])
            config = dict(m["config"])
            if monitor_types.is_passive(m["type"]):  # silence is counted from creation until a first ping
                config["_created_at"] = _epoch(m["created_at"])
            probe = Probe("monitor", m["id"], m["type"], config, m["interval_s"], m["timeout_s"])
            version = orjson.dumps(
                [
                    m["type"],
                    m["config"],
                    m["interval_s"],
                    m["timeout_s"],
                    m["retries"],
                    m["topic_arns"],
                    m["name"],
                    _epoch(m["updated_at"]),
                ]
            )
            meta = {"name": m["name"], "retries": m["retries"], "topics": m["topic_arns"], "row": m}
            self._upsert(key, probe, version, meta, now, m["type"])
            if key not in seen and (m["id"] not in self.mon_states or self.jobs[key].meta.get("fresh")):
                self.mon_states[m["id"]] = engine.MonitorState(
                    m["status"] or "pending",
                    m["fail_count"] or 0,
                    m["history"] or "",
                    bool(m["flapping"]),
                    m["last_notified"],
                )
                self.jobs[key].meta["fresh"] = False
            seen.add(key)
        self.groups = {g["id"]: g for g in groups}
        http = monitor_types.get("http")
        for t in targets:
            g = self.groups.get(t["target_group_id"])
            if g is None or not g["hc_enabled"]:
                continue
            key = ("target", t["id"])
            url, host, port = check_url(g, t)
            if g["hc_protocol"] == "TCP":
                kind, config = "tcp", {"host": host, "port": port}
            else:
                kind = "http"
                config = http.validate(
                    {
                        "url": url,
                        "expected_status": g["matcher"],
                        "follow_redirects": False,
                        "verify_tls": False,
                    }
                )
            probe = Probe("target", t["id"], kind, config, g["interval_s"], g["timeout_s"])
            version = orjson.dumps(
                [
                    kind,
                    config,
                    g["interval_s"],
                    g["timeout_s"],
                    g["healthy_threshold"],
                    g["unhealthy_threshold"],
                    g["topic_arns"],
                ]
            )
            label = f"{host}:{port}"
            meta = {"group_id": g["id"], "target": label, "name": f"{g['name']} {label}"}
            self._upsert(key, probe, version, meta, now, kind)
            if t["id"] not in self.tgt_states:
                self.tgt_states[t["id"]] = engine.TargetState(
                    t["state"] or "initial",
                    t["reason"],
                    t["description"],
                    t["success_count"] or 0,
                    t["fail_count"] or 0,
                    t["last_notified"],
                )
            seen.add(key)
            self.group_metrics_due.setdefault(g["id"], now + g["interval_s"])
        for key in [k for k in self.jobs if k not in seen]:
            del self.jobs[key]
            if key[0] == "monitor":
                self.mon_states.pop(key[1], None)
            else:
                self.tgt_states.pop(key[1], None)
        for gid in [g for g in self.group_metrics_due if g not in self.groups]:
            del self.group_metrics_due[gid]
        self._wake.set()

    def _upsert(self, key, probe: Probe, version: bytes, meta: dict, now: float, kind: str) -> None:
        job = self.jobs.get(key)
        if job is not None and job.version == version:
            job.meta.update(meta)
            return
        if job is None:
            # At start-up spread checks over their interval; a monitor added later is checked at once.
            first = now + (_phase(key) * probe.interval_s if not self._started else 0.0)
            job = Job(key, probe, monitor_types.get(kind), version, first, {**meta, "fresh": True})
            self.jobs[key] = job
        else:
            job.probe, job.version, job.module = probe, version, monitor_types.get(kind)
            job.meta.update(meta)
            job.meta["fresh"] = True
            job.due = now
        job.gen += 1
        self._push(job)

    def _push(self, job: Job) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (job.due, self._seq, job.key, job.gen))

    async def _reloader(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(RELOAD_S)
            try:
                with self.runtime.metrics.ticks.round("probes_reload"):
                    await self._reload()
            except Exception:
                log.exception("probes: reloading the configuration failed")

    # Scheduling --------------------------------------------------------------------------------------------

    async def _scheduler(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.time()
            while self.heap and self.heap[0][0] <= now:
                due, _seq, key, gen = heapq.heappop(self.heap)
                job = self.jobs.get(key)
                if job is None or job.gen != gen:
                    continue  # removed or rescheduled since
                if job.running:
                    self.skipped += 1
                    self.runtime.metrics.worker_ticks.labels(self.name, "missed").inc()
                else:
                    job.running = True
                    task = asyncio.create_task(self._run_check(job, due))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                nxt = due + job.probe.interval_s
                if nxt <= now:  # fell behind more than one interval: skip the missed slots
                    missed = int((now - nxt) // job.probe.interval_s) + 1
                    self.skipped += missed
                    nxt += missed * job.probe.interval_s
                job.due = nxt
                self._push(job)
            delay = (self.heap[0][0] - time.time()) if self.heap else 0.5
            if delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=min(delay, 0.5))
                except TimeoutError:
                    pass

    async def _run_check(self, job: Job, due: float) -> None:
        try:
            async with self.sem:
                started = time.time()
                late = max(0.0, started - due)
                try:
                    result = await job.module.check(self.ctx, job.probe)
                except Exception as e:  # a bug in a type module must not stop the prober
                    log.exception("probes: %s check %s crashed", job.probe.type, job.key)
                    result = CheckResult(False, 0.0, reason="error", error=f"check crashed: {e}")
            self.lateness.append(late)
            self.checks += 1
            self.runtime.metrics.worker_ticks.labels(
                self.name, "check_ok" if result.ok else "check_failed"
            ).inc()
            if self.jobs.get(job.key) is job:
                self._on_result(job, result, started, late)
        finally:
            job.running = False

    async def _last_push(self, monitor_id: int) -> float | None:
        return _epoch(await asyncio.to_thread(self.svc.last_ping, monitor_id))

    # State machines (event loop, no I/O) ----------------------------------------------------------------

    def _in_maintenance(self, monitor_id: int, now: float) -> bool:
        at = datetime.fromtimestamp(now, UTC)
        return any(
            w["starts_at"] <= at < w["ends_at"] and (not w["monitor_ids"] or monitor_id in w["monitor_ids"])
            for w in self.windows
        )

    def _on_result(self, job: Job, r: CheckResult, ts: float, late: float) -> None:
        if job.key[0] == "monitor":
            self._monitor_result(job, r, ts, late)
        else:
            self._target_result(job, r, ts, late)

    def _monitor_result(self, job: Job, r: CheckResult, ts: float, late: float) -> None:
        mid = job.probe.id
        old = self.mon_states.get(mid) or engine.MonitorState()
        new = engine.monitor_step(old, r.ok, job.meta["retries"])
        maint = self._in_maintenance(mid, ts)
        event, notified = engine.notify_decision(
            new.status, old.last_notified, flapping=new.flapping, in_maintenance=maint
        )
        new.last_notified = notified
        self.mon_states[mid] = new
        at = datetime.fromtimestamp(ts, UTC)
        upd = {
            "status": new.status,
            "fail_count": new.fail_count,
            "history": new.history,
            "flapping": new.flapping,
            "last_notified": new.last_notified,
            "last_check_at": at,
            "last_latency_ms": r.latency_ms,
            "last_error": r.error or None,
        }
        if new.status != old.status:
            upd["last_change_at"] = at
        prev = self.mon_updates.get(mid)
        if prev and "last_change_at" in prev and "last_change_at" not in upd:
            upd["last_change_at"] = prev["last_change_at"]
        self.mon_updates[mid] = upd
        status = engine.MAINTENANCE if maint else engine.STATUS_CODE[new.status]
        self.rows.append(
            {
                "kind": "monitor",
                "check_id": mid,
                "ts": ts,
                "status": status,
                "ok": r.ok,
                "latency_ms": r.latency_ms,
                "status_code": r.status_code,
                "reason": r.reason,
                "error": r.error,
                "excerpt": r.excerpt,
                "lateness_ms": late * 1000,
            }
        )
        dims = {"MonitorName": job.meta["name"]}
        self.datums.append(
            sinks.Datum(sinks.MONITOR_NAMESPACE, "Up", 1.0 if r.ok else 0.0, "Count", ts, dims)
        )
        if not monitor_types.is_passive(job.probe.type):  # a passive check has no response time
            self.datums.append(
                sinks.Datum(sinks.MONITOR_NAMESPACE, "ResponseTime", r.latency_ms, "Milliseconds", ts, dims)
            )
        if event:
            self.alerts.append(
                self._alert(
                    "monitor",
                    job.meta["name"],
                    event,
                    r,
                    job.meta["topics"],
                    ts,
                    {
                        "monitor_id": mid,
                        "type": job.probe.type,
                        "target": job.module.describe(job.probe.config),
                    },
                )
            )

    def _target_result(self, job: Job, r: CheckResult, ts: float, late: float) -> None:
        tid = job.probe.id
        g = self.groups.get(job.meta["group_id"])
        if g is None:
            return
        old = self.tgt_states.get(tid) or engine.TargetState()
        if r.ok:
            description = ""
        elif r.reason == "status":
            description = f"Health checks failed with these codes: [{r.status_code}]"
        elif r.reason == "timeout":
            description = "Request timed out"
        else:
            description = f"Health checks failed: {r.error}" if r.error else "Health checks failed"
        new = engine.target_step(
            old,
            r.ok,
            healthy_threshold=g["healthy_threshold"],
            unhealthy_threshold=g["unhealthy_threshold"],
            fail_reason=r.reason,
            description=description,
        )
        as_mon = engine.TARGET_AS_MONITOR[new.state]
        event, notified = engine.notify_decision(
            as_mon, old.last_notified, flapping=False, in_maintenance=False
        )
        new.last_notified = notified
        self.tgt_states[tid] = new
        self.tgt_updates[tid] = {
            "state": new.state,
            "reason": new.reason,
            "description": new.description,
            "success_count": new.success_count,
            "fail_count": new.fail_count,
            "last_notified": new.last_notified,
            "last_check_at": datetime.fromtimestamp(ts, UTC),
            "last_latency_ms": r.latency_ms,
        }
        self.rows.append(
            {
                "kind": "target",
                "check_id": g["id"],
                "target": job.meta["target"],
                "ts": ts,
                "status": engine.TARGET_STATUS[new.state],
                "ok": r.ok,
                "latency_ms": r.latency_ms,
                "status_code": r.status_code,
                "reason": new.reason or r.reason,
                "error": r.error,
                "excerpt": r.excerpt,
                "lateness_ms": late * 1000,
            }
        )
        if r.ok or r.latency_ms:
            for dim in (dimension_value(g["arn"]), g["arn"]):
                self.datums.append(
                    sinks.Datum(
                        sinks.ELB_NAMESPACE,
                        "TargetResponseTime",
                        r.latency_ms / 1000,
                        "Seconds",
                        ts,
                        {"TargetGroup": dim, "Target": job.meta["target"]},
                    )
                )
        if event:
            self.alerts.append(
                self._alert(
                    "target",
                    f"target {job.meta['target']} in {g['name']}",
                    event,
                    r,
                    g["topic_arns"],
                    ts,
                    {
                        "target_group": g["arn"],
                        "target": job.meta["target"],
                        "state": new.state,
                        "reason": new.reason,
                        "description": new.description,
                    },
                )
            )

    @staticmethod
    def _alert(
        kind: str, name: str, event: str, r: CheckResult, topics: list[str], ts: float, extra: dict[str, Any]
    ) -> sinks.Alert:
        word = "DOWN" if event == "down" else "UP"
        cause = r.error or (f"HTTP {r.status_code}" if r.status_code else "")
        subject = f"[{word}] {name}" + (f": {cause}" if event == "down" and cause else "")
        message = {
            "kind": kind,
            "name": name,
            "event": event,
            "time": datetime.fromtimestamp(ts, UTC).isoformat(),
            "reason": r.reason,
            "error": r.error,
            "status_code": r.status_code,
            "latency_ms": round(r.latency_ms, 1),
            "excerpt": r.excerpt,
            **extra,
        }
        return sinks.Alert(event, subject[:250], message, list(topics))

    def _group_metrics(self, now: float) -> None:
        for gid, due in list(self.group_metrics_due.items()):
            if now < due:
                continue
            g = self.groups[gid]
            states = [
                self.tgt_states[j.probe.id].state
                for j in self.jobs.values()
                if j.key[0] == "target" and j.meta.get("group_id") == gid and j.probe.id in self.tgt_states
            ]
            healthy = sum(1 for s in states if s == "healthy")
            unhealthy = sum(1 for s in states if s == "unhealthy")
            for dim in (dimension_value(g["arn"]), g["arn"]):
                d = {"TargetGroup": dim}
                self.datums.append(
                    sinks.Datum(sinks.ELB_NAMESPACE, "HealthyHostCount", healthy, "Count", now, d)
                )
                self.datums.append(
                    sinks.Datum(sinks.ELB_NAMESPACE, "UnhealthyHostCount", unhealthy, "Count", now, d)
                )
            nxt = due + g["interval_s"]
            self.group_metrics_due[gid] = nxt if nxt > now else now + g["interval_s"]

    # Output ---------------------------------------------------------------------------------------------

    async def _flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(FLUSH_S)
            try:
                with self.runtime.metrics.ticks.round(self.name):
                    await self._flush()
            except Exception:
                self.flush_errors += 1
                self.runtime.metrics.worker_ticks.labels(self.name, "error").inc()
                log.exception("probes: storing results failed")

    async def _flush(self, final: bool = False) -> None:
        now = time.time()
        self._group_metrics(now)
        datums: list[sinks.Datum] = []
        if final or now >= self._metrics_due or len(self.datums) >= 5000:
            datums, self.datums = self.datums, []
            self._metrics_due = now + METRICS_FLUSH_S
        if not (self.rows or self.mon_updates or self.tgt_updates or datums or self.alerts):
            return
        batch = (self.rows, self.mon_updates, self.tgt_updates, datums, self.alerts)
        self.rows, self.mon_updates, self.tgt_updates, self.alerts = [], {}, {}, []
        await asyncio.get_running_loop().run_in_executor(self._io, self._write, *batch)

    def _write(self, rows, mon_updates, tgt_updates, datums, alerts) -> None:
        t0 = time.perf_counter()
        self.svc.record_results(rows)
        self.runtime.metrics.ingested.labels("probe_results").inc(len(rows))
        t1 = time.perf_counter()

        def notify(conn) -> None:
            sinks.send_notifications(self.runtime, conn, alerts)

        # States and their notifications commit together (the outbox): both are kept or neither.
        self.svc.write_states(
            ({"monitor_id": k, **v} for k, v in mon_updates.items()),
            ({"target_row_id": k, **v} for k, v in tgt_updates.items()),
            notify if alerts else None,
        )
        if alerts:
            sinks.wake_notifiers(self.runtime)
        t2 = time.perf_counter()
        try:
            sinks.record_metrics(self.runtime, datums)
        except Exception:
            log.exception("probes: writing %d metric data points failed", len(datums))
        t3 = time.perf_counter()
        for name, spent in (("results", t1 - t0), ("states", t2 - t1), ("metrics", t3 - t2)):
            self.io_seconds[name] = self.io_seconds.get(name, 0.0) + spent

    # Figures -----------------------------------------------------------------------------------------

    def stats(self) -> dict[str, float]:
        values = sorted(self.lateness)
        if not values:
            return {"checks": self.checks, "skipped": self.skipped, "p50_s": 0.0, "p99_s": 0.0, "max_s": 0.0}
        return {
            "checks": self.checks,
            "skipped": self.skipped,
            "p50_s": values[len(values) // 2],
            "p99_s": values[min(len(values) - 1, int(len(values) * 0.99))],
            "max_s": values[-1],
        }
