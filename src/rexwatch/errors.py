"""Domain errors raised by services.

Every front door maps these to its own wire shape in exactly one place
(``rexwatch.api.errors`` for REST, ``rexwatch.aws.errors`` for the AWS protocols).
Services never name a protocol's error codes or parameter spellings: ``field``
is a path such as ``("Dimensions", 1, "Name")`` (1-based list positions), and a
message may say ``{field}`` where the door should spell that path in its own
protocol (``Dimensions.member.1.Name`` on the query protocol)::

    RexwatchError
      ├── Invalid            a request is malformed or breaks a rule       (400)
      │     ├── QueryError          a query or pattern failed to compile; has a position
      │     │     └── PatternError  ... a filter pattern, as opposed to a query
      │     ├── InvalidExpression   a metric-math expression cannot be evaluated
      │     ├── MissingParameter    a required value is absent
      │     ├── InvalidCombination  values valid alone, not together
      │     ├── InvalidToken        a pagination token this server did not issue
      │     ├── InvalidFormat       a value is not in its documented format (e.g. JSON)
      │     ├── EmptyBatch          a batch request with no entries
      │     └── DuplicateBatchIds   two entries of one batch share an id
      ├── Unauthorized       missing or wrong credentials                  (401)
      ├── Forbidden          credentials valid but not allowed             (403)
      ├── NotFound           the named resource does not exist             (404)
      ├── Conflict           the resource already exists / state clash     (409)
      │     ├── AlreadyExists       a resource of that name exists
      │     └── Protected           the resource is protected from this change
      ├── LimitExceeded      a documented limit was hit                    (400)
      │     ├── QueryTimeout        a telemetry query ran past its time limit
      │     ├── QueryMemoryExceeded a telemetry query needed more memory than allowed
      │     ├── TooManyEntries      a batch holds more entries than allowed
      │     └── TagLimitExceeded    a resource would carry too many tags
      ├── Throttled          back off and retry (buffer full)              (429)
      └── Unavailable        a store is down                               (503)
"""

from __future__ import annotations

from collections.abc import Callable

FieldPath = tuple[str | int, ...]


def rest_path(path: FieldPath) -> str:
    """``("Dimensions", 1, "Name")`` -> ``Dimensions[1].Name``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class RexwatchError(Exception):
    """Base of all domain errors. ``code`` is stable and machine-readable."""

    code = "Error"
    status = 500

    def __init__(self, message: str, *, field: FieldPath | str | None = None) -> None:
        self.field_path: FieldPath | None = (field,) if isinstance(field, str) else field
        self.template = message
        super().__init__(self.render())
        self.message = str(self.args[0])

    @property
    def field(self) -> str | None:
        """The field path spelled the REST way (``Dimensions[1].Name``)."""
        return rest_path(self.field_path) if self.field_path else None

    def render(self, spell: Callable[[FieldPath], str] | None = None) -> str:
        """The message with ``{field}`` spelled by ``spell`` (the REST spelling by default)."""
        if "{field}" not in self.template or not self.field_path:
            return self.template
        return self.template.replace("{field}", (spell or rest_path)(self.field_path))


class Invalid(RexwatchError):
    """The request is malformed or breaks a documented rule."""

    code = "Invalid"
    status = 400


class QueryError(Invalid):
    """A query or pattern did not compile. Carries the position of the problem."""

    code = "QueryError"

    def __init__(
        self,
        message: str,
        *,
        query: str = "",
        start: int = 0,
        end: int | None = None,
        field: FieldPath | str | None = None,
    ) -> None:
        self.query = query
        self.start = start
        self.end = start + 1 if end is None else end
        line = query.count("\n", 0, start) + 1
        col = start - (query.rfind("\n", 0, start) + 1) + 1
        self.line, self.col = line, col
        super().__init__(f"{message} (line {line}, column {col})", field=field)
        self.detail = message

    def snippet(self) -> str:
        """The offending line with a caret under the problem, for terminals."""
        lines = self.query.split("\n")
        text = lines[self.line - 1] if self.line - 1 < len(lines) else ""
        width = max(1, min(self.end - self.start, len(text) - self.col + 1))
        return f"{text}\n{' ' * (self.col - 1)}{'^' * width}"


class PatternError(QueryError):
    """A filter pattern did not compile (CloudWatch answers these unlike query errors)."""

    # REST clients see one code for every compile error; only the AWS door tells them apart.
    code = "QueryError"


class InvalidExpression(Invalid):
    """A metric-math expression does not parse or cannot be evaluated (cycles, unknown ids)."""

    code = "InvalidExpression"


class MissingParameter(Invalid):
    """A required value is absent."""

    code = "MissingParameter"


class InvalidCombination(Invalid):
    """Each value is valid alone, but not together with the others."""

    code = "InvalidCombination"


class InvalidToken(Invalid):
    """A pagination token this server did not issue, or one for another request."""

    code = "InvalidToken"


class InvalidFormat(Invalid):
    """A value is not in its documented format (JSON, a timestamp...)."""

    code = "InvalidFormat"


class EmptyBatch(Invalid):
    """A batch request with no entries."""

    code = "EmptyBatch"


class DuplicateBatchIds(Invalid):
    """Two or more entries of one batch share an id."""

    code = "DuplicateBatchIds"


class Unauthorized(RexwatchError):
    code = "Unauthorized"
    status = 401


class Forbidden(RexwatchError):
    code = "Forbidden"
    status = 403


class InvalidDashboard(Invalid):
    """A dashboard body breaks the body schema; ``messages`` holds every problem with its data path."""

    code = "InvalidDashboard"

    def __init__(self, messages: list) -> None:
        self.messages = list(messages)
        detail = "; ".join(f"{m.data_path or '/'}: {m.message}" for m in self.messages[:20])
        n = len(self.messages)
        super().__init__(f"The dashboard body is invalid, there {'is' if n == 1 else 'are'} {n} validation "
                         f"error{'' if n == 1 else 's'}: {detail}")


class NotFound(RexwatchError):
    code = "NotFound"
    status = 404


class Conflict(RexwatchError):
    code = "Conflict"
    status = 409


class AlreadyExists(Conflict):
    """A resource with that name exists."""

    code = "AlreadyExists"


class Protected(Conflict):
    """The resource is protected from this change (deletion protection...)."""

    code = "Protected"


class LimitExceeded(RexwatchError):
    code = "LimitExceeded"
    status = 400


class QueryTimeout(LimitExceeded):
    """A telemetry query ran longer than its time limit (``telemetry_max_execution_s``)."""

    code = "QueryTimeout"


class QueryMemoryExceeded(LimitExceeded):
    """A telemetry query needed more memory than its limit (``telemetry_max_memory_mb``)."""

    code = "QueryMemoryExceeded"


class TooManyEntries(LimitExceeded):
    """A batch holds more entries than allowed."""

    code = "TooManyEntries"


class TagLimitExceeded(LimitExceeded):
    """A resource would carry more tags than allowed."""

    code = "TagLimitExceeded"


class Throttled(RexwatchError):
    code = "Throttled"
    status = 429


class Unavailable(RexwatchError):
    code = "Unavailable"
    status = 503


class ConfigError(Exception):
    """Settings are unusable. The message is one line naming the problem."""
