"""CloudWatch Logs (JSON 1.1, ``Logs_20140328``): AWS shapes to LogsService calls and back.

The functions at the top are the codec: domain objects (``services.logs.model``)
to the AWS response members, as botocore's model names them.
"""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import Invalid
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import (
    FieldIndex,
    IndexPolicy,
    LogEvent,
    LogEventBatch,
    LogGroup,
    LogStream,
    PutResult,
)


def log_group(g: LogGroup) -> dict[str, Any]:
    out: dict[str, Any] = {
        "logGroupName": g.name,
        "creationTime": g.created_ms,
        "metricFilterCount": g.metric_filter_count,
        "arn": g.arn + ":*",
        "logGroupArn": g.arn,
        "storedBytes": g.stored_bytes,
        "logGroupClass": g.log_group_class,
        "deletionProtectionEnabled": g.deletion_protection,
    }
    if g.retention_days:
        out["retentionInDays"] = g.retention_days
    if g.kms_key_id:
        out["kmsKeyId"] = g.kms_key_id
    return out


def log_stream(s: LogStream) -> dict[str, Any]:
    out: dict[str, Any] = {"logStreamName": s.name, "creationTime": s.created_ms, "arn": s.arn,
                           "storedBytes": s.stored_bytes}
    if s.first_event_ms is not None:
        out.update(firstEventTimestamp=s.first_event_ms, lastEventTimestamp=s.last_event_ms,
                   lastIngestionTime=s.last_ingestion_ms)
    return out


def index_policy(p: IndexPolicy) -> dict[str, Any]:
    return {"logGroupIdentifier": p.group_arn, "lastUpdateTime": p.updated_ms, "policyDocument": p.document,
            "policyName": p.name, "source": p.source}


def field_index(f: FieldIndex) -> dict[str, Any]:
    return {"logGroupIdentifier": f.group_arn, "fieldIndexName": f.field_name, "lastScanTime": f.last_scan_ms,
            "type": "FIELD_INDEX"}


def filtered_event(e: LogEvent) -> dict[str, Any]:
    """A FilteredLogEvent (with logGroupName when the search spans groups)."""
    out = {"logStreamName": e.log_stream, "timestamp": e.timestamp, "message": e.message,
           "ingestionTime": e.ingestion_time, "eventId": e.event_id}
    if e.log_group is not None:
        out["logGroupName"] = e.log_group
    return out


def output_event(e: LogEvent) -> dict[str, Any]:
    """An OutputLogEvent (GetLogEvents)."""
    return {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}


def put_result(r: PutResult) -> dict[str, Any]:
    out: dict[str, Any] = {"nextSequenceToken": r.next_sequence_token}
    if r.rejected:
        info = {}
        if r.rejected.too_new_start is not None:
            info["tooNewLogEventStartIndex"] = r.rejected.too_new_start
        if r.rejected.too_old_end is not None:
            info["tooOldLogEventEndIndex"] = r.rejected.too_old_end
        if r.rejected.expired_end is not None:
            info["expiredLogEventEndIndex"] = r.rejected.expired_end
        out["rejectedLogEventsInfo"] = info
    return out


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
    out: dict[str, Any] = {"logGroups": [log_group(g) for g in groups]}
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
    out: dict[str, Any] = {"logStreams": [log_stream(s) for s in streams]}
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
    return {"indexPolicy": index_policy(_svc(ctx).put_index_policy(_req(p, "logGroupIdentifier"),
                                                                     _req(p, "policyDocument")))}


@handler("logs", "DescribeIndexPolicies")
def describe_index_policies(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"indexPolicies": [index_policy(x) for x in _svc(ctx).describe_index_policies(
        _req(p, "logGroupIdentifiers"))]}


@handler("logs", "DeleteIndexPolicy")
def delete_index_policy(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_index_policy(_req(p, "logGroupIdentifier"))
    return {}


@handler("logs", "DescribeFieldIndexes")
def describe_field_indexes(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"fieldIndexes": [field_index(f) for f in _svc(ctx).describe_field_indexes(
        _req(p, "logGroupIdentifiers"))]}


@handler("logs", "PutLogEvents")
def put_log_events(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    events = LogEventBatch.from_records(_req(p, "logEvents"))
    return put_result(_svc(ctx).put_log_events(_req(p, "logGroupName"), _req(p, "logStreamName"), events))


@handler("logs", "GetLogEvents")
def get_log_events(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    page = _svc(ctx).get_log_events(
        _group_param(p), _req(p, "logStreamName"), start_ms=p.get("startTime"), end_ms=p.get("endTime"),
        next_token=p.get("nextToken"), limit=p.get("limit"), start_from_head=p.get("startFromHead", False))
    return {"events": [output_event(e) for e in page.events], "nextForwardToken": page.next_forward_token,
            "nextBackwardToken": page.next_backward_token}


@handler("logs", "FilterLogEvents")
def filter_log_events(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    page = _svc(ctx).filter_log_events(
        [_group_param(p)], stream_names=p.get("logStreamNames"), stream_prefix=p.get("logStreamNamePrefix"),
        start_ms=p.get("startTime"), end_ms=p.get("endTime"), pattern=p.get("filterPattern"),
        limit=p.get("limit"), next_token=p.get("nextToken"))
    out: dict[str, Any] = {"events": [filtered_event(e) for e in page.events], "searchedLogStreams": []}
    if page.next_token:
        out["nextToken"] = page.next_token
    return out
