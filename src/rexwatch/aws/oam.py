"""CloudWatch Observability Access Manager listings, which Grafana's CloudWatch data source calls
to find monitoring accounts: one account here, so no sinks and no links."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import MissingParameter


@handler("oam", "ListSinks")
def list_sinks(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"Items": []}


@handler("oam", "ListAttachedLinks")
def list_attached_links(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    if not p.get("SinkIdentifier"):
        raise MissingParameter("The parameter {field} is required.", field="SinkIdentifier")
    return {"Items": []}
