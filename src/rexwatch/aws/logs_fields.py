"""CloudWatch Logs GetLogGroupFields (Grafana's Logs Insights editor asks for it to complete field names)."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import Invalid
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.fields import log_group_fields


@handler("logs", "GetLogGroupFields")
def get_log_group_fields(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("logGroupName") or p.get("logGroupIdentifier")
    if not name:
        raise Invalid("logGroupName or logGroupIdentifier is required", field="logGroupName")
    if p.get("logGroupName") and p.get("logGroupIdentifier"):
        raise Invalid("logGroupName and logGroupIdentifier cannot be used together", field="logGroupIdentifier")
    if name.startswith("arn:"):
        name = name.split(":log-group:", 1)[-1].removesuffix(":*")
    fields = log_group_fields(ctx.runtime.service(LogsService), name, p.get("time"))
    return {"logGroupFields": [{"name": f, "percent": pct} for f, pct in fields]}
