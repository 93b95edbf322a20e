"""Uptime monitors, maintenance windows and status pages: validation, CRUD, uptime and incidents."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rexwatch import netpolicy
from rexwatch.errors import Invalid, NotFound
from rexwatch.runtime import Runtime
from rexwatch.services.monitors import types as monitor_types
from rexwatch.stores.control.monitors_repo import MonitorRepo
from rexwatch.stores.telemetry.probes import UPTIME_WINDOWS, ProbeResults

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
# What a public status page says about an incident, by the check's reason.
PUBLIC_CAUSES = {
    "timeout": "timed out",
    "connect": "connection failed",
    "refused": "connection failed",
    "status": "unexpected response",
    "keyword": "unexpected response",
    "json": "unexpected response",
    "slow": "slow response",
    "tls": "TLS certificate problem",
    "dns": "DNS problem",
    "silent": "no heartbeat",
    "redirect": "unexpected response",
}


def _seconds(value: Any, field: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        from rexwatch.timeparse import parse_duration

        try:
            return parse_duration(value.strip()).total_seconds()
        except Exception:
            try:
                return float(value)
            except ValueError:
                raise Invalid(f"{field} must be seconds or a duration like 30s, 5m", field=field)
    raise Invalid(f"{field} must be seconds or a duration like 30s, 5m", field=field)


class MonitorSpec(BaseModel):
    """A monitor as users declare it. Type settings may sit under ``config`` or at the top level."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)
    type: str = "http"
    interval: float | str = 60
    timeout: float | str | None = None
    retries: int = Field(0, ge=0, le=20)
    paused: bool = False
    topics: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v


