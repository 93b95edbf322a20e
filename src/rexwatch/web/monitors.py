"""Monitor pages: every monitor with its status, uptime and last check, and one monitor with its
response times, uptime over 24h/7d/30d, recent checks and incidents. Create, pause, resume and
delete are CSRF-checked POST forms. Everything goes through MonitorService (as /api/v1/monitors)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.monitors import MonitorService, TargetGroupService
from rexwatch.services.monitors import types as monitor_types
from rexwatch.web import templates
from rexwatch.web.common import (
    RELATIVE,
    call,
    check_csrf,
    csrf_token,
    fmt_ms,
    set_csrf_cookie,
    time_range,
    url,
)
from rexwatch.web.timezone import when

# With auth on, the gate (api/guard.py) lets only keys through unless `public` names ui.
router = APIRouter(include_in_schema=False)

TYPES = ("http", "tcp", "dns", "push")
PROTOCOLS = ("HTTP", "HTTPS", "TCP")
MAX_CHECKS_READ = 10_000  # results read for one chart (the service's own limit)
CHART_POINTS = 600  # the chart gets at most this many points: one per pixel column or so
RECENT = 50
STATUS_CODES = {0: "down", 1: "up", 2: "pending", 3: "maintenance"}


def _svc(request: Request) -> MonitorService:
    return request.app.state.runtime.service(MonitorService)


def _when(v: Any) -> str:
    if not v:
        return "—"
    if isinstance(v, str):
        try:
            v = dt.datetime.fromisoformat(v)
        except ValueError:
            return v
    if isinstance(v, dt.datetime):
        return when(v)
    return str(v)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}%"


SPARK_W, SPARK_H = 96, 20


def spark_points(values: list[float | None]) -> str:
    """An SVG polyline's points for a sparkline; slices without a value are skipped."""
    got = [v for v in values if v is not None]
    if not got:
        return ""
    lo, hi = min(got), max(got)
    span = (hi - lo) or 1.0
    step = SPARK_W / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{SPARK_H - 2 - (v - lo) / span * (SPARK_H - 4):.1f}"
                    for i, v in enumerate(values) if v is not None)


def _groups(svc: TargetGroupService) -> list[dict[str, Any]]:
    groups = svc.overview()
    for g in groups:
        values = g["ResponseTimes"]
        got = [v for v in values if v is not None]
        g["spark"] = {"points": spark_points(values), "min": min(got) if got else None,
                      "max": max(got) if got else None}
    return groups


def _list(svc: MonitorService) -> list[dict[str, Any]]:
    monitors = svc.list()
    ids = [m["id"] for m in monitors]
    ups = svc.uptimes(ids)
    sparks = svc.sparklines(ids)
    for m in monitors:
        m["uptime"] = ups[m["id"]]
        values = sparks[m["id"]]
        got = [v for v in values if v is not None]
        m["spark"] = {"points": spark_points(values), "min": min(got) if got else None,
                      "max": max(got) if got else None}
    return monitors


@router.get("/monitors", response_class=HTMLResponse)
async def monitors_page(request: Request, q: str = "") -> HTMLResponse:
    svc = _svc(request)
    error = None
    monitors: list[dict[str, Any]] = []
    try:
        monitors = await call(_list, svc)
    except RexwatchError as e:
        error = e.message
    groups: list[dict[str, Any]] = []
    try:
        groups = await call(_groups, request.app.state.runtime.service(TargetGroupService))
    except RexwatchError as e:
        error = e.message
    needle = q.strip().lower()[:200]
    shown = [m for m in monitors if not needle or needle in m["name"].lower() or needle in str(m["target"]).lower()]
    order = {"down": 0, "pending": 1, "up": 2, "maintenance": 3, "paused": 4}
    shown.sort(key=lambda m: (order.get(m["status"], 9), m["name"]))
    response = templates.TemplateResponse(request, "monitors.html", {
        "monitors": shown, "total": len(monitors), "q": q, "error": error, "types": TYPES, "when": _when,
        "pct": _pct, "csrf": csrf_token(request), "done": request.query_params.get("done"),
        "problem": request.query_params.get("problem"), "form": request.query_params,
        "groups": [g for g in groups if not needle or needle in g["TargetGroupName"].lower()],
        "protocols": PROTOCOLS, "tg_problem": request.query_params.get("tg_problem"),
    })
    return set_csrf_cookie(request, response)


