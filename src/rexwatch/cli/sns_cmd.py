"""``rexwatch sns …``: the AWS CLI's sns commands plus rexwatch's own."""

from __future__ import annotations

from rexwatch.cli.aws_mirror import AwsMirrorGroup

sns = AwsMirrorGroup(
    "sns", aws_service="sns", help="AWS CLI 'sns' operations against rexwatch, plus rexwatch's own commands."
)
