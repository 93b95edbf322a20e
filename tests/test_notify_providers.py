"""Conformance kit: every provider in the registry against real local receivers.

For each provider: endpoint validation, the status-code retry table, no secret
in a failure reason or a redacted endpoint, and a bounded timeout against a
receiver that never answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time

import pytest

from notify_helpers import Receiver
from rexwatch.errors import Invalid
from rexwatch.services.notify.providers import PROVIDERS, Outgoing, SendContext, provider
from rexwatch.services.notify.providers.base import HttpPool
from rexwatch.settings import load_settings

# One protocol per provider class.
_BY_CLASS: dict[str, str] = {}
for _proto, _path in PROVIDERS.items():
    _BY_CLASS.setdefault(_path, _proto)
PROTOCOLS = sorted(_BY_CLASS.values())
HTTP_PROTOCOLS = [p for p in PROTOCOLS if provider(p).transport == "http"]

ALARM = {"AlarmName": "utm-high-cpu", "NewStateValue": "ALARM", "OldStateValue": "OK",
         "NewStateReason": "Threshold Crossed", "Region": "us-east-1",
         "AlarmArn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:utm-high-cpu"}
SECRET = "S3CR3TT0KEN0123456789abcdef"


def _outgoing(protocol: str, endpoint: str, attrs: dict[str, str], alarm: bool = False) -> Outgoing:
    import json

    message = json.dumps(ALARM) if alarm else "hello"
    return Outgoing(
        delivery_id=1, message_id="6c0e5a2e-0000-4000-8000-000000000001", kind="Notification",
        topic_arn="arn:aws:sns:us-east-1:000000000000:t", subscription_arn="arn:aws:sns:us-east-1:000000000000:t:s",
        protocol=protocol, endpoint=endpoint, subject=None, message=message, attributes={},
        published_at=dt.datetime.now(dt.UTC), attempt=1, secret="signing-secret-value", token="tok",
        sub_attributes=attrs, base_url="http://127.0.0.1:9099", alarm=ALARM if alarm else None,
    )


def _endpoint(protocol: str, url: str) -> tuple[str, str, dict[str, str]]:
    """The provider's subscription for a local receiver, with a secret embedded where the provider keeps one."""
    proto, endpoint, attrs = type(provider(protocol)).receiver_endpoint(url + "/" + SECRET)
    if endpoint.startswith("http"):
        return proto, endpoint, attrs
    return proto, SECRET, attrs  # a key-style endpoint (routing key): the key is the secret


def _send(protocol: str, msg: Outgoing, timeout: float = 30.0, settings=None):
    async def go():
        async with HttpPool(timeout=timeout) as http:
            ctx = SendContext(http=http, settings=settings or load_settings(), timeout=timeout)
            return await provider(protocol).send(msg, ctx)

    return asyncio.run(go())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_validation_rejects_bad_endpoints(protocol):
    p = provider(protocol)
    for bad in ("", "not a thing", "ftp://x/y"):
        with pytest.raises(Invalid):
            p.validate(protocol, bad, {})


STATUS_TABLE = [(200, True, False), (202, True, False), (204, True, False),
                (400, False, False), (401, False, False), (403, False, False), (404, False, False),
                (410, False, False), (408, False, True), (429, False, True), (500, False, True),
                (502, False, True), (503, False, True)]


@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
def test_status_code_retry_table_and_secrets(protocol):
    answer = {"status": 200}
    rx = Receiver(lambda n, r: (answer["status"], 0.0))
    try:
        proto, endpoint, attrs = _endpoint(protocol, rx.url)
        p = provider(proto)
        endpoint = p.validate(proto, endpoint, attrs)
        assert SECRET not in p.redact(endpoint)
        for status, ok, retryable in STATUS_TABLE:
            answer["status"] = status
            d = _send(proto, _outgoing(proto, endpoint, attrs, alarm=status == 500))
            assert (d.ok, d.retryable, d.status) == (ok, retryable, status), status
            if not ok:
                assert f"HTTP {status}" in d.reason
                assert SECRET not in d.reason  # the receiver echoed the request; the reason must not
        assert len(rx.requests) == len(STATUS_TABLE)
    finally:
        rx.close()


