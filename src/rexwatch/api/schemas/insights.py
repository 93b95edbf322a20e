"""REST shapes of /api/v1/insights. Statistics and listed queries keep the AWS member names;
a result carries its rows both as objects keyed by column and in the AWS field/value form."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rexwatch.services.insights.model import QueryDefinition, QueryInfo, QueryResult, QueryStatistics


class StartQuery(BaseModel):
    query: str = Field(description="Logs Insights query text")
    groups: list[str] = Field(description="log group names or ARNs (1-50)")
    start: str | int | None = Field(None, description="ISO-8601, epoch s/ms or relative (1h); default 1h ago")
    end: str | int | None = Field(None, description="same forms; default now")
    limit: int | None = None
    wait_s: float = Field(0, ge=0, le=300, description="wait up to this long for the result")


class Definition(BaseModel):
    name: str
    query: str
    groups: list[str] = Field(default_factory=list)


class StatisticsOut(BaseModel):
    recordsMatched: float
    recordsScanned: float
    bytesScanned: float
    logGroupsScanned: float

    @classmethod
    def of(cls, s: QueryStatistics) -> StatisticsOut:
        return cls(recordsMatched=s.records_matched, recordsScanned=s.records_scanned,
                   bytesScanned=s.bytes_scanned, logGroupsScanned=s.log_groups_scanned)


class ResultField(BaseModel):
    field: str
    value: str


class QueryResultOut(BaseModel):
    query_id: str
    status: str = Field(description="Scheduled, Running, Complete, Failed, Cancelled or Timeout")
    columns: list[str]
    rows: list[dict[str, str | None]] = Field(description="one object per row, keyed by column")
    results: list[list[ResultField]] = Field(description="the rows as GetQueryResults returns them")
    statistics: StatisticsOut
    error: str | None = Field(None, description="why the query failed or timed out")

    @classmethod
    def of(cls, r: QueryResult, columns: list[str]) -> QueryResultOut:
        results = [[ResultField(field=c, value=v) for c, v in zip(r.columns, row, strict=True) if v is not None]
                   for row in r.rows]
        rows = [{f.field: f.value for f in row} for row in results]
        extra = {"error": r.error} if r.error else {}
        return cls(query_id=r.query_id, status=r.status, columns=columns, rows=rows, results=results,
                   statistics=StatisticsOut.of(r.statistics), **extra)


class QueryInfoOut(BaseModel):
    queryLanguage: str
    queryId: str
    queryString: str
    status: str
    createTime: int
    logGroupName: str
    queryDuration: int
    bytesScanned: float

    @classmethod
    def of(cls, q: QueryInfo) -> QueryInfoOut:
        return cls(queryLanguage="CWLI", queryId=q.query_id, queryString=q.query_string, status=q.status,
                   createTime=q.create_ms, logGroupName=q.log_group, queryDuration=q.duration_ms,
                   bytesScanned=q.bytes_scanned)


class QueryList(BaseModel):
    queries: list[QueryInfoOut]
    next_token: str | None


class DefinitionOut(BaseModel):
    queryLanguage: str
    queryDefinitionId: str
    name: str
    queryString: str
    lastModified: int
    logGroupNames: list[str]

    @classmethod
    def of(cls, d: QueryDefinition) -> DefinitionOut:
        return cls(queryLanguage="CWLI", queryDefinitionId=d.id, name=d.name, queryString=d.query_string,
                   lastModified=d.last_modified_ms, logGroupNames=list(d.log_group_names))


class DefinitionList(BaseModel):
    definitions: list[DefinitionOut]
    next_token: str | None
