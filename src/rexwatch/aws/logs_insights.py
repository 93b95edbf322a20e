"""CloudWatch Logs Insights operations (JSON 1.1): AWS shapes to QueriesService calls and back."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import Invalid
from rexwatch.services.insights import QueriesService
from rexwatch.services.insights.model import QueryDefinition, QueryInfo, QueryResult, QueryStatistics


def statistics(s: QueryStatistics) -> dict[str, float]:
    return {"recordsMatched": s.records_matched, "recordsScanned": s.records_scanned,
            "bytesScanned": s.bytes_scanned, "logGroupsScanned": s.log_groups_scanned}


def result_rows(r: QueryResult) -> list[list[dict[str, str]]]:
    """Rows in the AWS shape: a list of {field, value} per row, fields without a value left out."""
    cols = r.columns
    return [[{"field": c, "value": v} for c, v in zip(cols, row, strict=True) if v is not None] for row in r.rows]


def query_info(q: QueryInfo) -> dict[str, Any]:
    return {"queryLanguage": "CWLI", "queryId": q.query_id, "queryString": q.query_string, "status": q.status,
            "createTime": q.create_ms, "logGroupName": q.log_group, "queryDuration": q.duration_ms,
            "bytesScanned": q.bytes_scanned}


def query_definition(d: QueryDefinition) -> dict[str, Any]:
    return {"queryLanguage": "CWLI", "queryDefinitionId": d.id, "name": d.name, "queryString": d.query_string,
            "lastModified": d.last_modified_ms, "logGroupNames": list(d.log_group_names)}


def _svc(ctx: AwsContext) -> QueriesService:
    return ctx.runtime.service(QueriesService)


def _language(p: dict[str, Any]) -> None:
    lang = p.get("queryLanguage")
    if lang not in (None, "CWLI"):
        raise Invalid(f"queryLanguage {lang} is not supported: rexwatch runs Logs Insights QL (CWLI)",
                      field="queryLanguage")


@handler("logs", "StartQuery")
def start_query(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _language(p)
    given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if p.get(k)]
    if len(given) > 1:
        raise Invalid(f"{' and '.join(given)} cannot be used together", field=given[1])
    groups = [p["logGroupName"]] if p.get("logGroupName") else list(p.get(given[0], []) if given else [])
    for name in ("startTime", "endTime", "queryString"):
        if p.get(name) is None:
            raise Invalid(f"{name} is required", field=name)
    query_id = _svc(ctx).start_query(p["queryString"], group_names=groups, start_s=p["startTime"],
                                     end_s=p["endTime"], limit=p.get("limit"))
    return {"queryId": query_id}


@handler("logs", "GetQueryResults")
def get_query_results(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    res = _svc(ctx).get_query_results(p.get("queryId"))
    return {"queryLanguage": "CWLI", "status": res.status, "statistics": statistics(res.statistics),
            "results": result_rows(res)}


@handler("logs", "StopQuery")
def stop_query(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"success": _svc(ctx).stop_query(p.get("queryId"))}


@handler("logs", "DescribeQueries")
def describe_queries(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _language(p)
    queries, token = _svc(ctx).describe_queries(group_name=p.get("logGroupName"), status=p.get("status"),
                                                max_results=p.get("maxResults"), next_token=p.get("nextToken"))
    out: dict[str, Any] = {"queries": [query_info(q) for q in queries]}
    if token:
        out["nextToken"] = token
    return out


@handler("logs", "PutQueryDefinition")
def put_query_definition(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _language(p)
    def_id = _svc(ctx).put_query_definition(p.get("name"), p.get("queryString"),
                                            group_names=p.get("logGroupNames"),
                                            definition_id=p.get("queryDefinitionId"))
    return {"queryDefinitionId": def_id}


@handler("logs", "DescribeQueryDefinitions")
def describe_query_definitions(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _language(p)
    defs, token = _svc(ctx).describe_query_definitions(prefix=p.get("queryDefinitionNamePrefix"),
                                                       max_results=p.get("maxResults"),
                                                       next_token=p.get("nextToken"))
    out: dict[str, Any] = {"queryDefinitions": [query_definition(d) for d in defs]}
    if token:
        out["nextToken"] = token
    return out


@handler("logs", "DeleteQueryDefinition")
def delete_query_definition(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"success": _svc(ctx).delete_query_definition(p.get("queryDefinitionId"))}