@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
def test_hanging_receiver_times_out(protocol):
    rx = Receiver(lambda n, r: (200, 30.0))
    try:
        proto, endpoint, attrs = _endpoint(protocol, rx.url)
        started = time.monotonic()
        d = _send(proto, _outgoing(proto, endpoint, attrs), timeout=0.5)
        assert time.monotonic() - started < 20  # cut short by the timeout, not the 30 s hang
        assert not d.ok and d.retryable and "timed out" in d.reason
    finally:
        rx.close()


@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
def test_refused_connection_is_retryable(protocol):
    from rexwatch.testing import free_port

    proto, endpoint, attrs = _endpoint(protocol, f"http://127.0.0.1:{free_port()}/hook")
    d = _send(proto, _outgoing(proto, endpoint, attrs))
    assert not d.ok and d.retryable and SECRET not in d.reason


# SMTP --------------------------------------------------------------------------------------------


class _SmtpAnswers:
    def __init__(self) -> None:
        self.code = "250 OK"
        self.got = 0

    async def handle_DATA(self, server, session, envelope):
        self.got += 1
        return self.code


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if provider(p).transport == "smtp"])
def test_smtp_reply_codes_and_timeout(protocol):
    from aiosmtpd.controller import Controller

    from rexwatch.testing import free_port

    handler = _SmtpAnswers()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        settings = load_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_password="pw-" + SECRET)
        msg = _outgoing(protocol, "ops@yourdomain.com", {}, alarm=True)
        assert _send(protocol, msg, settings=settings).ok
        for code, retryable in (("451 4.3.0 try again later", True), ("550 5.1.1 no such user", False)):
            handler.code = code
            d = _send(protocol, msg, settings=settings)
            assert (d.ok, d.retryable, d.status) == (False, retryable, int(code[:3]))
        assert handler.got == 3
        # A login the server refuses never shows the password.
        settings_auth = load_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_user="u", smtp_password="pw-" + SECRET)
        d = _send(protocol, msg, settings=settings_auth)
        assert not d.ok and SECRET not in d.reason
    finally:
        ctl.stop()

    # A mail server that accepts the connection and never greets.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        settings = load_settings(smtp_host="127.0.0.1", smtp_port=silent.getsockname()[1])
        started = time.monotonic()
        d = _send(protocol, _outgoing(protocol, "ops@yourdomain.com", {}), timeout=0.5, settings=settings)
        assert time.monotonic() - started < 20  # cut short by the timeout (the server never greets)
        assert not d.ok and d.retryable and "timed out" in d.reason
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        silent.close()


def test_alarm_payloads_of_chat_and_incident_providers():
    """What Discord, Teams and PagerDuty receive for an ALARM and its OK."""
    rx = Receiver()
    try:
        got = {}
        for proto in ("discord", "msteams", "pagerduty"):
            _, endpoint, attrs = _endpoint(proto, rx.url)
            for state in ("ALARM", "OK"):
                msg = _outgoing(proto, endpoint, attrs, alarm=True)
                msg.alarm = {**ALARM, "NewStateValue": state}
                assert _send(proto, msg).ok
                got[(proto, state)] = rx.requests[-1].json
        assert got[("discord", "ALARM")]["embeds"][0]["color"] == 0xD62728
        assert got[("discord", "OK")]["embeds"][0]["color"] == 0x2CA02C
        assert got[("discord", "ALARM")]["embeds"][0]["url"].endswith("/alarms/utm-high-cpu")
        card = got[("msteams", "ALARM")]["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["body"][0]["color"] == "attention"
        assert card["body"][0]["text"] == 'ALARM: "utm-high-cpu" in US East (N. Virginia)'
        trig, res = got[("pagerduty", "ALARM")], got[("pagerduty", "OK")]
        assert trig["event_action"] == "trigger" and trig["payload"]["severity"] == "critical"
        assert res["event_action"] == "resolve" and "payload" not in res
        assert trig["dedup_key"] == res["dedup_key"] == ALARM["AlarmArn"]
        assert trig["routing_key"] == SECRET
    finally:
        rx.close()
