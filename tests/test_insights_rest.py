"""Logs Insights over the native REST API (/api/v1/insights)."""

from __future__ import annotations

import time


def _setup(client) -> None:
    assert client.post("/api/v1/logs/groups", json={"name": "/aws/ecs/utm-api"}).status_code == 201
    assert client.post("/api/v1/logs/streams", json={"group": "/aws/ecs/utm-api", "name": "s"}).status_code == 201
    t = int(time.time() * 1000) - 60_000
    events = [{"timestamp": t + i, "message": f'{{"path": "/api/{"users" if i % 3 else "tenants"}", "duration": {i}}}'}
              for i in range(9)]
    r = client.post("/api/v1/logs/events", json={"group": "/aws/ecs/utm-api", "stream": "s", "events": events})
    assert r.status_code == 200, r.text


def test_rest_query_lifecycle(client) -> None:
    _setup(client)
    r = client.post("/api/v1/insights/queries", json={
        "query": "stats count() as n, max(duration) by path | sort n desc", "groups": ["/aws/ecs/utm-api"],
        "start": "1h", "wait_s": 30})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "Complete"
    assert body["columns"] == ["path", "n", "max(duration)"]
    assert body["rows"] == [{"path": "/api/users", "n": "6", "max(duration)": "8"},
                            {"path": "/api/tenants", "n": "3", "max(duration)": "6"}]
    assert body["results"][0] == [{"field": "path", "value": "/api/users"}, {"field": "n", "value": "6"},
                                  {"field": "max(duration)", "value": "8"}]
    assert body["statistics"]["recordsScanned"] == 9
    qid = body["query_id"]
    assert client.get(f"/api/v1/insights/queries/{qid}").json()["rows"] == body["rows"]
    listed = client.get("/api/v1/insights/queries", params={"group": "/aws/ecs/utm-api"}).json()["queries"]
    assert [q["queryId"] for q in listed] == [qid]
    assert client.delete(f"/api/v1/insights/queries/{qid}").json() == {"success": False}


def test_rest_errors_are_4xx_with_position(client) -> None:
    _setup(client)
    r = client.post("/api/v1/insights/queries", json={"query": "stats count() by bin(5x)",
                                                      "groups": ["/aws/ecs/utm-api"]})
    assert r.status_code == 400
    assert "unknown time unit 'x'" in r.json()["error"]["message"]
    assert "column 23" in r.json()["error"]["message"]
    r = client.post("/api/v1/insights/queries", json={"query": "fields a", "groups": ["/missing"]})
    assert r.status_code == 404
    r = client.post("/api/v1/insights/queries", json={"query": "fields a", "groups": ["/aws/ecs/utm-api"],
                                                      "start": "yesterday-ish"})
    assert r.status_code == 400 and "start" in r.json()["error"]["message"]
    assert client.get("/api/v1/insights/queries/nope").status_code == 404


def test_rest_definitions(client) -> None:
    r = client.post("/api/v1/insights/definitions", json={"name": "errors", "query": "filter level = 'ERROR'",
                                                          "groups": ["/aws/ecs/utm-api"]})
    assert r.status_code == 201
    def_id = r.json()["id"]
    defs = client.get("/api/v1/insights/definitions").json()["definitions"]
    assert [(d["name"], d["queryString"]) for d in defs] == [("errors", "filter level = 'ERROR'")]
    r = client.put(f"/api/v1/insights/definitions/{def_id}", json={"name": "errors2", "query": "fields a"})
    assert r.status_code == 200
    assert client.get("/api/v1/insights/definitions").json()["definitions"][0]["name"] == "errors2"
    assert client.delete(f"/api/v1/insights/definitions/{def_id}").status_code == 204
    assert client.delete(f"/api/v1/insights/definitions/{def_id}").status_code == 404
    assert client.post("/api/v1/insights/definitions", json={"name": "x", "query": "limit"}).status_code == 400
