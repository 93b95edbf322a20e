"""Composite alarm rules: ``compile_rule(text)`` parses, ``CompiledRule.evaluate`` decides.

The pipeline is the shared ``Lexer`` -> ``parser`` -> ``ast`` -> ``evaluate``
below. The language is documented in docs/alarms.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rexwatch.lang.alarmrule.ast import And, Const, Node, Not, Or, StateIs
from rexwatch.lang.alarmrule.parser import KEYWORDS, MAX_RULE_LENGTH, STATE_FUNCS, parse

__all__ = ["KEYWORDS", "MAX_RULE_LENGTH", "STATE_FUNCS", "CompiledRule", "alarm_name_of", "compile_rule"]


def _children(n: Node) -> tuple[Node, ...]:
    if isinstance(n, Not):
        return (n.operand,)
    if isinstance(n, And | Or):
        return n.items
    return ()


@dataclass(frozen=True)
class CompiledRule:
    text: str
    root: Node

    @property
    def alarms(self) -> list[str]:
        """Names (or ARNs) of the alarms the rule refers to, in order of first use."""
        seen: dict[str, None] = {}
        stack = [self.root]
        while stack:
            n = stack.pop()
            if isinstance(n, StateIs):
                seen.setdefault(n.alarm, None)
            stack.extend(reversed(_children(n)))
        return list(seen)

    def evaluate(self, state_of: Callable[[str], str | None]) -> bool:
        """True when the rule holds; ``state_of(name)`` gives a child alarm's state value."""

        def ev(n: Node) -> bool:
            if isinstance(n, Const):
                return n.value
            if isinstance(n, StateIs):
                return state_of(n.alarm) == n.state
            if isinstance(n, Not):
                return not ev(n.operand)
            if isinstance(n, And):
                return all(ev(i) for i in n.items)
            return any(ev(i) for i in n.items)

        return ev(self.root)


def compile_rule(rule: str) -> CompiledRule:
    """Parse ``rule``; raises ``QueryError`` naming the position of the problem."""
    return CompiledRule(rule, parse(rule))


def alarm_name_of(ref: str) -> str:
    """A rule may name a child by ARN (arn:aws:cloudwatch:r:acct:alarm:NAME) or by name."""
    if ref.startswith("arn:") and ":alarm:" in ref:
        return ref.split(":alarm:", 1)[1]
    return ref
