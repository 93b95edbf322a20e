"""Operation handlers by (service, operation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rexwatch.runtime import Runtime


@dataclass
class AwsContext:
    runtime: Runtime
    service: str
    operation: str
    request_id: str
    region: str
    account_id: str
    protocol: str
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[AwsContext, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[tuple[str, str], Handler] = {}


def handler(service: str, operation: str) -> Callable[[Handler], Handler]:
    """Register ``fn(ctx, params) -> result`` for an AWS operation (botocore names)."""

    def deco(fn: Handler) -> Handler:
        HANDLERS[(service, operation)] = fn
        return fn

    return deco
