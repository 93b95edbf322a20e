"""Security REST routes: hostile and wrong input gets a 4xx naming what was wrong; CLI round trips."""

from __future__ import annotations

import pytest

from helpers import run_cli


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("put", "/api/v1/log-alarms/x", {"LogGroupNames": ["/g"], "QueryString": "stats count( by",
                                          "Threshold": 1}, 400, "QueryString"),
        ("put", "/api/v1/log-alarms/x", {"LogGroupNames": [], "QueryString": "stats count()", "Threshold": 1},
         400, "LogGroupNames"),
        ("put", "/api/v1/log-alarms/x", {"LogGroupNames": ["/g"], "QueryString": "stats count() as n by ip",
                                          "Threshold": 1, "AlarmActions": ["block-ip:never"]}, 400,
         "block-ip"),
        ("put", "/api/v1/log-alarms/x", {"LogGroupNames": ["/g"], "QueryString": "stats count() as n by ip",
                                          "Threshold": 1, "EvaluationInterval": "1 fortnight"}, 400,
         "duration"),
        ("post", "/api/v1/blocklist", {"ip": "999.1.1.1"}, 400, "not an IP address"),
        ("post", "/api/v1/blocklist", {"ip": "10.0.0.1/8"}, 400, "host bits"),
        ("post", "/api/v1/blocklist", {"ip": "10.0.0.1", "ttl": -5}, 400, "ttl"),
        ("post", "/api/v1/blocklist", {"ip": "10.0.0.1", "ttl": "soon"}, 400, "duration"),
        ("delete", "/api/v1/blocklist/10.9.9.9", None, 404, "not on the blocklist"),
        ("delete", "/api/v1/allowlist/10.9.9.9", None, 404, "not on the allowlist"),
        ("get", "/api/v1/blocklist/export?format=xml", None, 400, "format"),
        ("get", "/api/v1/log-alarms/nope", None, 404, "nope"),
        ("post", "/api/v1/log-alarms/nope/backtest", None, 404, "nope"),
        ("get", "/api/v1/security/templates/nope", None, 404, "brute-force"),
        ("post", "/api/v1/security/templates/brute-force/apply", {"params": {"ip_field": "x) | stats"}}, 400,
         "ip_field"),
        ("post", "/api/v1/security/templates/brute-force/apply", {"params": {"colour": "red"}}, 400, "colour"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(client, method, path, body, status, words):
    r = client.request(method.upper(), path, json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


def test_allowlist_wins_over_a_manual_block(client):
    assert client.post("/api/v1/allowlist", json={"ip": "192.0.2.0/24", "note": "office"}).status_code == 201
    r = client.post("/api/v1/blocklist", json={"ip": "192.0.2.7", "ttl": "1h"})
    assert r.status_code == 409 and "allowlist" in r.json()["error"]["message"]
    # A block made before the allowlist entry is left out of the list and the exports.
    assert client.delete("/api/v1/allowlist/192.0.2.0/24").status_code == 204
    assert client.post("/api/v1/blocklist", json={"ip": "192.0.2.7", "ttl": "1h"}).status_code == 201
    assert client.post("/api/v1/allowlist", json={"ip": "192.0.2.0/24"}).status_code == 201
    assert client.get("/api/v1/blocklist").json()["entries"] == []
    assert client.get("/api/v1/blocklist/export?format=plain").text == ""


def test_cli_block_list_unblock_and_templates(live):
    env = {"REXWATCH_ENDPOINT": live.url}
    r = run_cli("security", "block", "203.0.113.0/28", "--ttl", "30m", "--reason", "scanner", env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("security", "blocklist", env=env)
    assert '"ip": "203.0.113.0/28"' in r.stdout and '"reason": "scanner"' in r.stdout
    r = run_cli("security", "export", "--format", "ipset", env=env)
    assert "add rexwatch-blocklist 203.0.113.0/28 timeout" in r.stdout
    assert run_cli("security", "unblock", "203.0.113.0/28", env=env).returncode == 0
    r = run_cli("security", "unblock", "203.0.113.0/28", env=env)
    assert r.returncode == 1 and "not on the blocklist" in r.stderr
    r = run_cli("security", "apply", "mass-deletion", "--log-group", "/utm/audit", "--threshold", "20", env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("security", "describe-log-alarms", env=env)
    assert '"name": "mass-deletion"' in r.stdout and '"threshold": 20.0' in r.stdout
