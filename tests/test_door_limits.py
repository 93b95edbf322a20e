"""What a stranger can cost the server: bodies, metric labels, echoed input, public paths."""

from __future__ import annotations

import base64
import json
import random
import re
import socket
import string

import httpx
import pytest

from rexwatch.testing import wait_until


def _raw(url: str, request: bytes, *, then: bytes = b"", timeout: float = 20) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` on a fresh socket, then ``then``, and read one response without
    finishing the body: a server that waited for the whole body would never answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        if then:
            try:
                s.sendall(then)
            except OSError:
                pass  # the server may already have answered and closed
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(lines[0].split()[1]), headers, body


def _metrics_size(url: str) -> int:
    return len(httpx.get(url + "/metrics").content)


@pytest.mark.parametrize("auth", ["on", "off"])
def test_random_targets_do_not_grow_metrics(runtime, live, auth):
    runtime.settings.auth = auth
    runtime.settings.public = "health,metrics"
    rnd = random.Random(7)
    with httpx.Client(base_url=live.url) as c:
        def burst(n: int) -> None:
            for _ in range(n):
                word = "".join(rnd.choices(string.ascii_letters, k=12))
                target = rnd.choice([f"Logs_20140328.{word}", f"{word}.{word}", f"GraniteServiceVersion20100801.{word}"])
                r = c.post("/", content=b"{}", headers={"X-Amz-Target": target,
                                                        "Content-Type": "application/x-amz-json-1.1"})
                assert r.status_code == 400 and r.json()["__type"], r.text
            for _ in range(n // 100):
                r = c.request(rnd.choice(["FROB", "PROPFIND"]), "/api/v1/" + "".join(rnd.choices(string.ascii_lowercase, k=8)))
                assert r.status_code in (400, 401, 404, 405)

        burst(100)  # every label that will ever exist for these requests now exists
        _metrics_size(live.url)  # and /metrics' own
        before = _metrics_size(live.url)
        burst(3000)
        after = _metrics_size(live.url)
    # Counter values get longer; no new series may appear.
    assert after - before < 2000, (before, after)


@pytest.mark.parametrize("path,shape", [("/", "aws"), ("/api/v1/logs/groups", "rest")])
def test_declared_oversize_body_is_refused_before_reading(runtime, live, path, shape):
    runtime.settings.max_body_mb = 1
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "X-Amz-Target: Logs_20140328.CreateLogGroup\r\nContent-Length: 1000000000\r\n\r\n").encode()
    status, _headers, body = _raw(live.url, head, then=b"{" * 1000)
    assert status == 413
    doc = json.loads(body)
    if shape == "aws":
        assert doc["__type"] == "RequestEntityTooLarge"
    else:
        assert doc["error"]["code"] == "PayloadTooLarge"


@pytest.mark.parametrize("path,shape", [("/", "aws"), ("/api/v1/logs/groups", "rest")])
def test_chunked_body_is_cut_at_the_cap(runtime, live, path, shape):
    runtime.settings.max_body_mb = 1
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "X-Amz-Target: Logs_20140328.CreateLogGroup\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"a" * 65536
    # 2 MiB sent, and the body never ends: only a server that stops at the cap answers.
    status, _headers, body = _raw(live.url, head, then=(b"10000\r\n" + chunk + b"\r\n") * 32)
    assert status == 413
    doc = json.loads(body)
    assert doc["__type"] == "RequestEntityTooLarge" if shape == "aws" else doc["error"]["code"] == "PayloadTooLarge"


def test_unauthenticated_body_is_not_read(runtime, live):
    runtime.settings.auth = "on"
    head = (b"POST /api/v1/logs/groups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n")
    status, _headers, body = _raw(live.url, head, then=b"{")
    assert status == 401 and json.loads(body)["error"]["code"] == "Unauthorized"
    head = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: Logs_20140328.CreateLogGroup\r\nContent-Length: 10000000\r\n\r\n")
    status, _headers, body = _raw(live.url, head, then=b"{")
    assert status == 400 and json.loads(body)["__type"] == "AccessDeniedException"


def test_errors_never_echo_long_input(client):
    name = "x" * 200_000
    r = client.post("/api/v1/logs/groups", json={"name": name})
    assert 400 <= r.status_code < 500
    assert len(r.content) < 3000
    r = client.post("/", content=f"Action={name}&Version=2010-08-01".encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= r.status_code < 500 and len(r.content) < 3000
    r = client.post("/", content=f"Action=ListMetrics&Version={name}".encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= r.status_code < 500 and len(r.content) < 3000


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"me:{key}".encode()).decode()


def test_public_paths_default_and_setting(runtime, client):
    runtime.settings.auth = "on"
    token = runtime.keys.create("ops").token
    private = ["/", "/metrics", "/api/v1/openapi.json", "/api/v1/docs", "/alarms", "/api/v1/info"]
    for path in private:
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"].startswith("Bearer" if path.startswith("/api/") else "Basic")
        assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200, path
        # Browsers log in with the key as the password of a Basic prompt.
        assert client.get(path, headers={"Authorization": _basic(token)}).status_code == 200, path
        assert client.get(path, headers={"Authorization": _basic("rxw_nope_nope")}).status_code == 401
    assert client.get("/health").status_code == 200
    assert client.get("/status/nope").status_code == 404  # public: reaches the page, which does not exist
    assert client.get("/static/app.css").status_code == 200

    runtime.settings.public = "health,metrics,api_docs,ui"
    for path in ["/", "/alarms", "/metrics", "/api/v1/openapi.json", "/api/v1/docs"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/info").status_code == 401
    runtime.settings.public = ""
    assert client.get("/health").status_code == 401


def test_unknown_public_group_is_a_config_error():
    from rexwatch.errors import ConfigError
    from rexwatch.settings import load_settings

    with pytest.raises(ConfigError, match="public"):
        load_settings(public="status,everything")


def test_html_pages_send_security_headers(runtime, client):
    for path in ["/", "/alarms", "/api/v1/docs"]:
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        # No inline script or style left for the policy to block.
        assert "<script>" not in r.text and "<style" not in r.text and " style=" not in r.text
    assert client.get("/health").headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in client.get("/health").headers


def test_templates_hold_no_inline_script_or_style():
    from pathlib import Path

    import rexwatch.web

    for tpl in (Path(rexwatch.web.__file__).parent / "templates").glob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", tpl.read_text(), flags=re.S)  # template comments are not sent
        assert "<style" not in text and "<script>" not in text and " style=" not in text, tpl.name
        assert " onclick=" not in text and " onload=" not in text, tpl.name


@pytest.fixture
def slow_live(runtime):
    from rexwatch.testing import LiveServer

    runtime.settings.read_timeout_s = 1.0
    with LiveServer(runtime, run_workers=False) as server:
        yield server


def _closed_by_server(url: str, payload: bytes) -> bytes:
    """Send ``payload`` and never finish it; return what the server sent before closing."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(payload)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        return got


def test_slow_clients_are_cut_off_and_not_counted_as_errors(runtime, slow_live, caplog):
    import logging

    caplog.set_level(logging.INFO)
    url = slow_live.url
    # Headers that never end, and a body that never ends: both are closed by the deadline.
    assert _closed_by_server(url, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a") == b""
    assert _closed_by_server(url, b"POST /api/v1/logs/groups HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na") == b""
    assert _closed_by_server(url, b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Logs_20140328.CreateLogGroup\r\n"
                                  b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{") == b""

    def counted() -> str:
        return httpx.get(url + "/metrics").text

    wait_until(lambda: counted().count('status="499"') >= 2, what="both abandoned requests to be counted")
    text = counted()
    assert 'status="500"' not in text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    # A client that keeps up is unaffected.
    assert httpx.get(url + "/health").status_code == 200


def test_oversized_headers_are_refused(live):
    status, _headers, _body = _raw(live.url, b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 100_000)
    assert status == 431


@pytest.mark.parametrize("value", [1e20, -1e12, float("nan"), float("inf")])
def test_out_of_range_timestamps_are_client_errors_in_every_protocol(client, value):
    import cbor2

    base = {"Namespace": "N", "MetricName": "M", "Period": 60, "Statistics": ["Sum"]}
    ok_time = 1_700_000_000
    for bad in ({"StartTime": value, "EndTime": ok_time}, {"StartTime": ok_time, "EndTime": cbor2.CBORTag(1, value)}):
        r = client.post("/service/GraniteServiceVersion20100801/operation/GetMetricStatistics",
                        content=cbor2.dumps({**base, **bad}),
                        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                                 "Accept": "application/cbor"})
        assert r.status_code == 400, r.content
        assert cbor2.loads(r.content)["__type"].endswith("SerializationException")
    if value == value and abs(value) != float("inf"):  # JSON has no NaN or infinity
        r = client.post("/", content=json.dumps({**base, "StartTime": value, "EndTime": ok_time}),
                        headers={"X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics",
                                 "Content-Type": "application/x-amz-json-1.0"})
        assert r.status_code == 400 and r.json()["__type"].endswith("SerializationException"), r.text
    r = client.post("/", data={"Action": "GetMetricStatistics", "Version": "2010-08-01", "Namespace": "N",
                               "MetricName": "M", "Period": "60", "Statistics.member.1": "Sum",
                               "StartTime": repr(value), "EndTime": str(ok_time)})
    assert r.status_code == 400 and b"<Code>InvalidParameterValue</Code>" in r.content, r.text
