"""AWS Logs operations on filter patterns alone (no stored data): TestMetricFilter."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.services.filterpatterns import FilterPatternService


@handler("logs", "TestMetricFilter")
def test_metric_filter(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    svc = ctx.runtime.service(FilterPatternService)
    matches = svc.test(params.get("filterPattern", ""), list(params.get("logEventMessages") or []))
    return {
        "matches": [
            {
                "eventNumber": m.event_number,
                "eventMessage": m.event_message,
                "extractedValues": m.extracted_values,
            }
            for m in matches
        ]
    }
