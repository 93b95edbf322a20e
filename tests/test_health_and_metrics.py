from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from rexwatch.testing import wait_until


def test_health_shape(client):
    before = time.time()
    r = client.get("/health")
    after = time.time()
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert body["telemetry_store"] == "up" and body["control_store"] == "up"
    # The server's clock, read while it answered (whole seconds allowed): not "within 5 s of now",
    # which a slow answer on a loaded machine can miss.
    assert before - 1 <= body["timestamp"] <= after + 1
    assert body["version"]


def test_health_503_when_control_store_fails(tmp_path, chdb_engine, pg_url):
    from fastapi.testclient import TestClient

    from rexwatch.api.app import create_app
    from rexwatch.testing import make_runtime

    rt = make_runtime(tmp_path / "d", chdb_engine, control_url=pg_url, workers="none")
    with TestClient(create_app(rt, run_workers=False)) as c:
        assert c.get("/health").status_code == 200
        # Really take the store away: drop its database under the server's feet.
        admin = create_engine(pg_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()

        def unhealthy():
            r = c.get("/health")
            return r if r.status_code == 503 else None

        # /health caches its answer briefly: poll until the cache has expired.
        r = wait_until(unhealthy, 60, what="/health to answer 503")
        assert r.json()["status"] == "unhealthy"
        assert r.json()["control_store"] == "down"
        assert r.json()["telemetry_store"] == "up"
        metrics = c.get("/metrics").text
        errors = [line for line in metrics.splitlines()
                  if line.startswith('rexwatch_store_errors_total{store="control_store"}')]
        assert errors and float(errors[0].split()[-1]) >= 1
    rt.telemetry.drop_database()


def test_request_id_returned_and_honoured(client):
    r = client.get("/health")
    rid = r.headers["x-request-id"]
    assert len(rid) >= 16
    r2 = client.get("/health", headers={"X-Request-ID": "my-trace-123"})
    assert r2.headers["x-request-id"] == "my-trace-123"
    # An id that could inject into logs is replaced, not echoed.
    r3 = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r3.headers["x-request-id"] != "bad id\twith spaces"


def test_metrics_counts_requests_by_route_and_status(client):
    for _ in range(3):
        client.get("/health")
    client.get("/api/v1/nope")
    text_ = client.get("/metrics").text
    assert 'rexwatch_http_requests_total{method="GET",route="/health",status="200"} 3.0' in text_
    assert 'status="404"' in text_
    assert "rexwatch_http_request_duration_seconds_bucket" in text_
    assert "process_resident_memory_bytes" in text_


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "rexwatch"
    assert "/api/v1/keys" in doc["paths"]


def test_ui_overview_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "rexwatch" in r.text and "Telemetry store" in r.text
