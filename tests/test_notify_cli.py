"""The runbook's sns commands and rexwatch's own through the real CLI against a live server."""

from __future__ import annotations

import json

from helpers import run_cli
from notify_helpers import Mailbox, Receiver
from rexwatch.services.notify import NotifyService


def test_runbook_commands_test_topic_and_dead_letters(runtime, live):
    box, slack, broken = Mailbox(), Receiver(), Receiver(lambda n, r: (410, 0.0))
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", box.port
    try:
        ep = ["--endpoint", live.url]
        r = run_cli(*ep, "sns", "create-topic", "--name", "utm-alerts")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["TopicArn"] == "arn:aws:sns:us-east-1:000000000000:utm-alerts"
        r = run_cli(*ep, "sns", "subscribe", "--topic-arn", "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts",
                    "--protocol", "email", "--notification-endpoint", "ops@yourdomain.com",
                    "--attributes", "SkipConfirmation=true")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["SubscriptionArn"].startswith("arn:aws:sns:us-east-1:000000000000:utm-alerts:")
        svc = runtime.service(NotifyService)
        arn = svc.topic_arn("utm-alerts")
        svc.subscribe(arn, "slack", slack.url)
        svc.subscribe(arn, "discord", broken.url + "/api/webhooks/1/TOKENSECRET")

        r = run_cli(*ep, "--output", "json", "sns", "test-topic", "--topic-arn",
                    "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts", "--wait", "55")
        assert r.returncode == 1 and "1 of 3 deliveries did not succeed" in r.stderr
        out = json.loads(r.stdout)
        outcomes = {d["protocol"]: (d["status"], d["last_error"]) for d in out["deliveries"]}
        assert outcomes["email"] == ("delivered", None) and outcomes["slack"] == ("delivered", None)
        assert outcomes["discord"][0] == "dead" and "HTTP 410" in outcomes["discord"][1]
        assert "TOKENSECRET" not in r.stdout
        assert box.wait_for(1)[0]["Subject"] == "rexwatch test"
        assert slack.wait_for(1)[0].json["text"] == "rexwatch test"

        r = run_cli(*ep, "--output", "json", "sns", "dead-letters")
        assert r.returncode == 0, r.stderr
        [dead] = json.loads(r.stdout)
        assert dead["protocol"] == "discord" and dead["message_id"] == out["message_id"]
        r = run_cli(*ep, "--output", "json", "sns", "deliveries", "--status", "delivered")
        assert sorted(d["protocol"] for d in json.loads(r.stdout)) == ["email", "slack"]
        r = run_cli(*ep, "--output", "table", "sns", "deliveries", "--message-id", out["message_id"])
        assert r.returncode == 0 and "Deliveries" in r.stdout and "delivered" in r.stdout and "dead" in r.stdout
        r = run_cli(*ep, "--output", "json", "sns", "replay", "--all")
        assert json.loads(r.stdout) == {"replayed": 1}
        r = run_cli(*ep, "sns", "replay")
        assert r.returncode == 2
        r = run_cli(*ep, "sns", "list-subscriptions-by-topic", "--topic-arn", arn)
        assert sorted(s["Protocol"] for s in json.loads(r.stdout)["Subscriptions"]) == ["discord", "email", "slack"]
    finally:
        box.close()
        slack.close()
        broken.close()
