"""Target groups with load-balancer style health checks (the elbv2 model).

Parameters, defaults and target states follow Elastic Load Balancing: a target
is ``initial`` until ``healthy_threshold`` consecutive checks pass (``healthy``)
or ``unhealthy_threshold`` consecutive checks fail (``unhealthy``, with reason
``Target.ResponseCodeMismatch``, ``Target.Timeout`` or
``Target.FailedHealthChecks``). Intervals below ELB's 5 s minimum are allowed
(tests and fast local checks).
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from rexwatch.errors import AlreadyExists, Invalid, NotFound
from rexwatch.runtime import Runtime
from rexwatch.services.monitors.matcher import parse_matcher
from rexwatch.stores.control.monitors_repo import MonitorRepo
from rexwatch.stores.telemetry.probes import ProbeResults

NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
PROTOCOLS = ("HTTP", "HTTPS", "TCP")


def _num(data: dict[str, Any], key: str, default: float, lo: float, hi: float, integer: bool = False) -> Any:
    v = data.get(key)
    if v is None:
        return default
    try:
        v = int(v) if integer else float(v)
    except (TypeError, ValueError):
        raise Invalid(f"{key} must be a number", field=key)
    if not lo <= v <= hi:
        raise Invalid(f"{key} must be between {lo:g} and {hi:g}", field=key)
    return v


MAX_TOPICS = 20


def normalise_group(data: dict[str, Any]) -> dict[str, Any]:
    name = str(data.get("name") or "")
    if not NAME.match(name):
        raise Invalid("name must be 1-32 letters, digits and hyphens, not starting or ending with a hyphen",
                      field="name")
    protocol = str(data.get("protocol") or "HTTP").upper()
    if protocol not in PROTOCOLS:
        raise Invalid(f"protocol must be one of {', '.join(PROTOCOLS)}", field="protocol")
    port = data.get("port")
    if port is not None:
        port = _num(data, "port", 0, 1, 65535, integer=True)
    hc_protocol = str(data.get("health_check_protocol") or protocol).upper()
    if hc_protocol not in PROTOCOLS:
        raise Invalid(f"health_check_protocol must be one of {', '.join(PROTOCOLS)}", field="health_check_protocol")
    hc_port = str(data.get("health_check_port") or "traffic-port")
    if hc_port != "traffic-port" and not (hc_port.isascii() and hc_port.isdigit() and 1 <= int(hc_port) <= 65535):
        raise Invalid("health_check_port must be 'traffic-port' or a port number", field="health_check_port")
    path = str(data.get("health_check_path") or "/")
    if not path.startswith("/") or len(path) > 1024:
        raise Invalid("health_check_path must start with / (at most 1024 characters)", field="health_check_path")
    matcher = str(data.get("matcher") or "200")
    parse_matcher(matcher)
    interval = _num(data, "health_check_interval", 30, 0.1, 300)
    timeout = _num(data, "health_check_timeout", 10 if hc_protocol == "TCP" else 5, 0.05, 120)
    if timeout >= interval:
        raise Invalid("health_check_timeout must be smaller than health_check_interval", field="health_check_timeout")
    healthy = _num(data, "healthy_threshold", 5, 2, 10, integer=True)
    unhealthy = _num(data, "unhealthy_threshold", 2, 2, 10, integer=True)
    enabled = data.get("health_check_enabled", True)
    if not isinstance(enabled, bool):
        raise Invalid("health_check_enabled must be true or false", field="health_check_enabled")
    topics = data.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise Invalid("topics must be a list of topic ARNs", field="topics")
    if len(topics) > MAX_TOPICS or any(len(t) > 1024 for t in topics):
        raise Invalid(f"topics: at most {MAX_TOPICS} topic ARNs of at most 1024 characters each", field="topics")
    if hc_port == "traffic-port" and port is None:
        port = 80 if protocol == "HTTP" else 443 if protocol == "HTTPS" else None
        if port is None:
            raise Invalid("a TCP target group needs a port", field="port")
    return {
        "name": name,
        "protocol": protocol,
        "port": port,
        "hc_enabled": enabled,
        "hc_protocol": hc_protocol,
        "hc_path": path,
        "hc_port": hc_port,
        "matcher": matcher,
        "interval_s": interval,
        "timeout_s": timeout,
        "healthy_threshold": healthy,
        "unhealthy_threshold": unhealthy,
        "topic_arns": topics,
    }


def dimension_value(arn: str) -> str:
    """The TargetGroup dimension as ELB writes it: the ARN's ``targetgroup/name/id`` suffix."""
    return arn.split(":", 5)[-1]


