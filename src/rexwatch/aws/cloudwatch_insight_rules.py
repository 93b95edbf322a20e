"""CloudWatch Contributor Insights: GetInsightRuleReport, which Grafana's CloudWatch data source may
call. rexwatch has no insight rules (PutInsightRule is not implemented), so every rule is unknown
and the answer is AWS's ResourceNotFoundException, after the same parameter checks."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.errors import AwsError
from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import MissingParameter


@handler("cloudwatch", "GetInsightRuleReport")
def get_insight_rule_report(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    for field in ("RuleName", "StartTime", "EndTime", "Period"):
        if p.get(field) in (None, ""):
            raise MissingParameter("The parameter {field} is required.", field=field)
    raise AwsError("ResourceNotFoundException", f"Rule {p['RuleName']} does not exist.", 400)
