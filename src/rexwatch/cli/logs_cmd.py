"""``rexwatch logs …``: the AWS CLI's logs commands plus rexwatch's own."""

from __future__ import annotations

from rexwatch.cli.aws_mirror import AwsMirrorGroup

logs = AwsMirrorGroup(
    "logs",
    aws_service="logs",
    help="AWS CLI 'logs' operations against rexwatch, plus rexwatch's own commands.",
)
