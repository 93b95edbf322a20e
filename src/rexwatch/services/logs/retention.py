"""Physical removal of what reads already hide: deleted groups/streams and expired events.

Reads exclude deleted and expired events the moment they are deleted or
expire; this pass (the ``retention`` worker, every few minutes) deletes them
from ClickHouse with lightweight DELETEs so disk space comes back within the hour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rexwatch.services.logs.model import now_ms
from rexwatch.stores.control.logs_repo import LogsRepo
from rexwatch.stores.telemetry.logs import LogsStore, retention_cutoff

log = logging.getLogger("rexwatch.logs.retention")


@dataclass
class PurgeReport:
    groups: list[int] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)
    expired_events: int = 0


def purge(catalog: LogsRepo, store: LogsStore) -> PurgeReport:
    report = PurgeReport()
    done = []
    for tid, group_id, stream_id in catalog.tombstones():
        if stream_id is None:
            store.purge_group(group_id)
            report.groups.append(group_id)
        else:
            store.purge_stream(group_id, stream_id)
            report.streams.append(stream_id)
        done.append(tid)
    catalog.clear_tombstones(done)
    now = now_ms()
    for g in catalog.list_groups():
        cutoff = retention_cutoff(g, now)
        if cutoff is None:
            continue
        n = store.count_expired(g.id, cutoff)
        if n:
            store.purge_expired(g.id, cutoff)
            report.expired_events += n
    if report.groups or report.streams or report.expired_events:
        log.info("retention removed %d deleted groups, %d deleted streams, %d expired events",
                 len(report.groups), len(report.streams), report.expired_events)
    return report
