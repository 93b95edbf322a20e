"""FilterLogEvents, GetLogEvents and tail: paging over (ts, seq) cursors.

FilterLogEvents pages are a snapshot: the first page records the highest
``seq`` visible then, and every later page reads only events up to it, after
the (ts, seq) of the last event returned. Events arriving meanwhile can neither
shift a page nor be returned twice; a new search sees them. ``tail --follow``
reads by ``seq`` instead, which increases in commit order, so it never misses
or repeats an event.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rexwatch.services.logs import tokens
from rexwatch.services.logs.model import FilteredEvents, LogEvent, StreamEvents
from rexwatch.services.logs.rules import EVENT_OVERHEAD
from rexwatch.stores.telemetry.logs import LogsStore

MAX_PAGE_BYTES = 1_048_576
_FIRST, _LAST = -1, 2**62  # cursor positions before the first and after the last event


def events(table: pa.Table, with_group: bool = False) -> list[LogEvent]:
    """LogEvents built column-wise (no per-row Arrow scalar access)."""
    cols = [table.column(c).to_pylist() for c in ("timestamp", "message", "ingestion_time", "seq", "log_stream")]
    groups = table.column("log_group").to_pylist() if with_group else [None] * table.num_rows
    return [LogEvent(t, m, i, str(q), s, g) for t, m, i, q, s, g in zip(*cols, groups, strict=True)]


# A pattern is searched in growing time windows: the first is this share of the range (at least
# WINDOW_MIN_MS), and each next one is WINDOW_GROWTH times wider, until the page is full.
# Measured over a million events a day (bench/RESULTS.md): a 24 h search with a 1% pattern takes
# half the time of one scan; a window under 15 minutes costs more queries than it saves.
WINDOW_SHARE = 24
WINDOW_MIN_MS = 900_000
WINDOW_GROWTH = 4


def _windowed(store: LogsStore, source: tuple[str, dict], psql: tuple[str, dict], limit: int,
              after: tuple[int, int] | None, snap: int, span: tuple[int, int]) -> pa.Table:
    """The first ``limit`` matching events read window by window from the start of ``span`` (or the
    cursor): a pattern that matches often fills the page from the first window, so the store
    evaluates it over a slice of the range instead of over a block of every part of it."""
    lo, hi = (after[0] if after else span[0]), span[1]
    width = max(WINDOW_MIN_MS, (hi - lo) // WINDOW_SHARE)
    if 2 * width >= hi - lo:  # a short range: one read
        return store.page(source, psql, limit=limit, after=after, max_seq=snap)
    got: list[pa.Table] = []
    rows = 0
    a = lo
    while rows < limit:
        b = a + width
        last = b > hi  # the final window runs to the end of the source's own range
        t = store.page(source, psql, limit=limit - rows, after=after, max_seq=snap,
                       ts_from=a if got else None, ts_before=None if last else b)
        got.append(t)
        rows += t.num_rows
        if last:
            break
        a, width = b, width * WINDOW_GROWTH
    return pa.concat_tables(got) if len(got) > 1 else got[0]


def filter_page(store: LogsStore, source: tuple[str, dict], psql: tuple[str, dict], limit: int,
                token: str | None, with_group: bool = False, snapshot: int | None = None,
                span: tuple[int, int] | None = None) -> FilteredEvents:
    """One page of matching events. A first page's snapshot is ``snapshot`` when the caller knows
    the highest committed seq (no read), else the highest seq visible in the source (a read).
    With a pattern and the range's ``span`` (ms), the store reads it in growing windows."""
    if token is not None:
        t = tokens.decode(token, "f", s="uint64", t="int64", q="uint64")
        snap, after = t["s"], (t["t"], t["q"])
    else:
        snap, after = (store.max_visible_seq(source) if snapshot is None else snapshot), None
    if psql[0] and span is not None:
        table = _windowed(store, source, psql, limit + 1, after, snap, span)
    else:
        table = store.page(source, psql, limit=limit + 1, after=after, max_seq=snap)
    more = table.num_rows > limit
    n = min(limit, table.num_rows)
    # AWS caps a response at 1 MB of events: cut the page there and continue with the token.
    sizes = np.cumsum(pc.binary_length(table.column("message")).to_numpy(zero_copy_only=False)[:n]
                      + EVENT_OVERHEAD)
    fits = int(np.searchsorted(sizes, MAX_PAGE_BYTES, side="right"))
    if 0 < fits < n:
        n, more = fits, True
    table = table.slice(0, n)
    nxt = None
    if more and n:
        last = table.slice(n - 1, 1).to_pylist()[0]
        nxt = tokens.encode("f", s=snap, t=last["timestamp"], q=last["seq"])
    return FilteredEvents(events(table, with_group), nxt, snapshot_seq=snap)


def get_page(store: LogsStore, source: tuple[str, dict], limit: int, token: str | None,
             start_from_head: bool) -> StreamEvents:
    """GetLogEvents: forward/backward tokens as AWS hands them out (the same token back at the end)."""
    if token is not None:
        t = tokens.decode(token, "g", d=("f", "b"), t="int64", q="uint64")
        direction, cur = t["d"], (t["t"], t["q"])
        if direction == "f":
            got = store.page(source, None, limit=limit, after=cur)
        else:
            got = _reverse(store.page(source, None, limit=limit, before=cur, descending=True))
    elif start_from_head:
        direction, cur = "f", (_FIRST, 0)
        got = store.page(source, None, limit=limit)
    else:
        direction, cur = "b", (_LAST, 0)
        got = _reverse(store.page(source, None, limit=limit, descending=True))
    out = events(got)
    if out:
        first, last = out[0], out[-1]
        fwd = tokens.encode("g", d="f", t=last.timestamp, q=int(last.event_id))
        bwd = tokens.encode("g", d="b", t=first.timestamp, q=int(first.event_id))
    else:
        # Nothing further in that direction: hand back a token at the same position.
        fwd = tokens.encode("g", d="f", t=cur[0], q=cur[1]) if direction == "f" else token or tokens.encode(
            "g", d="f", t=_FIRST, q=0)
        bwd = tokens.encode("g", d="b", t=cur[0], q=cur[1]) if direction == "b" else token or tokens.encode(
            "g", d="b", t=_LAST, q=0)
    return StreamEvents(out, fwd, bwd)


def _reverse(table: pa.Table) -> pa.Table:
    return table.take(pa.array(np.arange(table.num_rows - 1, -1, -1, dtype=np.int64))) if table.num_rows else table


def tail_page(store: LogsStore, source: tuple[str, dict], psql: tuple[str, dict], after_seq: int | None,
              limit: int) -> FilteredEvents:
    """Events committed after ``after_seq`` (all of them from the start when None), in seq order."""
    if after_seq is None:
        got = store.page(source, psql, limit=limit)
    else:
        got = store.page(source, psql, limit=limit, after_seq=after_seq, order_by_seq=True)
    seqs = got.column("seq").to_pylist() if got.num_rows else []
    last = max(seqs, default=after_seq)
    return FilteredEvents(events(got, True), last_seq=last)
