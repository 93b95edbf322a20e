"""Bad input never gets a 500: every REST route and every AWS operation, fed garbage."""

from __future__ import annotations

import itertools

from rexwatch.aws.registry import HANDLERS

GARBAGE_BODIES = [None, {}, {"name": 123, "group": ["x"]}, [], "x",
                  {"group": "nope", "stream": "s", "events": [{"timestamp": "x", "message": 1}]}]


def test_rest_routes_answer_bad_input_with_4xx(client):
    doc = client.get("/api/v1/openapi.json").json()
    failures = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            url = path
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", "zz%2Fnope")
            queries = [{}, {p["name"]: "bad" for p in op.get("parameters", []) if p["in"] == "query"},
                       {p["name"]: "-1" for p in op.get("parameters", []) if p["in"] == "query"}]
            for body, query in itertools.product(GARBAGE_BODIES, queries):
                kw = {"params": query} if body is None else {"params": query, "json": body}
                r = client.request(method.upper(), url, **kw)
                if r.status_code >= 500:
                    failures.append((method, url, query, body, r.status_code, r.text[:120]))
    assert len(doc["paths"]) > 30
    assert failures == []


def test_aws_operations_answer_wrong_types_in_aws_shape(client):
    prefix = {"logs": "Logs_20140328", "cloudwatch": "GraniteServiceVersion20100801"}
    bodies = [b"{}", b"[1, 2]", b"null",
              b'{"logGroupName": 5, "AlarmName": [], "Namespace": {}, "MetricData": "x", "queryId": 1}',
              b'{"logGroupName": "/nope", "logStreamName": "s", "logEvents": [{"timestamp": "x"}], '
              b'"AlarmName": "a", "Namespace": "N", "MetricName": "m", "MetricData": [{"MetricName": "m"}]}']
    failures = []
    for service, op in sorted(HANDLERS):
        if service in prefix:
            for body in bodies:
                r = client.post("/", content=body, headers={"X-Amz-Target": f"{prefix[service]}.{op}",
                                                            "Content-Type": "application/x-amz-json-1.1"})
                if r.status_code >= 500 or (r.status_code >= 400 and "__type" not in r.json()):
                    failures.append((service, op, body[:40], r.status_code, r.text[:120]))
        elif service == "sns":
            for form in ({}, {"Name": "", "TopicArn": "x"},
                         {"TopicArn": "arn:aws:sns:us-east-1:1:nope", "Protocol": "zz", "Endpoint": "q"}):
                r = client.post("/", data={"Action": op, "Version": "2010-03-31", **form})
                if r.status_code >= 500 or (r.status_code >= 400 and "<ErrorResponse" not in r.text):
                    failures.append((service, op, form, r.status_code, r.text[:120]))
    assert len(HANDLERS) > 50
    assert failures == []


def test_wrong_type_names_the_member(client):
    r = client.post("/", content=b'{"logGroupName": 5}',
                    headers={"X-Amz-Target": "Logs_20140328.DescribeLogStreams"})
    assert r.status_code == 400
    assert r.json() == {"__type": "SerializationException", "message": "logGroupName must be a string, not a number"}
