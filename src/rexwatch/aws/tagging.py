"""Resource Groups Tagging API: GetResources, which Grafana's CloudWatch data source calls to offer
dimension values by tag. rexwatch keeps no AWS resources, so the answer is empty."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler


@handler("resourcegroupstaggingapi", "GetResources")
def get_resources(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"ResourceTagMappingList": [], "PaginationToken": ""}
