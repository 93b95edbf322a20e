"""Hostile input to every REST operation: schemathesis over the server's own OpenAPI document.

Each operation of /api/v1/openapi.json gets requests that fit the document and requests that
break it (wrong types, missing members, NUL bytes, out-of-range numbers), sent over real HTTP
to a live server. Whatever comes back is a success or a 4xx whose body is the one REST error
shape, ``{"error": {"code": ..., "message": ...}}`` with a non-empty message; never a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from hostile import hostile_settings
from rexwatch.testing import LiveServer, make_runtime

EXAMPLES = 10


@pytest.fixture(scope="module")
def rest_server(tmp_path_factory: pytest.TempPathFactory, chdb_engine) -> Iterator[LiveServer]:
    rt = make_runtime(tmp_path_factory.mktemp("hostile-rest") / "data", chdb_engine, workers="none")
    with LiveServer(rt, run_workers=False) as srv:
        yield srv
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


@pytest.fixture(scope="module")
def rest_schema(rest_server: LiveServer) -> Any:
    schema = schemathesis.openapi.from_url(f"{rest_server.url}/api/v1/openapi.json")
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, deterministic=True,
        allow_x00=True, no_shrink=True)
    # The coverage phase sends every boundary value of every parameter (about 30 requests per
    # operation); random positive and negative requests, bounded per operation, fit CI's minutes.
    schema.config.phases.coverage.enabled = False
    return schema


schema = schemathesis.pytest.from_fixture("rest_schema")


def assert_rest_reply(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, f"{what}: {response.text[:300]}"
        assert isinstance(body["error"].get("code"), str) and body["error"]["code"], what
        assert isinstance(body["error"].get("message"), str) and body["error"]["message"], what


@schema.parametrize()
@settings(hostile_settings(EXAMPLES))
def test_rest_operation_survives_hostile_input(case: Any, rest_server: LiveServer) -> None:
    response = case.call(timeout=60)
    assert_rest_reply(response, f"{case.method} {case.formatted_path} {case.body!r:.300} {case.query!r:.200}")


# Regression tests for what the suite found, each failing example kept --------------------------------

@hostile_settings(6)
@given(start=st.one_of(st.floats(allow_nan=False), st.integers(-(2**70), 2**70),
                       st.sampled_from(["1e20", "-99999999999999999", "nan", "inf"])))
@example(start=4.1792764626039976e16)  # ValueError: year 1326329 is out of range, a 500
@example(start=float("inf"))  # OverflowError from fromtimestamp
@example(start="-99999999999999999")
def test_times_out_of_range_are_400(rest_server: LiveServer, start: Any) -> None:
    with httpx.Client(base_url=rest_server.url, timeout=60) as http:
        r = http.post("/api/v1/metrics/query", content=json.dumps({"queries": [], "start": start}),
                      headers={"content-type": "application/json"})
        assert_rest_reply(r, f"metrics/query start={start!r}")
        r = http.get("/api/v1/metrics/statistics", params={"namespace": "N", "metric": "m", "start": str(start)})
        assert_rest_reply(r, f"metrics/statistics start={start!r}")


@hostile_settings(8)
@given(ident=st.sampled_from(["²", "٣", "99999999999999999999", "9223372036854775808", "0", "-1"]))
@example(ident="29710506376392712192")  # OverflowError: Python int too large to convert to SQLite INTEGER
@example(ident="²")  # str.isdigit accepts it, int() raises ValueError
def test_ids_no_row_can_have_are_404(rest_server: LiveServer, ident: str) -> None:
    with httpx.Client(base_url=rest_server.url, timeout=60) as http:
        for method, path in [("DELETE", "/api/v1/maintenance-windows/{}"), ("GET", "/api/v1/monitors/{}"),
                             ("GET", "/api/v1/target-groups/{}"), ("GET", "/api/v1/monitors/{}/history")]:
            r = http.request(method, path.format(ident))
            assert_rest_reply(r, f"{method} {path} {ident!r}")
            assert r.status_code in (400, 404, 422), r.text
