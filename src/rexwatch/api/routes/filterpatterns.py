"""Filter patterns over REST: test a pattern against sample messages."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.filterpatterns import FilterPatternService

router = APIRouter(prefix="/logs/filter-patterns", tags=["logs"])


class PatternTest(BaseModel):
    filter_pattern: str = Field("", description="a CloudWatch Logs filter pattern; empty matches everything")
    messages: list[str] = Field(description="1 to 50 sample log messages")


class PatternMatch(BaseModel):
    event_number: int
    event_message: str
    extracted_values: dict[str, str]


class PatternTestResult(BaseModel):
    matches: list[PatternMatch]


@router.post("/test", response_model=PatternTestResult)
def test_pattern(body: PatternTest, rt: Runtime = Depends(get_runtime)) -> PatternTestResult:
    """TestMetricFilter: which messages the pattern matches and the values it extracts."""
    matches = rt.service(FilterPatternService).test(body.filter_pattern, body.messages)
    return PatternTestResult(
        matches=[
            PatternMatch(
                event_number=m.event_number,
                event_message=m.event_message,
                extracted_values=m.extracted_values,
            )
            for m in matches
        ]
    )
