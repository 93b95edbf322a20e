"""PostgreSQL under AWS/RDS (DBInstanceIdentifier), plus extras under Rexwatch/PostgreSQL.

Sources, so readers know what a figure means here:
- DatabaseConnections: client backends in pg_stat_activity (what RDS counts).
- ReadIOPS/WriteIOPS and ReadLatency/WriteLatency: pg_stat_io (PostgreSQL 16+) reads/writes and their
  read_time/write_time; the latencies need ``track_io_timing = on`` and are omitted when it is off.
  Before 16, pg_stat_database's blks_read and blk_read_time stand in for reads.
- Deadlocks: the rise of pg_stat_database.deadlocks over the interval, per second as RDS reports it.
- TransactionLogsDiskUsage: pg_ls_waldir() (needs the pg_monitor role; omitted without it).
- ReplicaLag: now() - pg_last_xact_replay_timestamp() on a server in recovery.
- FreeableMemory, FreeStorageSpace and CPUUtilization: only when PostgreSQL runs on this host
  (available memory, free space of the data directory's file system, CPU of the postgres processes).
"""

from __future__ import annotations

import logging
import os

import psutil
import psycopg

from rexwatch.agent.collectors.base import Deltas, as_dims
from rexwatch.agent.config import AgentConfig
from rexwatch.agent.model import Collected, Point

log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class PostgresCollector:
    name = "postgres"

    def __init__(self, cfg: AgentConfig) -> None:
        assert cfg.postgres is not None
        self.cfg = cfg.postgres
        self.deltas = Deltas()
        self.conn: psycopg.Connection | None = None
        self.procs: dict[int, psutil.Process] = {}
        self.dims = as_dims({"DBInstanceIdentifier": self.cfg.instance})

    def _connect(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.cfg.dsn, autocommit=True, connect_timeout=5,
                                        application_name="rexwatch-agent")
            self.conn.execute("SET statement_timeout = '5s'")
        return self.conn

    def _one(self, sql: str) -> tuple | None:
        try:
            return self._connect().execute(sql).fetchone()
        except psycopg.errors.InsufficientPrivilege:
            return None
        except psycopg.errors.UndefinedTable:
            return None
        except psycopg.errors.UndefinedFunction:
            return None

    def collect(self, now: float) -> Collected:
        try:
            return self._collect(now)
        except psycopg.OperationalError as e:
            # A down database is itself a signal: report zero connections so alarms can see it.
            log.warning("postgres collector: %s", str(e).strip().splitlines()[0] if str(e) else e)
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return Collected()

    def _rds(self, name: str, value: float, unit: str) -> Point:
        return Point("AWS/RDS", name, float(value), unit, self.dims)

    def _collect(self, now: float) -> Collected:
        conn = self._connect()
        pts: list[Point] = []
        (conns,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
        pts.append(self._rds("DatabaseConnections", conns, "Count"))
        deadlocks, blks_read, blks_hit, blk_read_time, xact_commit = conn.execute(
            "SELECT sum(deadlocks), sum(blks_read), sum(blks_hit), sum(blk_read_time),"
            " sum(xact_commit + xact_rollback) FROM pg_stat_database").fetchone()
        if (d := self.deltas.delta("deadlocks", float(deadlocks or 0), now)) is not None:
            pts.append(self._rds("Deadlocks", d[0] / d[1], "Count/Second"))
        io = None
        if conn.info.server_version >= 160000:
            # Asked only where it exists, so the agent never fills the server's log with errors.
            io = self._one("SELECT coalesce(sum(reads), 0), coalesce(sum(read_time), 0),"
                           " coalesce(sum(writes), 0), coalesce(sum(write_time), 0) FROM pg_stat_io")
        if io is None:
            io = (blks_read or 0, blk_read_time or 0, None, None)
        reads, read_ms, writes, write_ms = io
        timing = (self._one("SHOW track_io_timing") or ("off",))[0] == "on"
        for kind, ops, ms in (("Read", reads, read_ms), ("Write", writes, write_ms)):
            if ops is None:
                continue
            dops = self.deltas.delta(f"{kind}.ops", float(ops), now)
            dms = self.deltas.delta(f"{kind}.ms", float(ms or 0), now)
            if dops is None:
                continue
            pts.append(self._rds(f"{kind}IOPS", dops[0] / dops[1], "Count/Second"))
            if timing and dms is not None:
                latency = (dms[0] / 1000.0) / dops[0] if dops[0] > 0 else 0.0
                pts.append(self._rds(f"{kind}Latency", latency, "Seconds"))
        wal = self._one("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()")
        if wal is not None:
            pts.append(self._rds("TransactionLogsDiskUsage", wal[0], "Bytes"))
        lag = self._one("SELECT CASE WHEN pg_is_in_recovery() THEN"
                        " extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END")
        if lag is not None and lag[0] is not None:
            pts.append(self._rds("ReplicaLag", float(lag[0]), "Seconds"))
        if (d := self.deltas.delta("xact", float(xact_commit or 0), now)) is not None:
            pts.append(Point("Rexwatch/PostgreSQL", "TransactionsPerSecond", d[0] / d[1], "Count/Second",
                             self.dims))
        dr = self.deltas.delta("blks_read", float(blks_read or 0), now)
        dh = self.deltas.delta("blks_hit", float(blks_hit or 0), now)
        if dr is not None and dh is not None and dr[0] + dh[0] > 0:
            pts.append(Point("Rexwatch/PostgreSQL", "CacheHitRatio", 100.0 * dh[0] / (dr[0] + dh[0]),
                             "Percent", self.dims))
        (longest,) = conn.execute(
            "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0) FROM pg_stat_activity"
            " WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()").fetchone()
        pts.append(Point("Rexwatch/PostgreSQL", "LongestTransactionSeconds", float(longest), "Seconds",
                         self.dims))
        dead = self._one("SELECT coalesce(sum(n_dead_tup), 0), coalesce(sum(n_live_tup + n_dead_tup), 0)"
                         " FROM pg_stat_user_tables")
        if dead is not None and dead[1]:
            # Dead tuples as a share of all tuples: the cheap, always-available estimate of table bloat.
            pts.append(Point("Rexwatch/PostgreSQL", "DeadTuplePercent", 100.0 * dead[0] / dead[1],
                             "Percent", self.dims))
        pts.extend(self._local(conn))
        return Collected(points=pts)

    def _local(self, conn: psycopg.Connection) -> list[Point]:
        if conn.info.host not in _LOCAL_HOSTS and not conn.info.host.startswith("/"):
            return []
        pts = [self._rds("FreeableMemory", psutil.virtual_memory().available, "Bytes")]
        data_dir = self._one("SHOW data_directory")
        if data_dir is not None and os.path.isdir(data_dir[0]):
            pts.append(self._rds("FreeStorageSpace", psutil.disk_usage(data_dir[0]).free, "Bytes"))
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        try:
            postmaster = psutil.Process(pid).parent()
        except psutil.Error:
            return pts
        if postmaster is None:
            return pts
        try:
            family = [postmaster, *postmaster.children()]
        except psutil.Error:
            return pts
        total = 0.0
        seen: dict[int, psutil.Process] = {}
        for p in family:
            proc = self.procs.get(p.pid, p)
            try:
                total += proc.cpu_percent(None)
            except psutil.Error:
                continue
            seen[p.pid] = proc
        self.procs = seen
        pts.append(self._rds("CPUUtilization", total / (psutil.cpu_count() or 1), "Percent"))
        return pts

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
