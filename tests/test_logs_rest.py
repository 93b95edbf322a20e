"""Logs over the native REST API."""

from __future__ import annotations

import io
import time

import pyarrow as pa


def now_ms() -> int:
    return int(time.time() * 1000)


def test_rest_groups_events_filter_tail(client):
    r = client.post("/api/v1/logs/groups", json={"name": "/aws/ecs/utm-api", "retention_days": 30})
    assert r.status_code == 201 and r.json()["retentionInDays"] == 30
    assert client.post("/api/v1/logs/groups", json={"name": "/aws/ecs/utm-api"}).status_code == 409
    assert client.post("/api/v1/logs/streams", json={"group": "/aws/ecs/utm-api", "name": "s"}).status_code == 201
    t = now_ms() - 10_000
    events = [{"timestamp": t + i, "message": "ERROR boom" if i % 2 else "INFO fine"} for i in range(10)]
    r = client.post("/api/v1/logs/events", json={"group": "/aws/ecs/utm-api", "stream": "s", "events": events})
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/logs/filter", json={"group_prefix": "/aws/ecs/", "pattern": "ERROR", "limit": 3})
    body = r.json()
    assert [e["timestamp"] for e in body["events"]] == [t + 1, t + 3, t + 5] and body["next_token"]
    r = client.post("/api/v1/logs/filter", json={"groups": ["/aws/ecs/utm-api"], "pattern": "ERROR",
                                                 "next_token": body["next_token"]})
    assert [e["timestamp"] for e in r.json()["events"]] == [t + 7, t + 9]

    cur = client.get("/api/v1/logs/cursor", params={"group": "/aws/ecs/utm-api"}).json()["last_seq"]
    client.post("/api/v1/logs/events", json={"group": "/aws/ecs/utm-api", "stream": "s",
                                             "events": [{"timestamp": t + 20, "message": "ERROR new"}]})
    tail = client.get("/api/v1/logs/tail", params={"group": "/aws/ecs/utm-api", "after_seq": cur}).json()
    assert [e["message"] for e in tail["events"]] == ["ERROR new"] and tail["last_seq"] > cur
    again = client.get("/api/v1/logs/tail", params={"group": "/aws/ecs/utm-api", "after_seq": tail["last_seq"]})
    assert again.json()["events"] == []

    got = client.get("/api/v1/logs/events", params={"group": "/aws/ecs/utm-api", "stream": "s",
                                                    "start_from_head": "true", "limit": 2}).json()
    assert [e["message"] for e in got["events"]] == ["INFO fine", "ERROR boom"]

    r = client.get("/api/v1/logs/export", params={"group": "/aws/ecs/utm-api", "start": "1h", "end": "now"})
    assert r.status_code == 200 and r.headers["x-total-events"] == "11"
    table = pa.ipc.open_stream(io.BytesIO(r.content)).read_all()
    assert table.num_rows == 11 and table.column("log_stream").to_pylist() == ["s"] * 11


def test_rest_errors_are_clear_4xx(client):
    r = client.post("/api/v1/logs/filter", json={"groups": ["/nope"]})
    assert r.status_code == 404 and "/nope" in r.json()["error"]["message"]
    r = client.post("/api/v1/logs/groups", json={"name": "bad name"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "logGroupName"
    client.post("/api/v1/logs/groups", json={"name": "g"})
    r = client.put("/api/v1/logs/retention", json={"group": "g", "days": 2})
    assert r.status_code == 400 and "retentionInDays" in r.json()["error"]["message"]
    r = client.post("/api/v1/logs/filter", json={"groups": ["g"], "pattern": '"open'})
    assert r.status_code == 400 and "position" in r.json()["error"]
    r = client.post("/api/v1/logs/filter", json={"groups": ["g"], "next_token": "garbage"})
    assert r.status_code == 400 and "nextToken" in r.json()["error"]["message"]


def test_rest_events_as_parallel_lists(client):
    client.post("/api/v1/logs/groups", json={"name": "/cols"})
    client.post("/api/v1/logs/streams", json={"group": "/cols", "name": "s"})
    t = now_ms() - 10_000
    body = {"group": "/cols", "stream": "s", "timestamps": [t, t + 1, t + 2], "messages": ["a", '{"b":1}', "ü"]}
    r = client.post("/api/v1/logs/events", json=body)
    assert r.status_code == 200 and r.json()["nextSequenceToken"] and "rejectedLogEventsInfo" not in r.json()
    got = client.get("/api/v1/logs/events", params={"group": "/cols", "stream": "s", "start_from_head": "true"})
    assert [(e["timestamp"], e["message"]) for e in got.json()["events"]] == list(zip(body["timestamps"],
                                                                                       body["messages"], strict=True))
    # The same limits as the events shape: 15 days old is skipped and reported (an exclusive end, as for events).
    old = now_ms() - 15 * 86_400_000
    r = client.post("/api/v1/logs/events", json={**body, "timestamps": [old, old + 1, old + 2]})
    assert r.status_code == 200 and r.json()["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 3}


def test_rest_events_as_parallel_lists_hostile(client):
    client.post("/api/v1/logs/groups", json={"name": "/cols-bad"})
    client.post("/api/v1/logs/streams", json={"group": "/cols-bad", "name": "s"})
    t = now_ms()
    base = {"group": "/cols-bad", "stream": "s"}
    cases = [
        ({"timestamps": [t, t + 1], "messages": ["a"]}, "messages"),
        ({"timestamps": [t], "messages": None}, "messages"),
        ({"timestamps": [], "messages": []}, "timestamps"),
        ({"timestamps": ["soon"], "messages": ["a"]}, "timestamps"),
        ({"timestamps": [2 ** 70], "messages": ["a"]}, "timestamps"),
        ({"timestamps": [t], "messages": [{"not": "text"}]}, "messages"),
        ({"timestamps": [t], "messages": [None]}, "messages"),
        ({"timestamps": [t], "messages": ["a"], "events": [{"timestamp": t, "message": "a"}]}, "timestamps"),
        ({}, "events"),
        ({"timestamps": [t + 1, t], "messages": ["a", "b"]}, None),  # out of order, as for events
    ]
    for extra, field in cases:
        r = client.post("/api/v1/logs/events", json={**base, **extra})
        assert r.status_code == 400, (extra, r.text)
        if field:
            assert r.json()["error"]["field"] == field, (extra, r.text)
