"""The process's configured SDK, read on every request and line (a module attribute: no import per call)."""

from __future__ import annotations

from typing import Any

sdk: Any = None  # rexwatch.sdk.core.SDK once configure() ran
