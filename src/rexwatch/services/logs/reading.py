"""FilterLogEvents, GetLogEvents and tail: paging over (ts, seq) cursors.

FilterLogEvents pages are a snapshot: the first page records the highest
``seq`` visible then, and every later page reads only events up to it, after
the (ts, seq) of the last event returned. Events arriving meanwhile can neither
shift a page nor be returned twice; a new search sees them. ``tail --follow``
reads by ``seq`` instead, which increases in commit order, so it never misses
or repeats an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from rexwatch.services.logs import tokens
from rexwatch.services.logs.rules import EVENT_OVERHEAD
from rexwatch.services.logs.store import EventStore

MAX_PAGE_BYTES = 1_048_576


@dataclass
class EventPage:
    events: list[dict[str, Any]]
    next_token: str | None = None
    backward_token: str | None = None
    searched_streams: list[str] = field(default_factory=list)
    last_seq: int | None = None
    snapshot_seq: int | None = None  # FilterLogEvents: the highest seq this search (all its pages) covers


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def filtered_event(r: dict[str, Any], with_group: bool = False) -> dict[str, Any]:
    out = {
        "logStreamName": r["log_stream"],
        "timestamp": r["timestamp"],
        "message": r["message"],
        "ingestionTime": r["ingestion_time"],
        "eventId": str(r["seq"]),
    }
    if with_group:
        out["logGroupName"] = r["log_group"]
    return out


def filter_page(store: EventStore, source: tuple[str, dict], psql: tuple[str, dict], limit: int,
                token: str | None, with_group: bool = False) -> EventPage:
    if token:
        t = tokens.decode(token, "f")
        snap, after = int(t["s"]), (int(t["t"]), int(t["q"]))
    else:
        snap, after = store.max_visible_seq(source), None
    table = store.page(source, psql, limit=limit + 1, after=after, max_seq=snap)
    got = rows(table)
    more = len(got) > limit
    got = got[:limit]
    # AWS caps a response at 1 MB of events: cut the page there and continue with the token.
    size = 0
    for i, r in enumerate(got):
        size += len(r["message"]) + EVENT_OVERHEAD
        if size > MAX_PAGE_BYTES and i > 0:
            got, more = got[:i], True
            break
    nxt = None
    if more and got:
        nxt = tokens.encode("f", s=snap, t=got[-1]["timestamp"], q=got[-1]["seq"])
    return EventPage([filtered_event(r, with_group) for r in got], nxt, snapshot_seq=snap)


def get_page(store: EventStore, source: tuple[str, dict], limit: int, token: str | None,
             start_from_head: bool) -> EventPage:
    """GetLogEvents: forward/backward tokens as AWS hands them out (the same token back at the end)."""
    if token:
        t = tokens.decode(token, "g")
        direction, cur = t["d"], (int(t["t"]), int(t["q"]))
        if direction == "f":
            got = rows(store.page(source, None, limit=limit, after=cur))
        else:
            got = list(reversed(rows(store.page(source, None, limit=limit, before=cur, descending=True))))
    elif start_from_head:
        direction, cur = "f", (-1, 0)
        got = rows(store.page(source, None, limit=limit))
    else:
        direction, cur = "b", (2**62, 0)
        got = list(reversed(rows(store.page(source, None, limit=limit, descending=True))))
    events = [{"timestamp": r["timestamp"], "message": r["message"], "ingestionTime": r["ingestion_time"]}
              for r in got]
    if got:
        fwd = tokens.encode("g", d="f", t=got[-1]["timestamp"], q=got[-1]["seq"])
        bwd = tokens.encode("g", d="b", t=got[0]["timestamp"], q=got[0]["seq"])
    else:
        # Nothing further in that direction: hand back a token at the same position.
        fwd = tokens.encode("g", d="f", t=cur[0], q=cur[1]) if direction == "f" else token or tokens.encode(
            "g", d="f", t=-1, q=0)
        bwd = tokens.encode("g", d="b", t=cur[0], q=cur[1]) if direction == "b" else token or tokens.encode(
            "g", d="b", t=2**62, q=0)
    return EventPage(events, fwd, bwd)


def tail_page(store: EventStore, source: tuple[str, dict], psql: tuple[str, dict], after_seq: int | None,
              limit: int) -> EventPage:
    """Events committed after ``after_seq`` (all of them from the start when None), in seq order."""
    if after_seq is None:
        got = rows(store.page(source, psql, limit=limit))
    else:
        got = rows(store.page(source, psql, limit=limit, after_seq=after_seq, order_by_seq=True))
    last = max((r["seq"] for r in got), default=after_seq)
    return EventPage([filtered_event(r, True) for r in got], last_seq=last)
