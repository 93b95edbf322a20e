"""REST shapes of /api/v1/logs. Groups, streams and events keep the AWS member names
(``logGroupName``, ``ingestionTime``...), so a REST client and an AWS client read the same fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from rexwatch.services.logs.model import FieldIndex, IndexPolicy, LogEvent, LogGroup, LogStream, PutResult


class GroupCreate(BaseModel):
    name: str
    retention_days: int | None = None
    log_group_class: str | None = None
    tags: dict[str, str] | None = None


class StreamCreate(BaseModel):
    group: str
    name: str


class Retention(BaseModel):
    group: str
    days: int


class PutEvents(BaseModel):
    group: str
    stream: str
    events: list[dict[str, Any]] | None = Field(
        None, description="[{timestamp: epoch ms, message}], chronological; or send timestamps and messages")
    # The same events as two parallel lists: a body about a fifth cheaper to build and to read for a
    # client that ships thousands of lines a second (the Python SDK).
    timestamps: list[Any] | None = Field(None, description="epoch ms of each event, chronological (with messages)")
    messages: list[Any] | None = Field(None, description="each event's message, as long as timestamps")


class FilterRequest(BaseModel):
    groups: list[str] = Field(default_factory=list)
    group_prefix: str | None = None
    streams: list[str] | None = None
    stream_prefix: str | None = None
    start: str | int | None = None
    end: str | int | None = None
    pattern: str | None = None
    limit: int | None = None
    next_token: str | None = None


class IndexPolicyIn(BaseModel):
    group: str
    fields: list[str]


class LogGroupOut(BaseModel):
    logGroupName: str
    creationTime: int
    metricFilterCount: int
    arn: str
    logGroupArn: str
    storedBytes: int
    logGroupClass: str
    deletionProtectionEnabled: bool
    retentionInDays: int | None = Field(None, description="absent when events never expire")
    kmsKeyId: str | None = None

    @classmethod
    def of(cls, g: LogGroup) -> LogGroupOut:
        extra: dict[str, Any] = {}
        if g.retention_days:
            extra["retentionInDays"] = g.retention_days
        if g.kms_key_id:
            extra["kmsKeyId"] = g.kms_key_id
        return cls(logGroupName=g.name, creationTime=g.created_ms, metricFilterCount=g.metric_filter_count,
                   arn=g.arn + ":*", logGroupArn=g.arn, storedBytes=g.stored_bytes,
                   logGroupClass=g.log_group_class, deletionProtectionEnabled=g.deletion_protection, **extra)


class GroupPage(BaseModel):
    groups: list[LogGroupOut]
    next_token: str | None


class LogStreamOut(BaseModel):
    logStreamName: str
    creationTime: int
    arn: str
    storedBytes: int
    firstEventTimestamp: int | None = Field(None, description="absent until the stream has events")
    lastEventTimestamp: int | None = None
    lastIngestionTime: int | None = None

    @classmethod
    def of(cls, s: LogStream) -> LogStreamOut:
        extra: dict[str, Any] = {}
        if s.first_event_ms is not None:
            extra = {"firstEventTimestamp": s.first_event_ms, "lastEventTimestamp": s.last_event_ms,
                     "lastIngestionTime": s.last_ingestion_ms}
        return cls(logStreamName=s.name, creationTime=s.created_ms, arn=s.arn, storedBytes=s.stored_bytes, **extra)


class StreamPage(BaseModel):
    streams: list[LogStreamOut]
    next_token: str | None


class RejectedOut(BaseModel):
    tooNewLogEventStartIndex: int | None = None
    tooOldLogEventEndIndex: int | None = None
    expiredLogEventEndIndex: int | None = None


class PutResultOut(BaseModel):
    nextSequenceToken: str
    rejectedLogEventsInfo: RejectedOut | None = Field(None, description="present when some events were skipped")

    @classmethod
    def of(cls, r: PutResult) -> PutResultOut:
        if not r.rejected:
            return cls(nextSequenceToken=r.next_sequence_token)
        info = {k: v for k, v in (("tooNewLogEventStartIndex", r.rejected.too_new_start),
                                  ("tooOldLogEventEndIndex", r.rejected.too_old_end),
                                  ("expiredLogEventEndIndex", r.rejected.expired_end)) if v is not None}
        return cls(nextSequenceToken=r.next_sequence_token, rejectedLogEventsInfo=RejectedOut(**info))


# Event pages are rendered straight to JSON (a page holds up to 10,000 events); these models
# document their shape in the OpenAPI document.
class FilteredEventOut(BaseModel):
    logStreamName: str
    timestamp: int
    message: str
    ingestionTime: int
    eventId: str
    logGroupName: str | None = Field(None, description="when the search spans several groups, and in tail")


class OutputEventOut(BaseModel):
    timestamp: int
    message: str
    ingestionTime: int


class FilterPage(BaseModel):
    events: list[FilteredEventOut]
    next_token: str | None
    snapshot_seq: int | None = Field(description="the highest seq the search covers: follow from here")


class TailPage(BaseModel):
    events: list[FilteredEventOut]
    last_seq: int | None = Field(description="pass back as after_seq")


class StreamEventsPage(BaseModel):
    events: list[OutputEventOut]
    next_forward_token: str
    next_backward_token: str


def filtered_events(events: list[LogEvent]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        d = {"logStreamName": e.log_stream, "timestamp": e.timestamp, "message": e.message,
             "ingestionTime": e.ingestion_time, "eventId": e.event_id}
        if e.log_group is not None:
            d["logGroupName"] = e.log_group
        out.append(d)
    return out


def output_events(events: list[LogEvent]) -> list[dict[str, Any]]:
    return [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time} for e in events]


class IndexPolicyOut(BaseModel):
    logGroupIdentifier: str
    lastUpdateTime: int | None
    policyDocument: str
    policyName: str
    source: str

    @classmethod
    def of(cls, p: IndexPolicy) -> IndexPolicyOut:
        return cls(logGroupIdentifier=p.group_arn, lastUpdateTime=p.updated_ms, policyDocument=p.document,
                   policyName=p.name, source=p.source)


class FieldIndexOut(BaseModel):
    logGroupIdentifier: str
    fieldIndexName: str
    lastScanTime: int | None
    type: str = "FIELD_INDEX"

    @classmethod
    def of(cls, f: FieldIndex) -> FieldIndexOut:
        return cls(logGroupIdentifier=f.group_arn, fieldIndexName=f.field_name, lastScanTime=f.last_scan_ms,
                   type="FIELD_INDEX")


class IndexPolicies(BaseModel):
    policies: list[IndexPolicyOut]
    field_indexes: list[FieldIndexOut]
