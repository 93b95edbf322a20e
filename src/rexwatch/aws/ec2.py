"""EC2 operations that Grafana's CloudWatch data source calls next to CloudWatch's: DescribeRegions
lists the server's region; there are no instances or tags to describe."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.errors import AwsError
from rexwatch.aws.registry import AwsContext, handler


@handler("ec2", "DescribeRegions")
def describe_regions(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    region = ctx.runtime.settings.region
    wanted = p.get("RegionNames")
    if wanted:
        unknown = [r for r in wanted if r != region]
        if unknown:
            raise AwsError("InvalidParameterValue",
                           f"Invalid region names: {', '.join(unknown)} (this server has only {region})")
    return {"Regions": [{"RegionName": region, "Endpoint": f"ec2.{region}.amazonaws.com",
                         "OptInStatus": "opt-in-not-required"}]}


@handler("ec2", "DescribeInstances")
def describe_instances(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"Reservations": []}


@handler("ec2", "DescribeTags")
def describe_tags(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": []}
