"""One server per data directory: an exclusive lock file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rexwatch.errors import ConfigError


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "rexwatch.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ConfigError(f"data dir {self.path.parent} is not usable: {e.strerror}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"another rexwatch server (pid {holder}) is already using data dir {self.path.parent}; "
                "stop it or choose another --data-dir"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
