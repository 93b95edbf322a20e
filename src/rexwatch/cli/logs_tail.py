"""``rexwatch logs tail``: print a group's events, then follow new ones (as ``aws logs tail``).

The first part is a FilterLogEvents search over [start, end], paged to the
end; its snapshot seq is where ``--follow`` picks up, polling for events
committed after the last seq it printed, so nothing is missed or printed twice.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import click
import orjson

from rexwatch.cli.context import ApiClient

LEVEL_COLOURS = (("ERROR", "red"), ("FATAL", "red"), ("CRITICAL", "red"), ("WARN", "yellow"),
                 ("DEBUG", "blue"))


def _iso(ms: int, short: bool) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S") if short else t.isoformat(timespec="microseconds")


class Printer:
    def __init__(self, fmt: str, colour: bool, multi_group: bool) -> None:
        self.fmt = fmt
        self.colour = colour
        self.multi_group = multi_group

    def _style(self, text: str, **kw: Any) -> str:
        return click.style(text, **kw) if self.colour else text

    def __call__(self, e: dict[str, Any]) -> None:
        if self.fmt == "json":
            out = {"timestamp": e["timestamp"], "ingestionTime": e["ingestionTime"],
                   "logGroupName": e.get("logGroupName"), "logStreamName": e["logStreamName"],
                   "message": e["message"], "eventId": e["eventId"]}
            sys.stdout.write(orjson.dumps(out).decode() + "\n")
            return
        msg = e["message"].rstrip("\n")
        if self.colour:
            for word, colour in LEVEL_COLOURS:
                if word in msg:
                    msg = click.style(msg, fg=colour)
                    break
        ts = self._style(_iso(e["timestamp"], self.fmt == "short"), fg="green")
        if self.fmt == "short":
            line = f"{ts} {msg}"
        else:
            where = e["logStreamName"]
            if self.multi_group and e.get("logGroupName"):
                where = f"{e['logGroupName']} {where}"
            line = f"{ts} {self._style(where, fg='cyan')} {msg}"
        sys.stdout.write(line + "\n")


def run_tail(api: ApiClient, groups: list[str], *, start: str, end: str | None, pattern: str | None,
             streams: list[str] | None, stream_prefix: str | None, follow: bool, fmt: str, colour: bool,
             poll_s: float = 1.0, max_polls: int | None = None) -> None:
    show = Printer(fmt, colour, len(groups) > 1)
    body: dict[str, Any] = {"groups": groups, "start": start, "end": end, "pattern": pattern,
                            "streams": streams or None, "stream_prefix": stream_prefix}
    token = None
    cursor = 0
    while True:
        page = api.post("logs/filter", json={**body, "next_token": token})
        for e in page["events"]:
            show(e)
        cursor = page["snapshot_seq"] or cursor
        token = page.get("next_token")
        if not token:
            break
    sys.stdout.flush()
    if not follow:
        return
    params: dict[str, Any] = {"group": groups, "start": start, "pattern": pattern or None,
                              "stream": streams or None, "stream_prefix": stream_prefix}
    if end:
        params["end"] = end
    params = {k: v for k, v in params.items() if v is not None}
    polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        page = api.get("logs/tail", params={**params, "after_seq": cursor})
        for e in page["events"]:
            show(e)
        sys.stdout.flush()
        if page["last_seq"] is not None:
            cursor = page["last_seq"]
        if len(page["events"]) < 10_000:
            time.sleep(poll_s)