def check_url(group: dict[str, Any], target: dict[str, Any]) -> tuple[str, str, int]:
    """(url or '', host, port) a target is checked at."""
    ident = target["target_id"]
    if "://" in ident:
        parts = urlsplit(ident)
        host = parts.hostname or ""
        port = parts.port or target["port"] or (443 if parts.scheme == "https" else 80)
    else:
        host = ident
        port = target["port"] or group["port"]
    if group["hc_port"] != "traffic-port":
        port = int(group["hc_port"])
    if group["hc_protocol"] == "TCP":
        return "", host, int(port)
    shown = f"[{host}]" if ":" in host else host
    return f"{group['hc_protocol'].lower()}://{shown}:{port}{group['hc_path']}", host, int(port)


def group_state(enabled: bool, counts: Counter[str]) -> str:
    """One word for a whole group: ``unhealthy`` when no target passes and one fails, ``degraded``
    when some pass and some fail, ``initial`` while targets are still being checked, ``healthy``
    when every target passes; ``empty`` with no targets, ``unused`` with health checks off."""
    if not enabled:
        return "unused"
    if not sum(counts.values()):
        return "empty"
    if counts["unhealthy"]:
        return "degraded" if counts["healthy"] else "unhealthy"
    if counts["initial"]:
        return "initial"
    return "healthy"


