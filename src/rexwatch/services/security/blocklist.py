"""The IP blocklist: entries with a TTL, a reason and the alarm that added them; an allowlist
that always wins; exports in the formats enforcers read; an event for every change.

Entries are addresses or CIDR networks. A log alarm's ``block-ip:<duration>``
action adds its key's address inside the alarm's own transaction
(``block_in``), so a block is never lost or doubled across a crash; the
``blocklist`` worker lifts expired entries. Every block and unblock is written
as a JSON event to the security log group (setting ``security_log_group``)
after its transaction commits.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection

from rexwatch.errors import Conflict, Invalid, NotFound, RexwatchError
from rexwatch.services.access import acting_as
from rexwatch.stores.control.blocklist_repo import AllowRow, BlocklistRepo, BlockRow

log = logging.getLogger("rexwatch.security")

EXPORT_FORMATS = ("plain", "nginx", "ipset", "json")
EVENT_STREAM = "blocklist"
MAX_REASON = 1024
MAX_TTL = 365 * 86_400
IPSET_NAME = "rexwatch-blocklist"


@dataclass
class BlockEntry:
    cidr: str
    reason: str
    alarm_name: str | None
    added_by: str
    created_at: float
    expires_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AllowEntry:
    cidr: str
    note: str
    created_at: float


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: Any, field: str = "ip") -> Network:
    """An address or CIDR network (host bits must be zero), normalised."""
    if not isinstance(text, str) or not text.strip() or len(text) > 64:
        raise Invalid(f"{field} must be an IP address or CIDR network", field=field)
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as e:
        raise Invalid(f"{field}: {text!r} is not an IP address or CIDR network ({e})", field=field)


def _entry(r: BlockRow) -> BlockEntry:
    return BlockEntry(r.cidr, r.reason, r.alarm_name, r.added_by, r.created_at, r.expires_at)


def _text(net: Network) -> str:
    """A single address prints without its /32 or /128."""
    return str(net.network_address) if net.num_addresses == 1 else str(net)


class BlocklistService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.repo = BlocklistRepo(runtime.control)
        self.clock: Callable[[], float] = time.time
        self.group = runtime.settings.security_log_group

    # ------------------------------------------------------------ allowlist

    def _allowed(self, conn: Connection) -> list[Network]:
        return [ipaddress.ip_network(a.cidr) for a in self.repo.allowed(conn)]

    @staticmethod
    def _covered(net: Network, allowed: Iterable[Network]) -> Network | None:
        for a in allowed:
            if a.version == net.version and (net.subnet_of(a) or net.supernet_of(a)):  # type: ignore[arg-type]
                return a
        return None

    def allow(self, cidr: str, note: str = "") -> AllowEntry:
        net = parse_network(cidr)
        if len(note) > MAX_REASON:
            raise Invalid(f"note is at most {MAX_REASON} characters", field="note")
        row = AllowRow(_text(net), note, self.clock())
        with self.repo.begin() as conn:
            self.repo.allow(conn, row)
        return AllowEntry(row.cidr, row.note, row.created_at)

    def disallow(self, cidr: str) -> None:
        net = parse_network(cidr)
        with self.repo.begin() as conn:
            if not self.repo.disallow(conn, _text(net)):
                raise NotFound(f"{_text(net)} is not on the allowlist", field="ip")

    def allowlist(self) -> list[AllowEntry]:
        with self.repo.connect() as conn:
            return [AllowEntry(a.cidr, a.note, a.created_at) for a in self.repo.allowed(conn)]

    # ------------------------------------------------------------ blocking

    def block_in(
        self,
        conn: Connection,
        ip: str,
        ttl: int | None,
        reason: str,
        *,
        alarm_name: str | None,
        added_by: str,
        now: float,
    ) -> dict[str, Any]:
        """Add or extend a block in the caller's transaction; returns its event (emit it after
        commit). An allowlisted address is not blocked: the event says so."""
        net = parse_network(ip)
        cidr = _text(net)
        covering = self._covered(net, self._allowed(conn))
        if covering is not None:
            return {"event": "block_skipped", "ip": cidr, "reason": reason, "alarm": alarm_name,
                    "allowlisted_by": _text(covering), "by": added_by}
        expires = None if ttl is None else now + ttl
        old = self.repo.get(conn, cidr)
        if old is not None and old.expires_at is None and old.expires_at != expires and ttl is not None:
            expires = None  # a permanent block is never shortened by an alarm
        self.repo.upsert(conn, BlockRow(cidr, reason[:MAX_REASON], alarm_name, added_by, now, expires))
        return {"event": "block", "ip": cidr, "reason": reason[:MAX_REASON], "alarm": alarm_name,
                "by": added_by, "expires_at": expires, "extended": old is not None}

    def block(self, ip: str, *, ttl: int | None, reason: str, added_by: str = "manual") -> BlockEntry:
        """A manual block. Refused (Conflict) for an allowlisted address."""
        if ttl is not None and (isinstance(ttl, bool) or not 1 <= int(ttl) <= MAX_TTL):
            raise Invalid(f"ttl must be 1 to {MAX_TTL} seconds (or omitted: until removed)", field="ttl")
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise Invalid(f"reason is at most {MAX_REASON} characters", field="reason")
        now = self.clock()
        with self.repo.begin() as conn:
            ev = self.block_in(conn, ip, ttl, reason or "manual block", alarm_name=None, added_by=added_by,
                               now=now)
            if ev["event"] == "block_skipped":
                raise Conflict(f"{ev['ip']} is on the allowlist ({ev['allowlisted_by']}); remove it there "
                               "first", field="ip")
            row = self.repo.get(conn, ev["ip"])
        self.emit([ev])
        assert row is not None
        return _entry(row)

    def unblock(self, ip: str, *, by: str = "manual") -> None:
        cidr = _text(parse_network(ip))
        with self.repo.begin() as conn:
            if not self.repo.remove(conn, cidr):
                raise NotFound(f"{cidr} is not on the blocklist", field="ip")
        self.emit([{"event": "unblock", "ip": cidr, "reason": "removed", "by": by}])

    def expire(self, now: float | None = None) -> int:
        """Lift every block whose TTL has passed (the worker's tick). Returns how many."""
        now = self.clock() if now is None else now
        with self.repo.begin() as conn:
            rows = self.repo.expired(conn, now)
            self.repo.remove_many(conn, [r.cidr for r in rows])
        self.emit([{"event": "unblock", "ip": r.cidr, "reason": "expired", "alarm": r.alarm_name,
                    "by": "expiry"} for r in rows])
        return len(rows)

    # ------------------------------------------------------------ reading

    def entries(self, now: float | None = None) -> list[BlockEntry]:
        """Active blocks, minus anything the allowlist covers (it always wins)."""
        now = self.clock() if now is None else now
        with self.repo.connect() as conn:
            allowed = self._allowed(conn)
            rows = self.repo.active(conn, now)
        return [_entry(r) for r in rows if self._covered(ipaddress.ip_network(r.cidr), allowed) is None]

    def check(self, ip: str) -> BlockEntry | None:
        """The entry blocking ``ip``, if any."""
        addr = ipaddress.ip_address(str(parse_network(ip, "ip").network_address))
        for e in self.entries():
            if addr in ipaddress.ip_network(e.cidr):
                return e
        return None

    def export(self, fmt: str) -> tuple[str, str]:
        """(media type, body) of the active blocklist in ``fmt``."""
        if fmt not in EXPORT_FORMATS:
            raise Invalid(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
        entries = self.entries()
        if fmt == "plain":
            return "text/plain", "".join(f"{e.cidr}\n" for e in entries)
        if fmt == "nginx":
            head = "# rexwatch blocklist: include in an http, server or location block\n"
            return "text/plain", head + "".join(f"deny {e.cidr};\n" for e in entries)
        if fmt == "ipset":
            lines = [f"create {IPSET_NAME} hash:net family inet -exist",
                     f"create {IPSET_NAME}-v6 hash:net family inet6 -exist"]
            for e in entries:
                v6 = ipaddress.ip_network(e.cidr).version == 6
                timeout = "" if e.expires_at is None else f" timeout {max(1, int(e.expires_at - self.clock()))}"
                lines.append(f"add {IPSET_NAME}{'-v6' if v6 else ''} {e.cidr}{timeout} -exist")
            return "text/plain", "\n".join(lines) + "\n"
        doc = {"version": 1, "generated_at": self.clock(), "entries": [e.as_dict() for e in entries]}
        return "application/json", json.dumps(doc)

    # ------------------------------------------------------------ events

    def emit(self, events: list[dict[str, Any]]) -> None:
        """Write events to the security log group (created on first use). A failure here is
        logged, never raised: the block itself is committed."""
        if not events:
            return
        from rexwatch.services.logs import LogsService
        from rexwatch.services.logs.model import LogEventBatch

        logs = self.runtime.service(LogsService)
        stamp = int(self.clock() * 1000)
        batch = LogEventBatch.of([(stamp, json.dumps(e, separators=(",", ":"))) for e in events])
        # Written as the server: the group belongs to no team, whoever's request caused the block.
        with acting_as(None):
            self._emit(logs, batch)
        self._audit(events)

    def _emit(self, logs, batch) -> None:
        try:
            try:
                logs.put_log_events(self.group, EVENT_STREAM, batch)
            except NotFound:
                try:
                    logs.create_log_group(self.group)
                except Conflict:
                    pass
                try:
                    logs.create_log_stream(self.group, EVENT_STREAM)
                except Conflict:
                    pass
                logs.put_log_events(self.group, EVENT_STREAM, batch)
        except RexwatchError as e:
            log.warning("security events not written to %s: %s", self.group, e.message)

    def _audit(self, events: list[dict[str, Any]]) -> None:
        """Blocks made by alarms and lifted by expiry go to the audit trail too. Changes by a
        person are recorded by the door they came through (REST, console), with who and from where."""
        from rexwatch.services.audit import AuditService

        audit = self.runtime.service(AuditService)
        for ev in events:
            by = str(ev.get("by") or "")
            if not (by.startswith("alarm:") or by == "expiry") or ev["event"] not in ("block", "unblock"):
                continue
            details = {k: ev[k] for k in ("reason", "alarm", "expires_at", "extended") if ev.get(k) is not None}
            audit.record(None, "CREATE" if ev["event"] == "block" else "DELETE", "blocklist", resource_id=ev["ip"],
                         door="alarm" if by.startswith("alarm:") else "worker", actor=by, actor_role="system",
                         details=details)
