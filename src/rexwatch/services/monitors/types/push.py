"""Push (heartbeat) monitors: a job calls a secret URL; silence beyond interval + grace means down.

The prober connects nowhere for these: every interval it looks at the time of
the last ping (``POST/GET /push/<token>`` or ``/api/v1/push/<token>``).
"""

from __future__ import annotations

import time
from typing import Any

from rexwatch.errors import Invalid
from rexwatch.services.monitors.types import CheckResult, Probe, ProbeContext

SCHEDULING = "passive"


def validate(config: dict[str, Any]) -> dict[str, Any]:
    unknown = set(config) - {"grace_s"}
    if unknown:
        raise Invalid(f"unknown push monitor setting(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    grace = config.get("grace_s", 0)
    if not isinstance(grace, int | float) or grace < 0:
        raise Invalid("grace_s must be a number of seconds >= 0", field="grace_s")
    return {"grace_s": float(grace)}


def describe(config: dict[str, Any]) -> str:
    return f"push (grace {config['grace_s']:g} s)"


async def check(ctx: ProbeContext, probe: Probe) -> CheckResult:
    assert ctx.last_push is not None
    last = await ctx.last_push(probe.id)
    started = probe.config.get("_created_at", time.time())
    silent_for = time.time() - (last if last is not None else started)
    allowed = probe.interval_s + probe.config["grace_s"]
    if silent_for > allowed:
        what = "no ping yet" if last is None else f"last ping {silent_for:.1f} s ago"
        return CheckResult(False, 0.0, reason="silent", error=f"{what}; expected one every {allowed:g} s")
    return CheckResult(True, 0.0)
