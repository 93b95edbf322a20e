"""With no smtp_host, mail is kept in the local mailbox: the email subscribe → confirm → test-topic flow
works with no mail server, and every output says where each mail went."""

from __future__ import annotations

import json

from helpers import run_cli
from notify_helpers import deliver_all
from rexwatch.services.notify import NotifyService
from rexwatch.stores.control.mailbox_repo import MailboxRepo

TOPIC = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"


def test_email_flow_without_a_mail_server(runtime, live):
    assert runtime.settings.smtp_host == ""  # the default
    ep = ["--endpoint", live.url]

    def cli(*args: str):
        r = run_cli(*ep, *args)
        assert r.returncode == 0, r.stderr
        return r.stdout

    cli("sns", "create-topic", "--name", "utm-alerts")
    cli("sns", "subscribe", "--topic-arn", TOPIC, "--protocol", "email",
        "--notification-endpoint", "ops@yourdomain.com")
    deliver_all(runtime)  # the notifier sends the confirmation
    [listed] = json.loads(cli("--output", "json", "mail", "list"))
    assert listed["to_addr"] == "ops@yourdomain.com" and listed["kind"] == "SubscriptionConfirmation"
    shown = cli("mail", "show")
    assert "To: ops@yourdomain.com" in shown and "/sns/confirm?" in shown
    [d] = json.loads(cli("--output", "json", "sns", "deliveries"))
    assert d["status"] == "delivered" and f"kept in the local mailbox as mail {listed['id']}" in d["detail"]

    assert "Confirmed the subscription of ops@yourdomain.com" in cli("mail", "confirm")
    [sub] = runtime.service(NotifyService).list_subscriptions()[0]
    assert sub.status == "confirmed"

    out = cli("--output", "json", "sns", "test-topic", "--topic-arn", TOPIC, "--wait", "20")
    [row] = json.loads(out)["deliveries"]
    assert row["status"] == "delivered" and "kept in the local mailbox as mail" in row["detail"]
    table = cli("--output", "table", "sns", "test-topic", "--topic-arn", TOPIC, "--wait", "20")
    print(table)
    assert "mailbox" in table and "delivered" in table
    latest = json.loads(cli("--output", "json", "mail", "show"))
    assert latest["subject"] == "rexwatch test" and "This is a test notification" in latest["text"]
    assert latest["raw"].startswith("From: rexwatch@localhost") or "From: rexwatch@localhost" in latest["raw"]
    assert len(json.loads(cli("--output", "json", "mail", "list"))) == 3

    # Bad input: clear errors, no tracebacks.
    r = run_cli(*ep, "mail", "show", "999")
    assert r.returncode == 1 and "mail 999 does not exist" in r.stderr
    r = run_cli(*ep, "mail", "confirm", str(latest["id"]))  # a test message, not a confirmation
    assert r.returncode == 1 and "no confirmation link" in r.stderr


def test_the_mailbox_is_bounded(runtime):
    repo = MailboxRepo(runtime.control)
    ids = [repo.keep(message_id=f"m{i}", kind="Notification", to_addr="a@b.c", subject=f"s{i}", raw="x",
                     keep=3) for i in range(5)]
    assert [m["id"] for m in repo.list(10)] == ids[:1:-1]
