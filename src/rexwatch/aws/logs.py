"""CloudWatch Logs (JSON 1.1, ``Logs_20140328``): translate AWS shapes to LogsService calls."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import Invalid
from rexwatch.services.logs import LogsService


def _svc(ctx: AwsContext) -> LogsService:
    return ctx.runtime.service(LogsService)


def _req(p: dict[str, Any], name: str) -> Any:
    if p.get(name) is None:
        raise Invalid(f"{name} is required", field=name)
    return p[name]


def _group_param(p: dict[str, Any]) -> str:
    name = p.get("logGroupName") or p.get("logGroupIdentifier")
    if not name:
        raise Invalid("logGroupName or logGroupIdentifier is required", field="logGroupName")
    if p.get("logGroupName") and p.get("logGroupIdentifier"):
        raise Invalid("logGroupName and logGroupIdentifier cannot be used together", field="logGroupIdentifier")
    return name


@handler("logs", "CreateLogGroup")
def create_log_group(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).create_log_group(_req(p, "logGroupName"), kms_key_id=p.get("kmsKeyId"), tags=p.get("tags"),
                               log_group_class=p.get("logGroupClass"),
                               deletion_protection=p.get("deletionProtectionEnabled", False))
    return {}


@handler("logs", "DescribeLogGroups")
def describe_log_groups(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    names = p.get("logGroupIdentifiers")
    groups, token = _svc(ctx).describe_log_groups(
        prefix=p.get("logGroupNamePrefix"), pattern=p.get("logGroupNamePattern"), next_token=p.get("nextToken"),
        limit=p.get("limit"), names=[n.split(":log-group:")[-1].removesuffix(":*") for n in names] if names else None)
    out: dict[str, Any] = {"logGroups": groups}
    if token:
        out["nextToken"] = token
    return out


@handler("logs", "DeleteLogGroup")
def delete_log_group(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_log_group(_req(p, "logGroupName"))
    return {}


@handler("logs", "CreateLogStream")
def create_log_stream(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).create_log_stream(_req(p, "logGroupName"), _req(p, "logStreamName"))
    return {}


@handler("logs", "DescribeLogStreams")
def describe_log_streams(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    streams, token = _svc(ctx).describe_log_streams(
        _group_param(p), prefix=p.get("logStreamNamePrefix"), order_by=p.get("orderBy"),
        descending=bool(p.get("descending")), next_token=p.get("nextToken"), limit=p.get("limit"))
    out: dict[str, Any] = {"logStreams": streams}
    if token:
        out["nextToken"] = token
    return out


@handler("logs", "DeleteLogStream")
def delete_log_stream(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_log_stream(_req(p, "logGroupName"), _req(p, "logStreamName"))
    return {}


@handler("logs", "PutRetentionPolicy")
def put_retention_policy(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).put_retention_policy(_req(p, "logGroupName"), _req(p, "retentionInDays"))
    return {}


@handler("logs", "DeleteRetentionPolicy")
def delete_retention_policy(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_retention_policy(_req(p, "logGroupName"))
    return {}


@handler("logs", "PutIndexPolicy")
def put_index_policy(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"indexPolicy": _svc(ctx).put_index_policy(_req(p, "logGroupIdentifier"), _req(p, "policyDocument"))}


@handler("logs", "DescribeIndexPolicies")
def describe_index_policies(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"indexPolicies": _svc(ctx).describe_index_policies(_req(p, "logGroupIdentifiers"))}


@handler("logs", "DeleteIndexPolicy")
def delete_index_policy(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_index_policy(_req(p, "logGroupIdentifier"))
    return {}


@handler("logs", "DescribeFieldIndexes")
def describe_field_indexes(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"fieldIndexes": _svc(ctx).describe_field_indexes(_req(p, "logGroupIdentifiers"))}


@handler("logs", "PutLogEvents")
def put_log_events(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return _svc(ctx).put_log_events(_req(p, "logGroupName"), _req(p, "logStreamName"), _req(p, "logEvents"))


@handler("logs", "GetLogEvents")
def get_log_events(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    page = _svc(ctx).get_log_events(
        _group_param(p), _req(p, "logStreamName"), start_ms=p.get("startTime"), end_ms=p.get("endTime"),
        next_token=p.get("nextToken"), limit=p.get("limit"), start_from_head=p.get("startFromHead", False))
    return {"events": page.events, "nextForwardToken": page.next_token, "nextBackwardToken": page.backward_token}


@handler("logs", "FilterLogEvents")
def filter_log_events(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    page = _svc(ctx).filter_log_events(
        [_group_param(p)], stream_names=p.get("logStreamNames"), stream_prefix=p.get("logStreamNamePrefix"),
        start_ms=p.get("startTime"), end_ms=p.get("endTime"), pattern=p.get("filterPattern"),
        limit=p.get("limit"), next_token=p.get("nextToken"))
    out: dict[str, Any] = {"events": page.events, "searchedLogStreams": []}
    if page.next_token:
        out["nextToken"] = page.next_token
    return out


@handler("logs", "TestMetricFilter")
def test_metric_filter(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"matches": _svc(ctx).test_metric_filter(_req(p, "filterPattern"), _req(p, "logEventMessages"))}
