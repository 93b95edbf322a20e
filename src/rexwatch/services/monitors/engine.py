"""State machines: uptime monitors (retries, flapping) and ELB-style targets (thresholds).

Pure functions over small dataclasses, so the exact rules are easy to test and
the prober applies them to a batch of results without touching the stores.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

# Status codes stored in probe_results.status
DOWN, UP, PENDING, MAINTENANCE = 0, 1, 2, 3
STATUS_CODE = {"down": DOWN, "up": UP, "pending": PENDING}

FLAP_WINDOW = 20  # outcomes remembered
# Changes between consecutive outcomes in the window that start flapping (two full down/up
# cycles) and that end it (at most one change left in the window).
FLAP_ENTER = 4
FLAP_EXIT = 1


@dataclass
class MonitorState:
    status: str = "pending"  # pending | up | down
    fail_count: int = 0
    history: str = ""
    flapping: bool = False
    last_notified: str | None = None


def flap_changes(history: str) -> int:
    return sum(1 for a, b in itertools.pairwise(history) if a != b)


def monitor_step(state: MonitorState, ok: bool, retries: int) -> MonitorState:
    """Apply one check outcome. ``retries`` failures are tolerated (pending) before down."""
    s = MonitorState(state.status, state.fail_count, state.history, state.flapping, state.last_notified)
    s.history = (s.history + ("1" if ok else "0"))[-FLAP_WINDOW:]
    if ok:
        s.fail_count = 0
        s.status = "up"
    else:
        s.fail_count += 1
        if s.fail_count > retries:
            s.status = "down"
        elif s.status != "down":
            s.status = "pending"
    changes = flap_changes(s.history)
    if not s.flapping and changes >= FLAP_ENTER:
        s.flapping = True
    elif s.flapping and changes <= FLAP_EXIT:
        s.flapping = False
    return s


def notify_decision(
    status: str, last_notified: str | None, *, flapping: bool, in_maintenance: bool
) -> tuple[str | None, str | None]:
    """(event to send or None, new last_notified).

    Notifications reconcile the current status with the last one people were
    told about: a flapping monitor or one in a maintenance window sends nothing,
    and when it settles (or the window ends) one message tells the current
    state if it differs. The first "up" of a new monitor is silent.
    """
    if status not in ("up", "down"):
        return None, last_notified
    if last_notified is None and status == "up":
        return None, "up"
    if flapping or in_maintenance or status == last_notified:
        return None, last_notified
    return status, status


# ELB target health -------------------------------------------------------------------------------

REASONS = {
    "status": "Target.ResponseCodeMismatch",
    "timeout": "Target.Timeout",
}


def failure_reason(reason: str) -> str:
    return REASONS.get(reason, "Target.FailedHealthChecks")


@dataclass
class TargetState:
    state: str = "initial"  # initial | healthy | unhealthy | unused
    reason: str | None = "Elb.InitialHealthChecking"
    description: str | None = "Initial health checks in progress"
    success_count: int = 0
    fail_count: int = 0
    last_notified: str | None = None


def target_step(
    t: TargetState,
    ok: bool,
    *,
    healthy_threshold: int,
    unhealthy_threshold: int,
    fail_reason: str = "",
    description: str = "",
) -> TargetState:
    """ELB threshold rules: ``healthy_threshold`` consecutive successes make a target healthy,
    ``unhealthy_threshold`` consecutive failures make it unhealthy; anything else keeps the state.
    A new target is ``initial`` until one of the two thresholds is reached."""
    n = TargetState(t.state, t.reason, t.description, t.success_count, t.fail_count, t.last_notified)
    if ok:
        n.success_count += 1
        n.fail_count = 0
        if n.state != "healthy" and n.success_count >= healthy_threshold:
            n.state, n.reason, n.description = "healthy", None, None
    else:
        n.fail_count += 1
        n.success_count = 0
        if n.state == "unhealthy" or n.fail_count >= unhealthy_threshold:
            n.state = "unhealthy"
            n.reason = failure_reason(fail_reason)
            n.description = description or "Health checks failed"
    return n


TARGET_STATUS = {"healthy": UP, "unhealthy": DOWN, "initial": PENDING}
TARGET_AS_MONITOR = {"healthy": "up", "unhealthy": "down", "initial": "pending"}
