"""The one mapping from domain errors to AWS error codes, per service."""

from __future__ import annotations

from rexwatch.errors import (
    Conflict,
    DuplicateBatchIds,
    EmptyBatch,
    FieldPath,
    Forbidden,
    Invalid,
    InvalidCombination,
    InvalidDashboard,
    InvalidExpression,
    InvalidFormat,
    InvalidToken,
    LimitExceeded,
    MissingParameter,
    NotFound,
    PatternError,
    Protected,
    QueryError,
    RexwatchError,
    TagLimitExceeded,
    Throttled,
    TooManyEntries,
    Unauthorized,
    Unavailable,
)


class AwsError(Exception):
    """An error already in AWS terms: code, message, HTTP status and fault side.

    ``extra`` holds the members an error shape adds beside its message (MalformedQueryException's
    ``queryCompileError``); protocols that carry them write them into the error body.
    """

    def __init__(
        self, code: str, message: str, status: int = 400, sender: bool = True, extra: dict | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender
        self.extra = extra or {}


# (domain error class, service) -> AWS error code; service None is the fallback.
_CODES: dict[tuple[type[RexwatchError], str | None], str] = {
    (PatternError, "logs"): "InvalidParameterException",
    (QueryError, "logs"): "MalformedQueryException",
    (Protected, "logs"): "OperationAbortedException",
    (NotFound, "logs"): "ResourceNotFoundException",
    (Invalid, "logs"): "InvalidParameterException",
    (Conflict, "logs"): "ResourceAlreadyExistsException",
    (LimitExceeded, "logs"): "LimitExceededException",
    (Throttled, "logs"): "ThrottlingException",
    (Unavailable, "logs"): "ServiceUnavailableException",
    (InvalidDashboard, "cloudwatch"): "InvalidParameterInput",
    (MissingParameter, "cloudwatch"): "MissingParameter",
    (InvalidCombination, "cloudwatch"): "InvalidParameterCombination",
    (InvalidToken, "cloudwatch"): "InvalidNextToken",
    (InvalidFormat, "cloudwatch"): "InvalidFormat",
    (InvalidExpression, "cloudwatch"): "ValidationError",
    (NotFound, "cloudwatch"): "ResourceNotFound",
    (Invalid, "cloudwatch"): "InvalidParameterValue",
    (Conflict, "cloudwatch"): "InvalidParameterValue",
    (LimitExceeded, "cloudwatch"): "LimitExceeded",
    (Throttled, "cloudwatch"): "Throttling",
    (Unavailable, "cloudwatch"): "InternalServiceError",
    (EmptyBatch, "sns"): "EmptyBatchRequest",
    (DuplicateBatchIds, "sns"): "BatchEntryIdsNotDistinct",
    (TooManyEntries, "sns"): "TooManyEntriesInBatchRequest",
    (TagLimitExceeded, "sns"): "TagLimitExceeded",
    (NotFound, "sns"): "NotFound",
    (Invalid, "sns"): "InvalidParameter",
    (Conflict, "sns"): "InvalidParameter",
    (LimitExceeded, "sns"): "TopicLimitExceeded",
    (Throttled, "sns"): "Throttled",
    (Unavailable, "sns"): "InternalError",
    (NotFound, "elbv2"): "TargetGroupNotFound",
    (Invalid, "elbv2"): "ValidationError",
    (Conflict, "elbv2"): "DuplicateTargetGroupName",
    (Unauthorized, None): "UnrecognizedClientException",
    (Forbidden, None): "AccessDeniedException",
    (Throttled, None): "ThrottlingException",
    (InvalidToken, None): "InvalidNextTokenException",
    (Invalid, None): "ValidationException",
    (NotFound, None): "ResourceNotFoundException",
}


def query_path(path: FieldPath) -> str:
    """A field path as the AWS query protocol spells it: ``Dimensions.member.1.Name``."""
    return ".".join(f"member.{p}" if isinstance(p, int) else p for p in path)


def to_aws(exc: RexwatchError, service: str) -> AwsError:
    code = "InternalFailure"
    for cls in type(exc).__mro__:
        if (cls, service) in _CODES:
            code = _CODES[(cls, service)]
            break
        if (cls, None) in _CODES:
            code = _CODES[(cls, None)]
            break
    status = exc.status if exc.status < 500 else 500
    if status == 404 or status == 409:
        status = 400  # AWS JSON/query services answer client faults with 400
    extra = None
    if code == "MalformedQueryException" and isinstance(exc, QueryError):
        # Where the query went wrong, as StartQuery reports it (offsets into the query string).
        extra = {
            "queryCompileError": {
                "location": {"startCharOffset": exc.start, "endCharOffset": exc.end},
                "message": exc.detail,
            }
        }
    if isinstance(exc, InvalidDashboard):
        # PutDashboard's DashboardInvalidInputError lists every problem with its data path.
        extra = {"dashboardValidationMessages": [{"DataPath": m.data_path, "Message": m.message}
                                                 for m in exc.messages]}
    return AwsError(code, exc.render(query_path), status, sender=status < 500, extra=extra)
