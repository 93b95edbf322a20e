"""Topics and subscriptions over REST, with clear 4xx errors for bad input."""

from __future__ import annotations


def test_topics_and_subscriptions_over_rest(client):
    r = client.post("/api/v1/topics", json={"name": "utm-alerts", "attributes": {"DisplayName": "UTM"}})
    assert r.status_code == 201 and r.json()["TopicArn"].endswith(":utm-alerts")
    assert [t["DisplayName"] for t in client.get("/api/v1/topics").json()] == ["UTM"]

    r = client.post("/api/v1/topics/utm-alerts/subscriptions",
                    json={"protocol": "https", "endpoint": "https://user:pw@hooks.example/x?token=abcdef123"})
    assert r.status_code == 201
    sub = r.json()
    assert sub["status"] == "pending" and "pw" not in sub["endpoint"] and "abcdef123" not in sub["endpoint"]
    assert client.post(f"/api/v1/subscriptions/{sub['arn']}/confirm").json()["status"] == "confirmed"
    secret = client.get(f"/api/v1/subscriptions/{sub['arn']}/signing-secret").json()["secret"]
    assert len(secret) >= 32

    r = client.post("/api/v1/topics/arn:aws:sns:eu-west-1:ACCOUNT:utm-alerts/publish", json={"message": "hi"})
    assert r.status_code == 200 and r.json()["deliveries"] == 1
    log = client.get("/api/v1/deliveries", params={"topic": "utm-alerts"}).json()
    assert [(d["kind"], d["status"]) for d in log] == [("Notification", "pending"),
                                                       ("SubscriptionConfirmation", "pending")]

    # Bad input: clear 4xx naming the problem.
    r = client.post("/api/v1/topics/utm-alerts/subscriptions", json={"protocol": "sms", "endpoint": "+1555"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Protocol"
    r = client.post("/api/v1/topics/nope/subscriptions", json={"protocol": "slack", "endpoint": "https://x.example"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = client.post("/api/v1/topics/utm-alerts/publish", json={"message": "x", "subject": "a\nb"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Subject"
    r = client.post("/api/v1/topics/utm-alerts/publish", json={"message": "x",
                    "attributes": {"n": {"DataType": "Number", "StringValue": "ten"}}})
    assert r.status_code == 400 and "not a number" in r.json()["error"]["message"]
    r = client.post("/api/v1/topics", json={"name": "bad name"})
    assert r.status_code == 400
    r = client.get("/api/v1/deliveries", params={"topic": "arn:aws:sns:x"})
    assert r.status_code == 400
    r = client.post("/api/v1/deliveries/replay", json={"ids": "all"})
    assert r.status_code == 400

    assert client.delete(f"/api/v1/subscriptions/{sub['arn']}").status_code == 204
    assert client.delete("/api/v1/topics/utm-alerts").status_code == 204
    assert client.get("/api/v1/topics/utm-alerts").status_code == 404
