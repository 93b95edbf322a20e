"""``rexwatch cloudwatch …``: the AWS CLI's cloudwatch commands plus rexwatch's own."""

from __future__ import annotations

from rexwatch.cli.aws_mirror import AwsMirrorGroup

cloudwatch = AwsMirrorGroup(
    "cloudwatch",
    aws_service="cloudwatch",
    help="AWS CLI 'cloudwatch' operations against rexwatch, plus rexwatch's own commands.",
)
