"""The one mapping from domain errors to AWS error codes, per service."""

from __future__ import annotations

from rexwatch.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
    QueryError,
    RexwatchError,
    Throttled,
    Unauthorized,
    Unavailable,
)


class AwsError(Exception):
    """An error already in AWS terms: code, message, HTTP status and fault side."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender


# (domain error class, service) -> AWS error code; service None is the fallback.
_CODES: dict[tuple[type[RexwatchError], str | None], str] = {
    (QueryError, "logs"): "MalformedQueryException",
    (NotFound, "logs"): "ResourceNotFoundException",
    (Invalid, "logs"): "InvalidParameterException",
    (Conflict, "logs"): "ResourceAlreadyExistsException",
    (LimitExceeded, "logs"): "LimitExceededException",
    (Throttled, "logs"): "ThrottlingException",
    (Unavailable, "logs"): "ServiceUnavailableException",
    (NotFound, "cloudwatch"): "ResourceNotFound",
    (Invalid, "cloudwatch"): "InvalidParameterValue",
    (Conflict, "cloudwatch"): "InvalidParameterValue",
    (LimitExceeded, "cloudwatch"): "LimitExceeded",
    (Throttled, "cloudwatch"): "Throttling",
    (Unavailable, "cloudwatch"): "InternalServiceError",
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
    (Invalid, None): "ValidationException",
    (NotFound, None): "ResourceNotFoundException",
}


def to_aws(exc: RexwatchError, service: str) -> AwsError:
    if exc.aws_code:
        code = exc.aws_code
    else:
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
    return AwsError(code, exc.message, status, sender=status < 500)
