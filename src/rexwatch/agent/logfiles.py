"""Tailing log files into log groups: rotation-safe, checkpointed, multi-line aware.

Delivery is at least once: a file's checkpoint moves only after the lines read from it are safely in
the agent's disk buffer (the runner calls ``commit`` then), so a crash between the two re-reads at most
the last batch of each file. Rotation by rename is followed by draining the old file (still open) to
its end before the new file is read from its start; rotation by copy-and-truncate is seen as a file
that shrank below the checkpoint and is read again from its start.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from rexwatch.agent.config import FileConfig
from rexwatch.agent.model import LogLine

# Most one file may contribute per poll, so one busy file cannot starve the others or the memory bound.
READ_CHUNK = 4 * 1024 * 1024
# A record longer than this is cut (AWS's event limit is 256 KB including overhead).
MAX_RECORD = 250 * 1024
# A held multi-line record is sent once its file has been quiet this long.
QUIET_FLUSH_S = 2.0

_PG_START = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
_PG_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: ([A-Z]{2,5}|[+-]\d{2}(?::?\d{2})?))?")
_PG_DURATION = re.compile(
    r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*|parse [^:]*|bind [^:]*):\s*(.*)", re.S)
_PG_LEVEL = re.compile(r"\b(LOG|ERROR|WARNING|FATAL|PANIC|DETAIL|HINT|STATEMENT|NOTICE|INFO|DEBUG\d?):\s")


@dataclass
class _Tracked:
    path: str
    dev: int
    ino: int
    offset: int
    fh: object | None = None
    last_growth: float = 0.0
    last_size: int = -1
    # The offset reached by lines handed out but not yet committed.
    pending_offset: int | None = None
    # The bytes just before ``sig_end``: if they change, the file was truncated and written again
    # past the old offset between two polls (copy-and-truncate under a busy writer).
    sig: bytes = b""
    sig_end: int = 0


def _parse_time(text: str) -> int | None:
    m = _PG_TIME.match(text)
    if not m:
        return None
    stamp, zone = m.group(1), m.group(2)
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    try:
        t = dt.datetime.strptime(stamp, fmt)
    except ValueError:
        return None
    if zone and zone[0] in "+-":
        digits = zone.replace(":", "")
        sign = 1 if digits[0] == "+" else -1
        hours, minutes = int(digits[1:3]), int(digits[3:5] or 0) if len(digits) > 3 else 0
        t = t.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes)))
    else:
        # PostgreSQL logs in log_timezone; the agent assumes UTC, the default of managed services.
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


def _json_time(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # Seconds or milliseconds since the epoch, told apart by size.
        return int(value * 1000) if value < 1e11 else int(value)
    if isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return int(t.timestamp() * 1000)
    return None


class FileSource:
    """One ``[[files]]`` entry: a path or glob, its group, stream naming and record format."""

    def __init__(self, cfg: FileConfig, checkpoints: dict[str, dict]) -> None:
        self.cfg = cfg
        self.host = socket.gethostname()
        pattern = cfg.start_pattern or (_PG_START if cfg.format == "postgres" else "")
        self.start = re.compile(pattern) if pattern else None
        self.checkpoints = checkpoints
        self.files: dict[str, _Tracked] = {}
        self.first_scan = True

    # ---- reading -----------------------------------------------------------------------------
    def poll(self, now: float) -> list[LogLine]:
        out: list[LogLine] = []
        paths = sorted(glob.glob(os.path.expanduser(self.cfg.path)))
        for path in paths:
            out.extend(self._poll_path(path, now))
        self.first_scan = False
        return out

    def _open(self, path: str) -> tuple[object, os.stat_result] | None:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - kept open across polls to follow renames
        except OSError:
            return None
        return fh, os.fstat(fh.fileno())

    def _poll_path(self, path: str, now: float) -> list[LogLine]:
        try:
            st = os.stat(path)
        except OSError:
            return []
        tr = self.files.get(path)
        out: list[LogLine] = []
        if tr is not None and (tr.dev, tr.ino) != (st.st_dev, st.st_ino):
            # Renamed away: finish the old file (its handle still reads it), then start the new one.
            out.extend(self._read(tr, now, final=True))
            self._close(tr)
            tr = None
            del self.files[path]
            self.checkpoints.pop(path, None)
            start_at = 0
        else:
            start_at = None
        if tr is None:
            opened = self._open(path)
            if opened is None:
                return out
            fh, fst = opened
            cp = self.checkpoints.get(path)
            if start_at is not None:
                offset = 0
            elif cp and (cp.get("dev"), cp.get("ino")) == (fst.st_dev, fst.st_ino):
                offset = int(cp.get("offset", 0))
            elif self.first_scan and self.cfg.from_ == "end" and not cp:
                offset = fst.st_size
            else:
                offset = 0
            tr = _Tracked(path, fst.st_dev, fst.st_ino, offset, fh, now)
            if cp and offset and cp.get("sig"):
                tr.sig, tr.sig_end = bytes.fromhex(cp["sig"]), offset
            self.files[path] = tr
        out.extend(self._read(tr, now, final=False))
        return out

    def _read(self, tr: _Tracked, now: float, *, final: bool) -> list[LogLine]:
        fh = tr.fh
        assert fh is not None
        size = os.fstat(fh.fileno()).st_size  # type: ignore[attr-defined]
        if size < tr.offset or (tr.sig and not self._same_sig(tr, size)):
            # Copy-and-truncate rotation: the file restarted.
            tr.offset = 0
            tr.pending_offset = None
            tr.sig, tr.sig_end = b"", 0
        base = tr.pending_offset if tr.pending_offset is not None else tr.offset
        fh.seek(base)  # type: ignore[attr-defined]
        data = fh.read(READ_CHUNK)  # type: ignore[attr-defined]
        if size != tr.last_size:
            tr.last_size = size
            tr.last_growth = now
        end = data.rfind(b"\n") + 1
        if final and end < len(data):
            end = len(data)
        whole = data[:end]
        if not whole:
            return []
        lines = whole.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        records: list[tuple[bytes, int]] = []  # (record, offset just past it)
        cur: list[bytes] = []
        pos = base
        cur_end = base
        for raw in lines:
            line_end = pos + len(raw) + 1
            text_start = raw[:200].decode("utf-8", "replace")
            if self.start is None or self.start.search(text_start) or not cur:
                if cur:
                    records.append((b"\n".join(cur), cur_end))
                cur = [raw]
            else:
                cur.append(raw)
            cur_end = min(line_end, base + end)
            pos = line_end
        if cur:
            # The last record may still grow (a stack trace being written): hold it unless the
            # file is quiet, finished, or the record is already too big.
            quiet = now - tr.last_growth >= QUIET_FLUSH_S
            if self.start is None or final or quiet or sum(map(len, cur)) > MAX_RECORD:
                records.append((b"\n".join(cur), cur_end))
        if not records:
            return []
        tr.pending_offset = records[-1][1]
        self._take_sig(tr, tr.pending_offset)
        name = os.path.basename(tr.path)
        stream = self.cfg.stream.replace("{host}", self.host).replace("{file}", name)
        return [self._line(stream, rec[:MAX_RECORD].decode("utf-8", "replace"), now) for rec, _ in records]

    SIG_BYTES = 32

    def _take_sig(self, tr: _Tracked, end: int) -> None:
        start = max(0, end - self.SIG_BYTES)
        tr.fh.seek(start)  # type: ignore[union-attr]
        tr.sig, tr.sig_end = tr.fh.read(end - start), end  # type: ignore[union-attr]

    def _same_sig(self, tr: _Tracked, size: int) -> bool:
        if size < tr.sig_end:
            return False
        tr.fh.seek(tr.sig_end - len(tr.sig))  # type: ignore[union-attr]
        return tr.fh.read(len(tr.sig)) == tr.sig  # type: ignore[union-attr]

    def _line(self, stream: str, text: str, now: float) -> LogLine:
        ts: int | None = None
        message = text.rstrip("\r")
        if self.cfg.format == "json":
            try:
                doc = json.loads(message)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and self.cfg.timestamp_field:
                ts = _json_time(doc.get(self.cfg.timestamp_field))
        elif self.cfg.format == "postgres":
            ts = _parse_time(message)
            m = _PG_DURATION.search(message)
            if m:
                level = _PG_LEVEL.search(message)
                message = json.dumps({
                    "duration_ms": float(m.group(1)),
                    "statement": m.group(2).strip(),
                    "level": level.group(1) if level else "LOG",
                    "message": message,
                })
        return LogLine(self.cfg.group, stream, ts if ts is not None else int(now * 1000), message)

    # ---- checkpoints -------------------------------------------------------------------------
    def commit(self) -> None:
        """The lines handed out are in the disk buffer: move each file's checkpoint past them."""
        for tr in self.files.values():
            if tr.pending_offset is not None:
                tr.offset = tr.pending_offset
                tr.pending_offset = None
            if tr.sig_end != tr.offset and tr.fh is not None and tr.offset:
                self._take_sig(tr, tr.offset)
            self.checkpoints[tr.path] = {"dev": tr.dev, "ino": tr.ino, "offset": tr.offset,
                                         "sig": tr.sig.hex() if tr.sig_end == tr.offset else ""}

    def rollback(self) -> None:
        for tr in self.files.values():
            tr.pending_offset = None
            if tr.fh is not None and tr.offset:
                self._take_sig(tr, tr.offset)
            else:
                tr.sig, tr.sig_end = b"", 0

    def _close(self, tr: _Tracked) -> None:
        if tr.fh is not None:
            tr.fh.close()  # type: ignore[attr-defined]
            tr.fh = None

    def close(self) -> None:
        for tr in self.files.values():
            self._close(tr)


class Tailer:
    """All file sources, with one checkpoint file for them."""

    def __init__(self, files: list[FileConfig], state_dir: Path) -> None:
        self.path = state_dir / "checkpoints.json"
        try:
            self.checkpoints: dict[str, dict] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.checkpoints = {}
        self.sources = [FileSource(f, self.checkpoints) for f in files]

    def poll(self, now: float | None = None) -> list[LogLine]:
        now = time.time() if now is None else now
        out: list[LogLine] = []
        for s in self.sources:
            out.extend(s.poll(now))
        return out

    def commit(self) -> None:
        for s in self.sources:
            s.commit()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.checkpoints))
        os.replace(tmp, self.path)

    def rollback(self) -> None:
        for s in self.sources:
            s.rollback()

    def close(self) -> None:
        for s in self.sources:
            s.close()
