"""``rexwatch logs export``: a group's events to Parquet (zstd), partitioned by day and stream.

The server streams Arrow IPC a day at a time; this writes each day with
``pyarrow.dataset`` under ``date=YYYY-MM-DD/log_stream=NAME/`` into a local
directory or an S3 prefix (any S3-compatible endpoint).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from rexwatch.cli.context import fail


class _StreamFile(io.RawIOBase):
    """A readable file over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class S3Target:
    """Upload files written under a local staging directory to ``s3://bucket/prefix`` (botocore)."""

    def __init__(self, url: str, endpoint_url: str | None, staging: str) -> None:
        import os

        import botocore.session

        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            fail("--destination s3:// needs a bucket name")
        self.bucket, self.prefix, self.staging = bucket, prefix.strip("/"), staging
        session = botocore.session.get_session()
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        self.client = session.create_client("s3", endpoint_url=endpoint_url, region_name=region)

    def upload_new(self) -> None:
        from pathlib import Path

        root = Path(self.staging)
        for f in sorted(root.rglob("*.parquet")):
            rel = f.relative_to(root).as_posix()
            key = f"{self.prefix}/{rel}" if self.prefix else rel
            with f.open("rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
            f.unlink()


def write_day(table: pa.Table, filesystem: Any, base: str, run_id: str) -> None:
    """Append one batch; ``run_id`` must be unique per call so files never overwrite each other."""
    fmt = ds.ParquetFileFormat()
    ds.write_dataset(
        table,
        base,
        filesystem=filesystem,
        format=fmt,
        file_options=fmt.make_write_options(compression="zstd"),
        partitioning=ds.partitioning(pa.schema([("date", pa.string()), ("log_stream", pa.string())]),
                                     flavor="hive"),
        basename_template=f"part-{run_id}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )


def run_export(api: Any, group: str, start: str, end: str, dest: str, endpoint_url: str | None,
               pattern: str | None, progress: bool) -> dict[str, Any]:
    import tempfile

    import httpx
    from pyarrow import fs

    staging = tempfile.TemporaryDirectory(prefix="rexwatch-export-") if dest.startswith("s3://") else None
    s3 = S3Target(dest, endpoint_url, staging.name) if staging else None
    base = staging.name if staging else dest
    filesystem = fs.LocalFileSystem()
    params = {"group": group, "start": start, "end": end}
    if pattern:
        params["pattern"] = pattern
    run_id = uuid.uuid4().hex[:8]
    written = batches = 0
    days: list[str] = []
    try:
        with api._http.stream("GET", "/api/v1/logs/export", params=params, timeout=None) as resp:
            if resp.status_code >= 400:
                resp.read()
                try:
                    err = resp.json()["error"]
                    fail(f"{err['message']} ({err['code']}, HTTP {resp.status_code})")
                except (ValueError, KeyError):
                    fail(f"HTTP {resp.status_code}: {resp.text[:200]}")
            total = int(resp.headers.get("x-total-events", "0"))
            reader = pa.ipc.open_stream(io.BufferedReader(_StreamFile(resp.iter_bytes()), 1 << 20))
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), disable=not progress,
                          transient=True) as bar:
                task = bar.add_task("export", total=total)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    table = pa.Table.from_batches([batch])
                    write_day(table, filesystem, base, f"{run_id}-{batches}")
                    if s3 is not None:
                        s3.upload_new()
                    batches += 1
                    written += table.num_rows
                    days += [d for d in table.column("date").unique().to_pylist() if d not in days]
                    bar.update(task, completed=written)
    except httpx.ConnectError:
        fail(f"cannot reach rexwatch at {api.endpoint}: is 'rexwatch server' running?")
    except OSError as e:
        fail(f"cannot write to {dest}: {e}")
    except Exception as e:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(e, BotoCoreError | ClientError):
            fail(f"cannot upload to {dest}: {e}")
        raise
    finally:
        if staging is not None:
            staging.cleanup()
    return {"logGroupName": group, "destination": dest, "events": written, "days": days}
