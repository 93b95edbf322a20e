"""Filter patterns as a service: TestMetricFilter (pattern + sample messages -> matches)."""

from __future__ import annotations

from dataclasses import dataclass

from rexwatch.errors import Invalid
from rexwatch.lang.filterpattern import FilterPattern, compile_pattern
from rexwatch.lang.filterpattern import ast as fp_ast

MAX_TEST_MESSAGES = 50


@dataclass(frozen=True)
class MatchRecord:
    event_number: int  # 1-based position in the messages given
    event_message: str
    extracted_values: dict[str, str]


class FilterPatternService:
    def __init__(self, runtime: object) -> None:
        self.runtime = runtime

    def compile(self, pattern: str | None) -> FilterPattern:
        return compile_pattern(pattern)

    def test(self, pattern: str | None, messages: list[str]) -> list[MatchRecord]:
        """The messages the pattern matches, with the values a metric filter would take from each.

        Extracted values use CloudWatch's names: ``$.path`` for the JSON fields the
        pattern tests, ``$name`` for the fields of a space-delimited pattern.
        """
        if not 1 <= len(messages) <= MAX_TEST_MESSAGES:
            raise Invalid(
                f"logEventMessages must hold 1 to {MAX_TEST_MESSAGES} messages, not {len(messages)}",
                field="logEventMessages",
            )
        p = self.compile(pattern)
        wanted = {"$." + f for f in p.referenced_fields}
        out = []
        for n, message in enumerate(messages, 1):
            values = p.extract(message)
            if values is None:
                continue
            if isinstance(p.ast, fp_ast.JsonPattern):
                values = {k: v for k, v in values.items() if k in wanted}
            elif isinstance(p.ast, fp_ast.DelimitedPattern):
                values = {f"${k}": v for k, v in values.items()}
            out.append(MatchRecord(n, message, values))
        return out
