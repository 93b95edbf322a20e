"""The agent's disk buffer: payloads wait here, in order, until the server has taken them.

Each payload is one file named by a growing sequence number, written to a temporary name and renamed
so a crash never leaves half a payload. The buffer is bounded by ``max_bytes``: when full, the oldest
payloads are dropped and counted (in ``dropped``, kept across restarts), because fresh data is worth
more than old data to someone watching a system recover.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self._stats_path = self.dir / "stats.json"
        try:
            stats = json.loads(self._stats_path.read_text())
        except (OSError, ValueError):
            stats = {}
        self.dropped = int(stats.get("dropped", 0))
        for leftover in self.dir.glob("*.tmp"):
            leftover.unlink(missing_ok=True)
        names = self._names()
        self._next = (int(names[-1].name.split(".")[0]) + 1) if names else 1
        self._bytes = sum(p.stat().st_size for p in names)

    def _names(self) -> list[Path]:
        return sorted(self.dir.glob("*.json.z"), key=lambda p: int(p.name.split(".")[0]))

    def __len__(self) -> int:
        return len(self._names())

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, payload: dict[str, Any]) -> None:
        import zlib

        data = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 3)
        seq = self._next
        self._next += 1
        final = self.dir / f"{seq:012d}.json.z"
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self._bytes += len(data)
        self._enforce()

    def _enforce(self) -> None:
        names = self._names()
        dropped = 0
        while self._bytes > self.max_bytes and len(names) > 1:
            oldest = names.pop(0)
            size = oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            self._bytes -= size
            dropped += 1
        if dropped:
            self.dropped += dropped
            self._save_stats()

    def _save_stats(self) -> None:
        tmp = self._stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"dropped": self.dropped}))
        os.replace(tmp, self._stats_path)

    def peek(self) -> tuple[Path, dict[str, Any]] | None:
        """The oldest payload, left in place until ``done`` is called for it."""
        import zlib

        for p in self._names():
            try:
                return p, json.loads(zlib.decompress(p.read_bytes()))
            except (OSError, ValueError, zlib.error):
                # A damaged file (disk trouble) is dropped and counted rather than blocking the rest.
                self.done(p)
                self.dropped += 1
                self._save_stats()
        return None

    def done(self, path: Path) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        path.unlink(missing_ok=True)
        self._bytes -= size