def _spec_from(data: dict[str, Any]) -> MonitorSpec:
    if not isinstance(data, dict):
        raise Invalid("a monitor must be a mapping of settings")
    try:
        return MonitorSpec(**data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise Invalid(f"{loc}: {err['msg']}", field=loc)


def normalise(data: dict[str, Any], policy: netpolicy.AddressPolicy | None = None) -> dict[str, Any]:
    """Validate a monitor declaration into the stored columns (raises Invalid naming the field).

    Every destination the type will connect to is checked against the outbound address ``policy``.
    """
    spec = _spec_from(data)
    kind = spec.type.strip().lower()
    module = monitor_types.get(kind)
    config = {**spec.config, **(spec.model_extra or {})}
    config = module.validate(config)
    pol = policy or netpolicy.AddressPolicy()
    for field, host, port in monitor_types.destinations(module, config):
        netpolicy.check_destination(pol, host, port, field)
    interval = _seconds(spec.interval, "interval")
    if not 0.1 <= interval <= 86_400:
        raise Invalid("interval must be between 0.1 s and 1 day", field="interval")
    timeout = _seconds(spec.timeout, "timeout") if spec.timeout is not None else min(10.0, interval * 0.8)
    if not 0 < timeout <= interval:
        raise Invalid("timeout must be positive and not longer than the interval", field="timeout")
    topics = [t.strip() for t in spec.topics if t.strip()]
    return {
        "name": spec.name,
        "type": kind,
        "config": config,
        "interval_s": interval,
        "timeout_s": timeout,
        "retries": spec.retries,
        "paused": spec.paused,
        "topic_arns": topics,
    }


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


class MonitorService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.repo = MonitorRepo(runtime.control)
        self.results = ProbeResults(runtime.telemetry)
        self.policy = netpolicy.policy(runtime.settings)

    # Views ---------------------------------------------------------------------------------------------

    def _public(self, row: dict[str, Any], now: float | None = None,
                windows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        module = monitor_types.get(row["type"])
        out = {
            "id": row["id"],
            "name": row["name"],
            "type": row["type"],
            "target": module.describe(row["config"]),
            "interval": row["interval_s"],
            "timeout": row["timeout_s"],
            "retries": row["retries"],
            "paused": row["paused"],
            "topics": row["topic_arns"],
            "config": monitor_types.redact_config(row["type"], row["config"]),
            "status": self.effective_status(row, now, windows),
            "flapping": bool(row.get("flapping")),
            "last_check_at": _iso(row.get("last_check_at")),
            "last_change_at": _iso(row.get("last_change_at")),
            "last_latency_ms": row.get("last_latency_ms"),
            "last_error": row.get("last_error"),
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
        }
        if monitor_types.is_passive(row["type"]):
            out["push_token"] = row["push_token"]
            out["push_url"] = f"{self.runtime.settings.base_url}/push/{row['push_token']}"
            out["last_push_at"] = _iso(row.get("last_push_at"))
        return out

    def effective_status(self, row: dict[str, Any], now: float | None = None,
                         windows: list[dict[str, Any]] | None = None) -> str:
        if row["paused"]:
            return "paused"
        if self.in_maintenance(row["id"], now or time.time(), windows):
            return "maintenance"
        return row.get("status") or "pending"

    def _find(self, ident: str | int) -> dict[str, Any]:
        row = self.repo.find_monitor(ident)
        if row is None:
            raise NotFound(f"monitor {ident!r} does not exist")
        return self._open(row)

    # Secret settings (headers) are sealed in the store and plain only in memory.

    def _open(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "config": monitor_types.unseal_config(row["type"], row["config"], self.runtime.box.unseal)}

    def _sealed(self, values: dict[str, Any]) -> dict[str, Any]:
        if "config" not in values:
            return values
        return {**values, "config": monitor_types.seal_config(values["type"], values["config"],
                                                              self.runtime.box.seal)}

    @staticmethod
    def _token(kind: str, current: str | None = None) -> str | None:
        """The secret ping URL token of a passive monitor (kept across updates); None for active ones."""
        return (current or secrets.token_urlsafe(24)) if monitor_types.is_passive(kind) else None

    # CRUD -------------------------------------------------------------------------------------------------

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        values = normalise(data, self.policy)
        values["push_token"] = self._token(values["type"])
        mid = self.repo.insert_monitor(self._sealed(values))
        return self._public(self._find(mid))

    def list(self) -> list[dict[str, Any]]:
        now = time.time()
        windows = self.active_windows(now)
        return [self._public(r, now, windows) for r in self.repo.list_monitors()]

    def uptimes(self, ids: list[int]) -> dict[int, dict[str, float | None]]:
        """Uptime % per monitor over each window (24h, 7d, 30d, 90d; None: no checks), in one query."""
        got = self.results.uptime("monitor", [str(i) for i in ids], time.time())
        return {i: got.get(str(i), dict.fromkeys(UPTIME_WINDOWS)) for i in ids}

    def sparklines(self, ids: list[int], hours: int = 24, points: int = 48) -> dict[int, list[float | None]]:
        """Each monitor's response time over the last ``hours`` in ``points`` slices (the mean of its
        successful checks in each; None where none succeeded), in one query: the list's sparklines."""
        now = time.time()
        got = self.results.sparklines("monitor", [str(i) for i in ids], now - hours * 3600, now, points)
        return {i: got.get(str(i), [None] * points) for i in ids}

    def get(self, ident: str | int) -> dict[str, Any]:
        row = self._find(ident)
        out = self._public(row)
        out["uptime"] = self.results.uptime("monitor", [str(row["id"])], time.time())[str(row["id"])]
        return out

    def update(self, ident: str | int, patch: dict[str, Any]) -> dict[str, Any]:
        row = self._find(ident)
        current = {
            "name": row["name"],
            "type": row["type"],
            "interval": row["interval_s"],
            "timeout": row["timeout_s"],
            "retries": row["retries"],
            "paused": row["paused"],
            "topics": row["topic_arns"],
            "config": dict(row["config"]),
        }
        patch = dict(patch)
        if "config" in patch and isinstance(patch["config"], dict):
            current["config"].update(patch.pop("config"))
        known = set(MonitorSpec.model_fields)
        for k, v in patch.items():
            if k in known:
                current[k] = v
            else:
                current["config"][k] = v
        values = normalise(current, self.policy)
        # A changed target or type is a new thing to watch: start from pending again.
        reset = values["type"] != row["type"] or values["config"] != row["config"]
        if monitor_types.is_passive(values["type"]):
            values["push_token"] = self._token(values["type"], row["push_token"])
        self.repo.update_monitor(row["id"], self._sealed(values), reset_state=reset)
        return self._public(self._find(row["id"]))

    def set_paused(self, ident: str | int, paused: bool) -> dict[str, Any]:
        row = self._find(ident)
        self.repo.update_monitor(row["id"], {"paused": paused}, reset_state=not paused)
        return self._public(self._find(row["id"]))

    def delete(self, ident: str | int) -> dict[str, Any]:
        row = self._find(ident)
        self.repo.delete_monitor(row["id"])
        self.results.forget("monitor", row["id"])
        return self._public(row)

    def apply(self, items: list[dict[str, Any]], prune: bool = False) -> dict[str, Any]:
        """Make the monitors named in ``items`` match them; idempotent. ``prune`` deletes the others."""
        if not isinstance(items, list):
            raise Invalid("monitors must be a list")
        normalised = []
        names = set()
        for i, item in enumerate(items):
            try:
                values = normalise(item, self.policy)
            except Invalid as e:
                raise Invalid(f"monitor #{i + 1} ({item.get('name', '?') if isinstance(item, dict) else '?'}): "
                              f"{e.message}", field=e.field)
            if values["name"] in names:
                raise Invalid(f"monitor name {values['name']!r} is declared twice", field="name")
            names.add(values["name"])
            normalised.append(values)
        created, updated, unchanged, deleted = [], [], [], []
        existing = {r["name"]: self._open(r) for r in self.repo.list_monitors()}
        for values in normalised:
            row = existing.get(values["name"])
            if row is None:
                values["push_token"] = self._token(values["type"])
                self.repo.insert_monitor(self._sealed(values))
                created.append(values["name"])
                continue
            stored = {k: row[k] for k in values}
            if stored == values:
                unchanged.append(values["name"])
                continue
            reset = values["type"] != row["type"] or values["config"] != row["config"]
            if monitor_types.is_passive(values["type"]):
                values["push_token"] = self._token(values["type"], row["push_token"])
            self.repo.update_monitor(row["id"], self._sealed(values), reset_state=reset)
            updated.append(values["name"])
        if prune:
            for name, row in existing.items():
                if name not in names:
                    self.repo.delete_monitor(row["id"])
                    self.results.forget("monitor", row["id"])
                    deleted.append(name)
        return {"created": created, "updated": updated, "unchanged": unchanged, "deleted": deleted}

    # Results -----------------------------------------------------------------------------------------------

    def history(self, ident: str | int, since: float | None = None, limit: int = 100) -> dict[str, Any]:
        row = self._find(ident)
        now = time.time()
        since = since if since is not None else now - 86_400
        if not 1 <= limit <= 10_000:
            raise Invalid("limit must be 1-10000", field="limit")
        cid = str(row["id"])
        return {
            "monitor": row["name"],
            "uptime": self.results.uptime("monitor", [cid], now)[cid],
            "incidents": self.results.incidents("monitor", [cid], now - 90 * 86_400, now, limit=50),
            "results": self.results.history("monitor", cid, since, now, limit),
        }

    def ping(self, token: str) -> dict[str, Any]:
        row = self.repo.monitor_by_token(token)
        if row is None or not monitor_types.is_passive(row["type"]):
            raise NotFound("no push monitor has this token")
        self.repo.record_push(row["id"], datetime.now(UTC))
        return {"ok": True, "monitor": row["name"]}

    # The prober's view -----------------------------------------------------------------------------------

    def probe_config_mark(self) -> tuple:
        """Changes whenever anything the prober runs changes (cheap to ask every second)."""
        return self.repo.fingerprint()

    def probe_config(self) -> dict[str, list[dict[str, Any]]]:
        """What the prober runs: active (unpaused) monitors with plain settings, target groups, targets,
        and maintenance windows not yet over."""
        now = datetime.now(UTC)
        return {
            "monitors": [self._open(m) for m in self.repo.list_monitors(active_only=True)],
            "groups": self.repo.list_target_groups(),
            "targets": self.repo.list_targets(),
            "windows": [w for w in self.repo.list_windows() if w["ends_at"] > now],
        }

    def last_ping(self, monitor_id: int) -> datetime | None:
        return self.repo.last_push(monitor_id)

    def record_results(self, rows: list[dict[str, Any]]) -> None:
        self.results.insert(rows)

    def write_states(self, monitor_states: Any, target_states: Any, in_transaction: Any = None) -> None:
        """Store changed monitor and target states; ``in_transaction(conn)`` (the notifications they
        cause) commits with them."""
        self.repo.write_states(monitor_states, target_states, in_transaction)

    # Maintenance windows ----------------------------------------------------------------------------------

    def create_window(self, data: dict[str, Any]) -> dict[str, Any]:
        from rexwatch.timeparse import parse_time

        name = str(data.get("name") or "maintenance").strip()[:200]
        try:
            starts = parse_time(data.get("start", "0s") if data.get("start") is not None else time.time())
            ends = parse_time(data["end"]) if data.get("end") is not None else None
        except Invalid:
            raise
        except Exception as e:
            raise Invalid(f"start/end: {e}", field="end")
        if ends is None and data.get("duration") is not None:
            from datetime import timedelta

            ends = starts + timedelta(seconds=_seconds(data["duration"], "duration"))
        if ends is None or ends <= starts:
            raise Invalid("a maintenance window needs an end (or duration) after its start", field="end")
        ids = []
        for ident in data.get("monitors") or []:
            ids.append(self._find(ident)["id"])
        wid = self.repo.insert_window({"name": name, "starts_at": starts, "ends_at": ends, "monitor_ids": ids})
        return self._window(next(w for w in self.repo.list_windows() if w["id"] == wid))

    @staticmethod
    def _window(w: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": w["id"],
            "name": w["name"],
            "start": _iso(w["starts_at"]),
            "end": _iso(w["ends_at"]),
            "monitors": w["monitor_ids"],
        }

    def list_windows(self) -> list[dict[str, Any]]:
        return [self._window(w) for w in self.repo.list_windows()]

    def delete_window(self, wid: int) -> None:
        if not self.repo.delete_window(wid):
            raise NotFound(f"maintenance window {wid} does not exist")

    def active_windows(self, now: float) -> list[dict[str, Any]]:
        at = datetime.fromtimestamp(now, UTC)
        return [w for w in self.repo.list_windows() if w["starts_at"] <= at < w["ends_at"]]

    def in_maintenance(self, monitor_id: int, now: float, windows: list[dict[str, Any]] | None = None) -> bool:
        for w in windows if windows is not None else self.active_windows(now):
            if not w["monitor_ids"] or monitor_id in w["monitor_ids"]:
                return True
        return False

    # Status pages -----------------------------------------------------------------------------------------

    def _page_values(self, data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not partial or "slug" in data:
            slug = str(data.get("slug") or "").strip().lower()
            if not SLUG.match(slug):
                raise Invalid("slug must be 1-100 lowercase letters, digits and dashes", field="slug")
            out["slug"] = slug
        if not partial or "title" in data:
            title = str(data.get("title") or out.get("slug") or "").strip()
            if not title or len(title) > 200:
                raise Invalid("title must be 1-200 characters", field="title")
            out["title"] = title
        if not partial or "description" in data:
            out["description"] = str(data.get("description") or "")[:5000]
        if not partial or "monitors" in data:
            monitors = data.get("monitors") or []
            if not isinstance(monitors, list):
                raise Invalid("monitors must be a list of monitor ids or names", field="monitors")
            out["monitor_ids"] = [self._find(m)["id"] for m in monitors]
        return out

    def create_page(self, data: dict[str, Any]) -> dict[str, Any]:
        values = self._page_values(data)
        self.repo.insert_page(values)
        return self.get_page(values["slug"])

    def update_page(self, slug: str, data: dict[str, Any]) -> dict[str, Any]:
        page = self._page(slug)
        values = self._page_values(data, partial=True)
        values.pop("slug", None)
        self.repo.update_page(page["id"], values)
        return self.get_page(slug)

    def _page(self, slug: str) -> dict[str, Any]:
        page = self.repo.find_page(slug)
        if page is None:
            raise NotFound(f"status page {slug!r} does not exist")
        return page

    def get_page(self, slug: str) -> dict[str, Any]:
        p = self._page(slug)
        return {"id": p["id"], "slug": p["slug"], "title": p["title"], "description": p["description"],
                "monitors": p["monitor_ids"], "created_at": _iso(p["created_at"])}

    def list_pages(self) -> list[dict[str, Any]]:
        return [self.get_page(p["slug"]) for p in self.repo.list_pages()]

    def delete_page(self, slug: str) -> None:
        self.repo.delete_page(self._page(slug)["id"])

    def page_view(self, slug: str, days: int = 90) -> dict[str, Any]:
        """Everything a public status page shows: one query each for uptime, daily bars and incidents."""
        return self._view(self._page(slug), days)

    def preview_page(self, data: dict[str, Any], days: int = 90) -> dict[str, Any]:
        """What a status page with these settings (slug, title, description, monitors) would show,
        without saving it: the console's preview. Validated as create_page validates."""
        values = self._page_values(data)
        return self._view({"slug": values["slug"], "title": values["title"], "description": values["description"],
                           "monitor_ids": values["monitor_ids"]}, days)

    def _view(self, page: dict[str, Any], days: int) -> dict[str, Any]:
        now = time.time()
        rows = {r["id"]: r for r in self.repo.list_monitors(page["monitor_ids"])}
        ordered = [rows[i] for i in page["monitor_ids"] if i in rows]
        ids = [str(r["id"]) for r in ordered]
        uptime = self.results.uptime("monitor", ids, now)
        bars = self.results.daily("monitor", ids, now, days)
        incidents = self.results.incidents("monitor", ids, now - days * 86_400, now, limit=50)
        names = {str(r["id"]): r["name"] for r in ordered}
        windows = self.active_windows(now)
        monitors = []
        for r in ordered:
            cid = str(r["id"])
            status = "paused" if r["paused"] else (
                "maintenance" if self.in_maintenance(r["id"], now, windows) else (r.get("status") or "pending"))
            monitors.append({
                "id": r["id"],
                "name": r["name"],
                "status": status,
                "last_check_at": _iso(r.get("last_check_at")),
                "uptime": uptime.get(cid, dict.fromkeys(UPTIME_WINDOWS)),
                "days": bars.get(cid, []),
            })
        statuses = {m["status"] for m in monitors}
        overall = ("major_outage" if statuses and statuses <= {"down"} else
                   "partial_outage" if "down" in statuses else
                   "maintenance" if "maintenance" in statuses else "operational")
        return {
            "slug": page["slug"],
            "title": page["title"],
            "description": page["description"],
            "status": overall,
            "generated_at": datetime.fromtimestamp(now, UTC).isoformat(),
            "monitors": monitors,
            # A public page says what kind of failure it was, never the error text (which can name
            # internal hosts, addresses or answers).
            "incidents": [
                {**i, "monitor": names.get(i["check_id"], i["check_id"]), "start": _iso(i["start"]),
                 "end": _iso(i["end"]), "cause": PUBLIC_CAUSES.get(i.pop("reason", ""), "check failed")}
                for i in incidents
            ],
        }

    def badge(self, ident: str | int, label: str | None = None, show: str = "status") -> str:
        row = self._find(ident)
        status = self.effective_status(row)
        if show == "uptime":
            cid = str(row["id"])
            value = self.results.uptime("monitor", [cid], time.time())[cid]["30d"]
            text = "no data" if value is None else f"{value:.2f}%"
            colour = "#9f9f9f" if value is None else "#4c1" if value >= 99.9 else "#dfb317" if value >= 99 else "#e05d44"
        else:
            text = status
            colour = {"up": "#4c1", "down": "#e05d44", "pending": "#dfb317", "maintenance": "#007ec6"}.get(
                status, "#9f9f9f")
        return render_badge(label or row["name"], text, colour)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render_badge(label: str, value: str, colour: str) -> str:
    """A flat two-part SVG badge; widths estimated at ~6.5 px per character of Verdana 11 px."""
    lw = int(len(label) * 6.5 + 12)
    vw = int(len(value) * 6.5 + 12)
    w = lw + vw
    label, value = _xml(label), _xml(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" '
        f'aria-label="{label}: {value}"><title>{label}: {value}</title>'
        f'<rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2:.1f}" y="14">{label}</text><text x="{lw + vw / 2:.1f}" y="14">{value}</text></g></svg>'
    )
