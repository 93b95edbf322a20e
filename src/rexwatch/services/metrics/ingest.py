"""Group commit for PutMetricData: a write-ahead log, then batched inserts into ClickHouse.

An insert into ``metric_points`` costs tens of milliseconds whatever its size
(four materialized views fire on it), so one insert per call caps ingest at a
few hundred datapoints a second. Instead each validated call is appended to a
write-ahead log segment (Arrow IPC, length-prefixed, written and flushed to
the operating system before the call is acknowledged: it survives a crash of
the process) and to an in-memory batch. A flusher thread inserts the batch
every ``FLUSH_INTERVAL`` seconds or ``FLUSH_ROWS`` rows, fsyncs nothing it no
longer needs and deletes the segment once ClickHouse holds its rows. At start,
segments left by a crash are replayed with the same deduplication token as
their first insert, so a crash between the insert and the deletion does not
count a segment twice. Reads call ``flush()`` first,
so a read always sees every acknowledged write.

Several processes may share a data directory (the server and ``rexwatch
worker …``): each writes its own log directory under ``wal_dir`` and holds an
exclusive ``flock`` on it; a process replays only directories whose lock it
can take, that is, those of processes that are gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

log = logging.getLogger("rexwatch.metrics")

# An insert's CPU cost is mostly per insert, not per row (the views, the parts and their merges):
# 5,000-row inserts cost about 1.1 s of CPU per 100,000 rows, 25,000-row ones 0.3 s, 100,000-row
# ones 0.18 s (chdb, 2 cores). Reads flush first, so a longer interval delays no reader.
# The rollup and catalog views write a row per distinct series (and bucket) of an insert: a
# sender that repeats its series within the interval (Prometheus scraping every second) makes
# them collapse more the longer it is; 2 s halved an insert's CPU per point against 1 s there.
FLUSH_INTERVAL = 2.0
FLUSH_ROWS = 250_000
_HEADER = 8


def _frame(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    buf = sink.getvalue().to_pybytes()
    return len(buf).to_bytes(_HEADER, "big") + buf


def read_segment(path: Path) -> list[pa.Table]:
    """Tables of a segment; a torn last record (crash mid-write) is ignored."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + _HEADER <= len(data):
        n = int.from_bytes(data[pos : pos + _HEADER], "big")
        if pos + _HEADER + n > len(data):
            break
        with pa.ipc.open_stream(pa.py_buffer(data[pos + _HEADER : pos + _HEADER + n])) as reader:
            out.append(reader.read_all())
        pos += _HEADER + n
    return out


class IngestBuffer:
    def __init__(self, wal_dir: Path, insert: Callable[..., int]) -> None:
        self.base_dir = wal_dir
        self.wal_dir = wal_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.insert = insert
        self.lock = threading.Lock()  # guards the current segment and batch
        self.flush_lock = threading.Lock()  # one flush at a time, in order
        self.wake = threading.Event()
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.segment_no = 0
        self.file = None
        self.sealed: list[tuple[Path, list[pa.Table]]] = []
        self.closed = False
        self.thread: threading.Thread | None = None
        self._lock_file = None
        wal_dir.mkdir(parents=True, exist_ok=True)
        self.replay_orphans()

    def _segment_path(self, n: int) -> Path:
        return self.wal_dir / f"{n:012d}.arrows"

    def _own_dir(self) -> None:
        """Create and lock this process's log directory (on the first write)."""
        if self._lock_file is not None:
            return
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.wal_dir / "lock", "w")  # noqa: SIM115
        _flock(self._lock_file, blocking=True)

    def replay_orphans(self) -> int:
        """Insert the segments of log directories no live process holds; return the rows replayed."""
        rows = 0
        for d in sorted(p for p in self.base_dir.iterdir() if p.is_dir() and p != self.wal_dir):
            try:
                fh = open(d / "lock", "a")  # noqa: SIM115
            except OSError:
                continue
            try:
                if not _flock(fh, blocking=False):
                    continue  # a live process owns it
                for seg in sorted(d.glob("*.arrows")):
                    tables = read_segment(seg)
                    if tables:
                        self.insert(pa.concat_tables(tables), dedup_token=f"{d.name}/{seg.name}")
                        n = sum(t.num_rows for t in tables)
                        rows += n
                        log.info("replayed %d metric rows from %s/%s", n, d.name, seg.name)
                    seg.unlink()
                shutil.rmtree(d, ignore_errors=True)
            finally:
                fh.close()
        return rows

    def submit(self, table: pa.Table) -> None:
        """Durable (in the log) on return; visible to reads after the next flush."""
        if self.closed:
            # Shutting down (another service's final flush may still publish): write through.
            self.insert(table)
            return
        frame = _frame(table)
        with self.lock:
            if self.file is None:
                self._own_dir()
                self.file = open(self._segment_path(self.segment_no), "ab")  # noqa: SIM115
            self.file.write(frame)
            self.file.flush()
            self.pending.append(table)
            self.pending_rows += table.num_rows
            full = self.pending_rows >= FLUSH_ROWS
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="metrics-ingest", daemon=True)
                self.thread.start()
        if full:
            self.wake.set()

    def _seal(self) -> None:
        """Move the current batch and its segment to the sealed list (caller holds ``lock``)."""
        if self.file is None:
            return
        self.file.close()
        self.sealed.append((self._segment_path(self.segment_no), self.pending))
        self.file = None
        self.segment_no += 1
        self.pending, self.pending_rows = [], 0

    def flush(self) -> None:
        """Insert everything acknowledged so far; returns when ClickHouse holds it."""
        with self.flush_lock:
            with self.lock:
                self._seal()
                work, self.sealed = self.sealed, []
            for i, (path, tables) in enumerate(work):
                try:
                    if tables:
                        self.insert(pa.concat_tables(tables), dedup_token=f"{path.parent.name}/{path.name}")
                except Exception:
                    with self.lock:  # keep the rest for the next attempt, in order
                        self.sealed = work[i:] + self.sealed
                    raise
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    @property
    def has_pending(self) -> bool:
        # A flush in flight has taken its rows off both lists but ClickHouse may not hold
        # them yet: a reader must wait for it (``flush`` takes ``flush_lock``).
        return bool(self.pending) or bool(self.sealed) or self.flush_lock.locked()

    def _run(self) -> None:
        while not self.closed:
            self.wake.wait(FLUSH_INTERVAL)
            self.wake.clear()
            if self.closed:
                break
            if self.has_pending:
                try:
                    self.flush()
                except Exception:
                    log.exception("metrics flush failed; the write-ahead log keeps the rows")
                    time.sleep(1.0)

    def close(self) -> None:
        self.closed = True
        self.wake.set()
        if isinstance(self.thread, threading.Thread):
            self.thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("final metrics flush failed; rows stay in the write-ahead log")
            return
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
            shutil.rmtree(self.wal_dir, ignore_errors=True)


def _flock(fh, *, blocking: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: one process per data directory
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False
