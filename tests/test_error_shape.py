"""Every REST error has one shape: {"error": {"code", "message"}} and a 4xx for client mistakes."""

from __future__ import annotations


def _assert_shape(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_unknown_route_is_json_404(client):
    _assert_shape(client.get("/api/v1/does-not-exist"), 404, "NotFound")


def test_validation_error_names_the_field(client):
    err = _assert_shape(client.post("/api/v1/keys", json={"name": ""}), 400, "Invalid")
    assert "name" in err["message"]


def test_malformed_json_body(client):
    err = _assert_shape(client.post("/api/v1/keys", content=b"{not json",
                                    headers={"content-type": "application/json"}), 400, "Invalid")
    assert "JSON" in err["message"] or "json" in err["message"]


def test_domain_not_found(client):
    err = _assert_shape(client.delete("/api/v1/keys/12345"), 404, "NotFound")
    assert "12345" in err["message"]


def test_wrong_method(client):
    _assert_shape(client.put("/api/v1/info"), 405, "MethodNotAllowed")
