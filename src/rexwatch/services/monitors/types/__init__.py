"""Monitor types, one module each, registered in ``TYPES``. A new type is one file and one line.

A type module defines:

- ``validate(config: dict) -> dict``: check and normalise the type's settings,
  raising ``Invalid`` naming the bad field;
- ``async check(ctx: ProbeContext, probe: Probe) -> CheckResult``: run one check;
- ``describe(config) -> str``: a short label (URL, host:port, ...) for listings;
- ``destinations(config) -> list[(field, host, port)]`` (active types): where
  checks connect, which the service checks against the outbound address
  policy when a monitor is created or changed (checks connect through the
  policy again every time).

Each type sets ``SCHEDULING``: ``"active"`` (the prober connects somewhere
every interval) or ``"passive"`` (push: the prober connects nowhere, it judges
the pings received, which arrive at the monitor's own secret URL). Callers ask
``is_passive(type)``; nothing outside this package branches on a type's name.

``SECRET_FIELDS`` names settings that hold credentials (a string, or a mapping
of strings such as ``headers``): they are encrypted at rest and shown as
``****`` in every read.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx

from rexwatch.errors import Invalid
from rexwatch.netpolicy import AddressPolicy

TYPES: dict[str, str] = {
    "http": "rexwatch.services.monitors.types.http",
    "tcp": "rexwatch.services.monitors.types.tcp",
    "dns": "rexwatch.services.monitors.types.dns",
    "push": "rexwatch.services.monitors.types.push",
}


@dataclass
class CheckResult:
    ok: bool
    latency_ms: float = 0.0
    status_code: int = 0
    # Machine-readable cause of a failure: timeout, refused, connect, status, keyword, json, slow, tls, dns, silent
    reason: str = ""
    error: str = ""
    excerpt: str = ""


@dataclass
class Probe:
    """One thing to check: a monitor, or one target of a target group."""

    kind: str  # "monitor" | "target"
    id: int
    type: str
    config: dict[str, Any]
    interval_s: float
    timeout_s: float


@dataclass
class ProbeContext:
    """What checks share: one HTTP client per TLS mode (both built on the address policy) and the policy."""

    client: httpx.AsyncClient
    insecure_client: httpx.AsyncClient
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    # For push monitors: returns the epoch seconds of the last ping (or None).
    last_push: Callable[[int], Awaitable[float | None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


SCHEDULING_KINDS = ("active", "passive")


def scheduling(type_name: str) -> str:
    return get(type_name).SCHEDULING


def is_passive(type_name: str) -> bool:
    return scheduling(type_name) == "passive"


def _map_secrets(module: ModuleType, config: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    out = dict(config)
    for name in getattr(module, "SECRET_FIELDS", ()):
        value = out.get(name)
        if isinstance(value, str):
            out[name] = fn(value)
        elif isinstance(value, dict):
            out[name] = {k: fn(v) if isinstance(v, str) else v for k, v in value.items()}
    return out


def seal_config(type_name: str, config: dict[str, Any], seal: Callable[[str], str]) -> dict[str, Any]:
    return _map_secrets(get(type_name), config, seal)


def unseal_config(type_name: str, config: dict[str, Any], unseal: Callable[[str], str]) -> dict[str, Any]:
    return _map_secrets(get(type_name), config, unseal)


def redact_config(type_name: str, config: dict[str, Any]) -> dict[str, Any]:
    return _map_secrets(get(type_name), config, lambda v: "****")


def get(type_name: str) -> ModuleType:
    dotted = TYPES.get(type_name)
    if dotted is None:
        raise Invalid(f"type must be one of {', '.join(TYPES)}, not {type_name!r}", field="type")
    return importlib.import_module(dotted)


def target_text(type_name: str, config: dict[str, Any]) -> str:
    """What a person types to say what this monitor watches (a URL, host:port, a name); "" if nothing."""
    fn = getattr(get(type_name), "target_text", None)
    return fn(config) if fn is not None else ""


def takes_keyword(type_name: str) -> bool:
    """Whether the type checks a keyword in what it fetches (an emptied keyword removes the check)."""
    return bool(getattr(get(type_name), "TAKES_KEYWORD", False))


def destinations(module: ModuleType, config: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(field, host, port) a type connects to; none for a passive type."""
    fn = getattr(module, "destinations", None)
    return list(fn(config)) if fn is not None else []


# Excerpts are kept to a line: enough to see which error page answered, too little to copy a page out.
EXCERPT_CHARS = 120


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
