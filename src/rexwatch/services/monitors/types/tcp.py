"""TCP port monitors: up when a connection is accepted within the timeout."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rexwatch.errors import Invalid
from rexwatch.netpolicy import Refused
from rexwatch.services.monitors.types import CheckResult, Probe, ProbeContext

SCHEDULING = "active"


def validate(config: dict[str, Any]) -> dict[str, Any]:
    unknown = set(config) - {"host", "port"}
    if unknown:
        raise Invalid(f"unknown tcp monitor setting(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    host = config.get("host")
    if not isinstance(host, str) or not host.strip():
        raise Invalid("tcp monitors need a host", field="host")
    port = config.get("port")
    if isinstance(port, str) and port.isascii() and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise Invalid("tcp monitors need a port 1-65535", field="port")
    return {"host": host.strip(), "port": port}


def describe(config: dict[str, Any]) -> str:
    return f"tcp://{config['host']}:{config['port']}"


def destinations(config: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [("host", config["host"], config["port"])]


async def check(ctx: ProbeContext, probe: Probe) -> CheckResult:
    host, port = probe.config["host"], probe.config["port"]
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    try:
        async with asyncio.timeout(probe.timeout_s):
            # Resolve once, check every answer, connect to a checked address (never to the name again).
            addresses = await ctx.policy.resolve(host, port)
            _reader, writer = await asyncio.open_connection(addresses[0], port)
        latency = elapsed()
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1)
        except (TimeoutError, OSError):
            pass
        return CheckResult(True, latency)
    except TimeoutError:
        return CheckResult(False, elapsed(), reason="timeout", error=f"no connection within {probe.timeout_s:g} s")
    except Refused as e:
        return CheckResult(False, elapsed(), reason="refused", error=str(e))
    except OSError as e:
        return CheckResult(False, elapsed(), reason="connect", error=f"connection to {host}:{port} failed: "
                                                                    f"{e.strerror or e}")


def target_text(config: dict[str, Any]) -> str:
    return f"{config.get('host', '')}:{config.get('port', '')}"
