"""Domain errors raised by services.

Every front door maps these to its own wire shape in exactly one place
(``rexwatch.api.errors`` for REST, ``rexwatch.aws.errors`` for the AWS protocols)::

    RexwatchError
      ├── Invalid            a request is malformed or breaks a rule       (400)
      │     └── QueryError   a query or pattern failed to compile; has a position
      ├── Unauthorized       missing or wrong credentials                  (401)
      ├── Forbidden          credentials valid but not allowed             (403)
      ├── NotFound           the named resource does not exist             (404)
      ├── Conflict           the resource already exists / state clash     (409)
      ├── LimitExceeded      a documented limit was hit                    (400)
      ├── Throttled          back off and retry (buffer full)              (429)
      └── Unavailable        a store is down                               (503)
"""

from __future__ import annotations


class RexwatchError(Exception):
    """Base of all domain errors. ``code`` is stable and machine-readable."""

    code = "Error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None, aws_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Front doors for AWS protocols use this when the AWS error code differs from ours.
        self.aws_code = aws_code


class Invalid(RexwatchError):
    """The request is malformed or breaks a documented rule."""

    code = "Invalid"
    status = 400


class QueryError(Invalid):
    """A query or pattern did not compile. Carries the position of the problem."""

    code = "QueryError"

    def __init__(self, message: str, *, query: str = "", start: int = 0, end: int | None = None) -> None:
        self.query = query
        self.start = start
        self.end = start + 1 if end is None else end
        line = query.count("\n", 0, start) + 1
        col = start - (query.rfind("\n", 0, start) + 1) + 1
        self.line, self.col = line, col
        super().__init__(f"{message} (line {line}, column {col})")
        self.detail = message

    def snippet(self) -> str:
        """The offending line with a caret under the problem, for terminals."""
        lines = self.query.split("\n")
        text = lines[self.line - 1] if self.line - 1 < len(lines) else ""
        width = max(1, min(self.end - self.start, len(text) - self.col + 1))
        return f"{text}\n{' ' * (self.col - 1)}{'^' * width}"


class Unauthorized(RexwatchError):
    code = "Unauthorized"
    status = 401


class Forbidden(RexwatchError):
    code = "Forbidden"
    status = 403


class NotFound(RexwatchError):
    code = "NotFound"
    status = 404


class Conflict(RexwatchError):
    code = "Conflict"
    status = 409


class LimitExceeded(RexwatchError):
    code = "LimitExceeded"
    status = 400


class Throttled(RexwatchError):
    code = "Throttled"
    status = 429


class Unavailable(RexwatchError):
    code = "Unavailable"
    status = 503


class ConfigError(Exception):
    """Settings are unusable. The message is one line naming the problem."""
