"""DNS record monitors: resolve a name (optionally at a given nameserver) and compare the answer."""

from __future__ import annotations

import time
from typing import Any

from rexwatch.errors import Invalid
from rexwatch.netpolicy import Refused
from rexwatch.services.monitors.types import CheckResult, Probe, ProbeContext

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "CAA", "PTR")


SCHEDULING = "active"


def validate(config: dict[str, Any]) -> dict[str, Any]:
    unknown = set(config) - {"name", "record_type", "nameserver", "port", "expected"}
    if unknown:
        raise Invalid(f"unknown dns monitor setting(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    name = config.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("dns monitors need a name to resolve", field="name")
    rtype = str(config.get("record_type") or "A").upper()
    if rtype not in RECORD_TYPES:
        raise Invalid(f"record_type must be one of {', '.join(RECORD_TYPES)}", field="record_type")
    ns = config.get("nameserver")
    if ns is not None:
        import ipaddress

        try:
            ipaddress.ip_address(str(ns))
        except ValueError:
            raise Invalid("nameserver must be an IP address", field="nameserver")
    port = int(config.get("port") or 53)
    if not 1 <= port <= 65535:
        raise Invalid("port must be 1-65535", field="port")
    expected = config.get("expected") or []
    if isinstance(expected, str):
        expected = [expected]
    if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
        raise Invalid("expected must be a list of record values", field="expected")
    return {"name": name.strip(), "record_type": rtype, "nameserver": ns, "port": port, "expected": expected}


def destinations(config: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [("nameserver", config["nameserver"], config["port"])] if config.get("nameserver") else []


def describe(config: dict[str, Any]) -> str:
    at = f" @{config['nameserver']}" if config.get("nameserver") else ""
    return f"dns {config['record_type']} {config['name']}{at}"


async def check(ctx: ProbeContext, probe: Probe) -> CheckResult:
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    cfg = probe.config
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    try:
        if cfg["nameserver"]:
            ctx.policy.check(cfg["nameserver"])
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [cfg["nameserver"]]
            resolver.port = cfg["port"]
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.lifetime = probe.timeout_s
        resolver.timeout = probe.timeout_s
        answer = await resolver.resolve(cfg["name"], cfg["record_type"], raise_on_no_answer=True)
        values = sorted(r.to_text().strip('"').rstrip(".") for r in answer)
    except Refused as e:
        return CheckResult(False, elapsed(), reason="refused", error=str(e))
    except dns.exception.Timeout:
        return CheckResult(False, elapsed(), reason="timeout", error=f"no DNS answer within {probe.timeout_s:g} s")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers) as e:
        return CheckResult(False, elapsed(), reason="dns", error=str(e).splitlines()[0])
    except (dns.exception.DNSException, OSError) as e:
        return CheckResult(False, elapsed(), reason="dns", error=f"{type(e).__name__}: {e}")
    latency = elapsed()
    text = ", ".join(values)
    missing = [e for e in cfg["expected"] if e.rstrip(".") not in values]
    if missing:
        return CheckResult(False, latency, reason="dns", error=f"answer lacks {', '.join(missing)}", excerpt=text)
    return CheckResult(True, latency, excerpt=text)


def target_text(config: dict[str, Any]) -> str:
    return str(config.get("name", ""))