class TargetGroupService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.repo = MonitorRepo(runtime.control)
        self.results = ProbeResults(runtime.telemetry)

    def _arn(self, name: str) -> str:
        s = self.runtime.settings
        return f"arn:aws:elasticloadbalancing:{s.region}:{s.account_id}:targetgroup/{name}/{secrets.token_hex(8)}"

    def _find(self, ident: str) -> dict[str, Any]:
        g = self.repo.find_target_group(ident)
        if g is None:
            raise NotFound(f"target group {ident!r} does not exist")
        return g

    @staticmethod
    def public(g: dict[str, Any]) -> dict[str, Any]:
        return {
            "TargetGroupArn": g["arn"],
            "TargetGroupName": g["name"],
            "Protocol": g["protocol"],
            "Port": g["port"],
            "HealthCheckEnabled": g["hc_enabled"],
            "HealthCheckProtocol": g["hc_protocol"],
            "HealthCheckPort": g["hc_port"],
            "HealthCheckPath": g["hc_path"],
            "HealthCheckIntervalSeconds": g["interval_s"],
            "HealthCheckTimeoutSeconds": g["timeout_s"],
            "HealthyThresholdCount": g["healthy_threshold"],
            "UnhealthyThresholdCount": g["unhealthy_threshold"],
            "Matcher": {"HttpCode": g["matcher"]},
            "Topics": g["topic_arns"],
            "MetricDimension": dimension_value(g["arn"]),
        }

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        values = normalise_group(data)
        existing = self.repo.find_target_group(values["name"])
        if existing is not None:
            # CreateTargetGroup is idempotent for identical settings, like ELB's.
            same = all(existing[k] == v for k, v in values.items())
            if same:
                return self.public(existing)

            raise AlreadyExists(f"a target group named {values['name']!r} exists with different settings",
                           field="name")
        values["arn"] = self._arn(values["name"])
        self.repo.insert_target_group(values)
        return self.public(self._find(values["name"]))

    def list(self) -> list[dict[str, Any]]:
        return [self.public(g) for g in self.repo.list_target_groups()]

    def get(self, ident: str) -> dict[str, Any]:
        return self.public(self._find(ident))

    def overview(self, hours: int = 24, points: int = 48) -> list[dict[str, Any]]:
        """Every group with its targets' states, the group's state and the mean response time of its
        successful checks in ``points`` slices of the last ``hours`` (one query for every group)."""
        groups = self.repo.list_target_groups()
        members: dict[int, Counter[str]] = {g["id"]: Counter() for g in groups}
        for t in self.repo.list_targets():
            members.setdefault(t["target_group_id"], Counter())[t["state"] or "initial"] += 1
        now = time.time()
        sparks = self.results.sparklines("target", [str(g["id"]) for g in groups], now - hours * 3600, now, points)
        out = []
        for g in groups:
            counts = members[g["id"]]
            out.append({**self.public(g), "State": group_state(g["hc_enabled"], counts),
                        "Targets": sum(counts.values()), "TargetStates": dict(counts),
                        "ResponseTimes": sparks.get(str(g["id"]), [None] * points)})
        return out

    def modify(self, ident: str, data: dict[str, Any]) -> dict[str, Any]:
        g = self._find(ident)
        current = {
            "name": g["name"], "protocol": g["protocol"], "port": g["port"],
            "health_check_enabled": g["hc_enabled"], "health_check_protocol": g["hc_protocol"],
            "health_check_port": g["hc_port"], "health_check_path": g["hc_path"], "matcher": g["matcher"],
            "health_check_interval": g["interval_s"], "health_check_timeout": g["timeout_s"],
            "healthy_threshold": g["healthy_threshold"], "unhealthy_threshold": g["unhealthy_threshold"],
            "topics": g["topic_arns"],
        }
        current.update({k: v for k, v in data.items() if v is not None and k != "name"})
        values = normalise_group(current)
        self.repo.update_target_group(g["id"], values)
        return self.public(self._find(g["arn"]))

    def delete(self, ident: str) -> None:
        gid = self._find(ident)["id"]
        self.repo.delete_target_group(gid)
        self.results.forget("target", gid)

    @staticmethod
    def _targets(items: Any) -> list[tuple[str, int | None]]:
        if not isinstance(items, list) or not items:
            raise Invalid("targets must be a non-empty list of {Id, Port}", field="targets")
        out = []
        for t in items:
            if not isinstance(t, dict) or not isinstance(t.get("Id", t.get("id")), str) or not t.get("Id", t.get("id")):
                raise Invalid("each target needs an Id (host, IP address or URL)", field="targets")
            port = t.get("Port", t.get("port"))
            if port is not None:
                try:
                    port = int(port)
                except (TypeError, ValueError):
                    raise Invalid("target Port must be a number", field="targets")
                if not 1 <= port <= 65535:
                    raise Invalid("target Port must be 1-65535", field="targets")
            out.append((t.get("Id", t.get("id")).strip(), port))
        return out

    def register(self, ident: str, items: Any) -> dict[str, Any]:
        g = self._find(ident)
        targets = self._targets(items)
        for tid, port in targets:
            if port is None and g["port"] is None and "://" not in tid:
                raise Invalid(f"target {tid} needs a Port: the target group has none", field="targets")
        added = self.repo.add_targets(g["id"], targets)
        return {"registered": added}

    def deregister(self, ident: str, items: Any) -> dict[str, Any]:
        g = self._find(ident)
        removed = self.repo.remove_targets(g["id"], self._targets(items))
        return {"deregistered": removed}

    def describe_health(self, ident: str, items: Any = None) -> dict[str, Any]:
        g = self._find(ident)
        rows = self.repo.list_targets(g["id"])
        wanted = self._targets(items) if items else None
        out = []
        if wanted is not None:
            by_key = {(r["target_id"], r["port"]): r for r in rows}
            selection: list[tuple[tuple[str, int | None], dict | None]] = [
                (k, by_key.get(k) or by_key.get((k[0], None) if k[1] == g["port"] else k)) for k in wanted
            ]
        else:
            selection = [((r["target_id"], r["port"]), r) for r in rows]
        for (tid, port), r in selection:
            target = {"Id": tid}
            if port is not None or (r and r["port"] is not None):
                target["Port"] = port if port is not None else r["port"]
            if r is None:
                health = {"State": "unused", "Reason": "Target.NotRegistered",
                          "Description": "Target is not registered to the target group"}
            elif not g["hc_enabled"]:
                health = {"State": "unused", "Reason": "Target.HealthCheckDisabled",
                          "Description": "Health checks are disabled"}
            else:
                health = {"State": r["state"]}
                if r["state"] != "healthy" and r["reason"]:
                    health["Reason"] = r["reason"]
                    health["Description"] = r["description"] or ""
            hc_port = g["hc_port"] if g["hc_port"] != "traffic-port" else str(
                (r and r["port"]) or port or g["port"] or "")
            out.append({"Target": target, "HealthCheckPort": hc_port, "TargetHealth": health})
        return {"TargetHealthDescriptions": out}

    def history(self, ident: str, since: float, now: float, limit: int = 100) -> dict[str, Any]:
        g = self._find(ident)
        cid = str(g["id"])
        return {
            "TargetGroupArn": g["arn"],
            "incidents": self.results.incidents("target", [cid], now - 90 * 86_400, now, limit=50),
            "results": self.results.history("target", cid, since, now, limit),
        }