def downsample(ts: list[float], values: list[float | None], width: int) -> tuple[list[float], list[float | None]]:
    """At most ``width`` points: the mean of the values in each of ``width`` equal time slices."""
    if len(ts) <= width:
        return ts, values
    lo, hi = ts[0], ts[-1]
    step = (hi - lo) / width or 1.0
    sums: dict[int, list[float]] = {}
    for t, v in zip(ts, values, strict=True):
        if v is None:
            continue
        b = sums.setdefault(min(width - 1, int((t - lo) / step)), [0.0, 0.0])
        b[0] += v
        b[1] += 1
    keys = sorted(sums)
    return [lo + (k + 0.5) * step for k in keys], [sums[k][0] / sums[k][1] for k in keys]


def _target(m: dict[str, Any]) -> str:
    """What the create form's Target field holds for this monitor."""
    return monitor_types.target_text(m["type"], m["config"])


def _detail(svc: MonitorService, ident: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    m = svc.get(ident)
    hist = svc.history(m["id"], since=start_ms / 1000, limit=MAX_CHECKS_READ)
    results = [r for r in hist["results"] if r["ts"].timestamp() * 1000 <= end_ms]
    oldest_first = list(reversed(results))
    ts = [r["ts"].timestamp() for r in oldest_first]
    lat = [None if r["latency_ms"] is None or not r["ok"] else round(float(r["latency_ms"]), 2)
           for r in oldest_first]
    xs, ys = downsample(ts, lat, CHART_POINTS)
    chart = {"x": xs, "series": [{"label": "response time (ms)", "values": ys}],
             "range": [start_ms / 1000, end_ms / 1000],
             "bands": [{"from": r["ts"].timestamp(), "to": r["ts"].timestamp() + m["interval"], "state": "ALARM"}
                       for r in oldest_first if r["status"] == 0][:2000]}
    return {"m": m, "target": _target(m), "uptime": hist["uptime"], "incidents": hist["incidents"], "recent": results[:RECENT],
            "checks": len(results), "chart_json": json.dumps(chart).replace("</", "<\\/"), "points": len(xs)}


@router.get("/monitors/{ident}", response_class=HTMLResponse)
async def monitor_page(request: Request, ident: str) -> HTMLResponse:
    svc = _svc(request)
    tr, range_error = time_range(request, default="1d")
    try:
        ctx = await call(_detail, svc, ident, tr.start_ms, tr.end_ms)
    except NotFound as e:
        return templates.TemplateResponse(request, "monitor_missing.html", {"ident": ident, "message": e.message},
                                          status_code=404)
    ctx.update({"tr": tr, "relative": RELATIVE, "range_error": range_error, "when": _when, "pct": _pct,
                "csrf": csrf_token(request), "done": request.query_params.get("done"), "url": url,
                "problem": request.query_params.get("problem"), "status_names": STATUS_CODES, "fmt_ms": fmt_ms})
    return set_csrf_cookie(request, templates.TemplateResponse(request, "monitor.html", ctx))


def _spec(fields: dict[str, str]) -> dict[str, Any]:
    """A MonitorService declaration from the create form (the service validates it)."""
    kind = fields.get("type", "http")
    if kind not in TYPES:
        raise Invalid(f"type must be one of {', '.join(TYPES)}", field="type")
    target = fields.get("target", "").strip()
    spec: dict[str, Any] = {"name": fields.get("name", "").strip()[:200], "type": kind,
                            "interval": fields.get("interval", "").strip() or "60s",
                            "retries": int(fields["retries"]) if fields.get("retries", "").isdigit() else 0}
    if fields.get("timeout", "").strip():
        spec["timeout"] = fields["timeout"].strip()
    if kind == "http":
        spec["url"] = target
        if fields.get("keyword", "").strip():
            spec["keyword"] = fields["keyword"].strip()
    elif kind == "tcp":
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise Invalid(f"a tcp target is host:port, not {target[:100]!r}", field="target")
        spec.update(host=host.strip("[]"), port=int(port))
    elif kind == "dns":
        spec["config"] = {"name": target}
    return spec


@router.post("/monitors-action")
async def monitor_action(request: Request) -> RedirectResponse:
    fields = await check_csrf(request)
    action = fields.get("action", "")
    svc = _svc(request)
    ident = fields.get("id", "")
    try:
        if action == "create":
            m = await call(svc.create, _spec(fields))
            return RedirectResponse(url(f"/monitors/{m['id']}", done=f"Created {m['name']}."), status_code=303)
        if action == "edit":
            patch = _spec(fields)
            if monitor_types.takes_keyword(patch["type"]):  # an emptied keyword box removes the check
                patch["keyword"] = fields.get("keyword", "").strip() or None
            m = await call(svc.update, ident, patch)
            return RedirectResponse(url(f"/monitors/{m['id']}", done="Saved."), status_code=303)
        if action in ("pause", "resume"):
            m = await call(svc.set_paused, ident, action == "pause")
            return RedirectResponse(url(f"/monitors/{m['id']}", done=f"{action.capitalize()}d."), status_code=303)
        if action == "delete":
            m = await call(svc.delete, ident)
            return RedirectResponse(url("/monitors", done=f"Deleted {m['name']}."), status_code=303)
        raise Invalid("action must be one of create, edit, pause, resume, delete", field="action")
    except NotFound:
        raise
    except RexwatchError as e:
        if action == "create":
            keep = {k: fields.get(k, "") for k in ("name", "type", "target", "interval", "timeout", "retries",
                                                    "keyword")}
            return RedirectResponse(url("/monitors", problem=f"Not created: {e.message}", **keep), status_code=303)
        # Back to the monitor's page, or to the list when the form named none (its id is a number).
        back = f"/monitors/{ident}" if ident.isascii() and ident.isdigit() else "/monitors"
        return RedirectResponse(url(back, problem=e.message), status_code=303)


# Target groups ----------------------------------------------------------------------------------------


def _tg_detail(svc: TargetGroupService, name: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    g = svc.get(name)
    health = svc.describe_health(name)["TargetHealthDescriptions"]
    hist = svc.history(name, since=start_ms / 1000, now=end_ms / 1000, limit=MAX_CHECKS_READ)
    results = hist["results"]
    oldest_first = list(reversed(results))
    # One series per target (the first ten by name), each thinned to the chart's width.
    names = sorted({r["target"] for r in oldest_first})[:10]
    xs_all: set[float] = set()
    per: dict[str, dict[float, float | None]] = {}
    for t in names:
        rows = [r for r in oldest_first if r["target"] == t]
        ts = [r["ts"].timestamp() for r in rows]
        lat = [None if r["latency_ms"] is None or not r["ok"] else round(float(r["latency_ms"]), 2) for r in rows]
        xs, ys = downsample(ts, lat, CHART_POINTS // max(1, len(names)))
        per[t] = dict(zip(xs, ys, strict=True))
        xs_all.update(xs)
    x = sorted(xs_all)
    chart = {"x": x, "series": [{"label": f"{t} (ms)", "values": [per[t].get(v) for v in x]} for t in names],
             "range": [start_ms / 1000, end_ms / 1000],
             "bands": [{"from": r["ts"].timestamp(), "to": r["ts"].timestamp() + g["HealthCheckIntervalSeconds"],
                        "state": "ALARM"} for r in oldest_first if not r["ok"]][:2000]}
    return {"g": g, "health": health, "incidents": hist["incidents"], "recent": results[:RECENT],
            "checks": len(results), "points": len(x), "chart_json": json.dumps(chart).replace("</", "<\\/")}


@router.get("/monitors/target-groups/{name}", response_class=HTMLResponse)
async def target_group_page(request: Request, name: str) -> HTMLResponse:
    svc = request.app.state.runtime.service(TargetGroupService)
    tr, range_error = time_range(request, default="1d")
    try:
        ctx = await call(_tg_detail, svc, name, tr.start_ms, tr.end_ms)
    except NotFound as e:
        return templates.TemplateResponse(request, "monitor_missing.html", {"what": "Target group", "message": e.message},
                                          status_code=404)
    ctx.update({"tr": tr, "relative": RELATIVE, "range_error": range_error, "when": _when, "protocols": PROTOCOLS,
                "csrf": csrf_token(request), "done": request.query_params.get("done"),
                "problem": request.query_params.get("problem")})
    return set_csrf_cookie(request, templates.TemplateResponse(request, "target_group.html", ctx))


TG_FIELDS = ("name", "protocol", "port", "health_check_path", "matcher", "health_check_interval",
             "health_check_timeout", "healthy_threshold", "unhealthy_threshold", "topics", "targets")


def _tg_spec(fields: dict[str, str]) -> dict[str, Any]:
    """The service's input from a target group form; empty boxes take the service's defaults.
    ``topics`` holds every topic ARN, separated by spaces, commas or lines (an ARN has none)."""
    data: dict[str, Any] = {k: fields[k].strip() for k in TG_FIELDS[:-2] if fields.get(k, "").strip()}
    if "topics" in fields:
        data["topics"] = list(dict.fromkeys(fields["topics"].replace(",", " ").split()))
    if "enabled" in fields:
        data["health_check_enabled"] = fields["enabled"] == "on"
    return data


def _targets(text: str) -> list[dict[str, Any]]:
    """``host``, ``host:port``, ``[v6]:port`` or a URL, separated by commas, spaces or lines."""
    out: list[dict[str, Any]] = []
    for item in text.replace(",", " ").split():
        if "://" in item:
            out.append({"Id": item})
            continue
        host, sep, port = item.rpartition(":")
        if sep and port.isdigit() and host and (host.startswith("[") or ":" not in host):
            out.append({"Id": host.strip("[]"), "Port": int(port)})
        else:
            out.append({"Id": item.strip("[]")})
    return out


def _tg_act(svc: TargetGroupService, action: str, fields: dict[str, str]) -> tuple[str, str]:
    """Do one action; returns (where to go, what to say)."""
    name = fields.get("name", "").strip()
    if action == "create":
        g = svc.create(_tg_spec(fields))
        name = g["TargetGroupName"]
        targets = _targets(fields.get("targets", ""))
        if not targets:
            return name, f"Created {name}."
        try:
            svc.register(name, targets)
        except RexwatchError as e:
            return name, f"Created {name}, but its targets were not registered: {e.message}"
        return name, f"Created {name} with {len(targets)} targets."
    if action == "edit":
        svc.modify(name, _tg_spec({**fields, "name": ""}))
        return name, "Saved."
    if action == "register":
        got = svc.register(name, _targets(fields.get("targets", "")))
        return name, f"Registered {got['registered']} targets."
    if action == "deregister":
        svc.deregister(name, _targets(fields.get("target", "")))
        return name, f"Deregistered {fields.get('target', '')}."
    if action == "delete":
        svc.delete(name)
        return "", f"Deleted {name}."
    raise Invalid("action must be one of create, edit, register, deregister, delete", field="action")


@router.post("/target-groups-action")
async def target_group_action(request: Request) -> RedirectResponse:
    fields = await check_csrf(request)
    action = fields.get("action", "")
    svc = request.app.state.runtime.service(TargetGroupService)
    try:
        name, done = await call(_tg_act, svc, action, fields)
    except NotFound:
        raise
    except RexwatchError as e:
        if action == "create":
            keep = {k: fields.get(k, "")[:2000] for k in TG_FIELDS}
            return RedirectResponse(url("/monitors", tg_problem=e.message, **{f"tg_{k}": v for k, v in keep.items()})
                                    + "#create-target-group", status_code=303)
        name = fields.get("name", "").strip()
        back = f"/monitors/target-groups/{quote(name, safe='')}" if name else "/monitors"
        return RedirectResponse(url(back, problem=e.message), status_code=303)
    if not name:
        return RedirectResponse(url("/monitors", done=done), status_code=303)
    return RedirectResponse(url(f"/monitors/target-groups/{quote(name, safe='')}", done=done), status_code=303)
