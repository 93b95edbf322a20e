"""``rexwatch logs query``: run a Logs Insights query, wait with a spinner, print the rows."""

from __future__ import annotations

import csv
import sys
import time
from typing import Any

from rexwatch.cli.context import ApiClient, fail

DONE = ("Complete", "Failed", "Cancelled", "Timeout")


def run_query(client: ApiClient, query: str, groups: list[str], start: str, end: str | None, limit: int | None,
              wait_s: float, spinner: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "groups": groups, "start": start, "limit": limit}
    if end:
        body["end"] = end
    res = client.post("insights/queries", json=body)
    qid = res["query_id"]
    deadline = time.monotonic() + wait_s
    status = None
    try:
        if spinner and res["status"] not in DONE:
            from rich.console import Console

            console = Console(stderr=True)
            with console.status("[cyan]Scheduled[/]") as status:
                res = _poll(client, qid, res, deadline, status)
        else:
            res = _poll(client, qid, res, deadline, None)
    except KeyboardInterrupt:
        client.delete(f"insights/queries/{qid}")
        fail("query stopped", 130)
    if res["status"] not in DONE:
        client.delete(f"insights/queries/{qid}")
        fail(f"the query did not finish within {wait_s:g} s and was stopped")
    return res


def _poll(client: ApiClient, qid: str, res: dict[str, Any], deadline: float, status) -> dict[str, Any]:
    started = time.monotonic()
    while res["status"] not in DONE and time.monotonic() < deadline:
        if status is not None:
            status.update(f"[cyan]{res['status']}[/] {time.monotonic() - started:.1f} s")
        res = client.get(f"insights/queries/{qid}", params={"wait_s": min(1.0, max(0.0, deadline - time.monotonic()))})
    return res


def print_result(res: dict[str, Any], fmt: str) -> None:
    columns, rows = res["columns"], res["rows"]
    if fmt == "json":
        from rexwatch.cli.output import print_json

        print_json(rows)
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    else:
        from rexwatch.cli.output import print_table

        print_table(rows, columns, fmt="table")
        stats = res["statistics"]
        sys.stderr.write(f"{len(rows)} rows; {int(stats['recordsMatched'])} of {int(stats['recordsScanned'])} "
                         f"records matched, {stats['bytesScanned'] / 1e6:.1f} MB scanned\n")
