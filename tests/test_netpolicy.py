"""The outbound address policy: every spelling of a forbidden address is refused when configured and
again at connect time (DNS rebinding), for notifications, mail and monitors, with real local receivers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from notify_helpers import Receiver, deliver_all
from probe_servers import FlipServer, TcpListener
from rexwatch.errors import Invalid
from rexwatch.netpolicy import AddressPolicy, check_destination, classify, guarded_client
from rexwatch.services.monitors.types import Probe, ProbeContext
from rexwatch.services.monitors.types import get as monitor_type
from rexwatch.services.notify import NotifyService
from rexwatch.services.notify.providers import Outgoing, SendContext, provider
from rexwatch.services.notify.providers.base import HttpPool
from rexwatch.settings import load_settings
from rexwatch.testing import make_runtime

METADATA_SPELLINGS = [
    "169.254.169.254",
    "2852039166",  # decimal
    "0xa9fea9fe",  # hex
    "0xa9.0xfe.0xa9.0xfe",
    "0251.0376.0251.0376",  # octal
    "169.254.43518",  # short form
    "[::ffff:169.254.169.254]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",
    "[::169.254.169.254]",  # IPv4-compatible
    "[64:ff9b::a9fe:a9fe]",  # NAT64
    "[2002:a9fe:a9fe::1]",  # 6to4
    "[fe80::1]",
    "[fd00:ec2::254]",  # AWS metadata over IPv6
    "100.100.100.200",  # Alibaba Cloud metadata
]


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_every_spelling_of_a_metadata_address_is_refused(host):
    with pytest.raises(Invalid) as e:
        check_destination(AddressPolicy(), host, 80, "Endpoint")
    assert "outbound_allow_link_local" in e.value.message, e.value.message
    # Explicitly allowed, the address itself passes (unusual spellings still must be written plainly).
    allowed = AddressPolicy(allow_link_local=True)
    if host in ("169.254.169.254", "[fe80::1]", "[fd00:ec2::254]", "100.100.100.200"):
        check_destination(allowed, host, 80, "Endpoint")


def test_classes_and_settings():
    assert classify("8.8.8.8") == "public" and classify("2606:4700::1111") == "public"
    assert classify("10.1.2.3") == classify("192.168.0.1") == classify("100.64.0.1") == "private"
    assert classify("127.0.0.1") == classify("0.0.0.0") == classify("::1") == "loopback"
    assert classify("::ffff:127.0.0.1") == "loopback" and classify("::ffff:10.0.0.1") == "private"
    assert classify("224.0.0.1") == classify("255.255.255.255") == "reserved"
    strict = AddressPolicy(allow_loopback=False, allow_private=False)
    for host, setting in (("127.0.0.1", "outbound_allow_loopback"), ("10.0.0.1", "outbound_allow_private"),
                          ("0.0.0.0", "outbound_allow_loopback"), ("localhost", "outbound_allow_loopback")):
        with pytest.raises(Invalid, match=setting):
            check_destination(strict, host, 80, "url")
    check_destination(AddressPolicy(), "127.0.0.1", 80, "url")  # loopback on by default
    with pytest.raises(Invalid, match="never connects"):
        check_destination(AddressPolicy(allow_link_local=True), "224.0.0.1", 80, "url")
    # An explicit network is allowed whatever its class.
    import ipaddress

    one = AddressPolicy(allow_cidrs=(ipaddress.ip_network("169.254.170.2/32"),))
    check_destination(one, "169.254.170.2", 80, "url")
    with pytest.raises(Invalid):
        check_destination(one, "169.254.169.254", 80, "url")
    with pytest.raises(Exception, match="outbound_allow_cidrs"):
        load_settings(outbound_allow_cidrs="10.0.0.0/8, not-a-net")


def test_octal_loopback_gets_a_clear_error_not_a_crash():
    with pytest.raises(Invalid) as e:
        check_destination(AddressPolicy(), "0177.0.0.1", 80, "url")
    assert "127.0.0.1" in e.value.message and "write it as" in e.value.message


# Configuration time, through the REST API ---------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http", "slack", "msteams", "discord"])
def test_subscribing_to_metadata_addresses_is_a_400(client, protocol):
    assert client.post("/api/v1/topics", json={"name": "t"}).status_code == 201
    for host in ("169.254.169.254", "2852039166", "0xa9fea9fe", "[::ffff:a9fe:a9fe]", "0177.0.0.1"):
        r = client.post("/api/v1/topics/t/subscriptions",
                        json={"protocol": protocol, "endpoint": f"http://{host}/latest/meta-data/"})
        assert r.status_code == 400, (host, r.text)
        assert r.json()["error"]["field"] == "Endpoint"
    r = client.post("/api/v1/topics/t/subscriptions", json={
        "protocol": "pagerduty", "endpoint": "R0UT1NGKEY0123456789abcdef",
        "attributes": {"EventsUrl": "http://[fd00:ec2::254]/v2/enqueue"}})
    assert r.status_code == 400 and r.json()["error"]["field"] == "EventsUrl"
    assert client.get("/api/v1/deliveries").json() == []


def test_monitors_refuse_metadata_and_odd_spellings_with_a_400(client):
    for spec in ({"type": "http", "url": "http://0xa9fea9fe/latest/"},
                 {"type": "tcp", "host": "2852039166", "port": 80},
                 {"type": "dns", "config": {"name": "x.test", "nameserver": "169.254.169.253"}}):
        r = client.post("/api/v1/monitors", json={"name": "m", **spec})
        assert r.status_code == 400 and "outbound_allow_link_local" in r.json()["error"]["message"], r.text
    r = client.post("/api/v1/monitors", json={"name": "m", "url": "http://0177.0.0.1:9/"})
    assert r.status_code == 400 and "write it as 127.0.0.1" in r.json()["error"]["message"]
    assert client.get("/api/v1/monitors").json() == []


def test_loopback_off_refuses_local_receivers(tmp_path, chdb_engine):
    rt = make_runtime(tmp_path / "d", chdb_engine, workers="none", outbound_allow_loopback=False)
    try:
        svc = rt.service(NotifyService)
        arn = svc.create_topic("t")
        with pytest.raises(Invalid, match="outbound_allow_loopback"):
            svc.subscribe(arn, "slack", "http://127.0.0.1:9/hook")
        with pytest.raises(Invalid, match="outbound_allow_loopback"):
            svc.subscribe(arn, "https", "https://localhost/hook")
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()


# Connection time ---------------------------------------------------------------------------------------


def _msg(protocol: str, endpoint: str) -> Outgoing:
    return Outgoing(
        delivery_id=1, message_id="6c0e5a2e-0000-4000-8000-000000000001", kind="Notification",
        topic_arn="arn:aws:sns:us-east-1:000000000000:t", subscription_arn="arn:aws:sns:us-east-1:000000000000:t:s",
        protocol=protocol, endpoint=endpoint, subject=None, message="hello", attributes={},
        published_at=dt.datetime.now(dt.UTC), attempt=1, secret="signing-secret-value", token="tok",
        sub_attributes={}, base_url="http://127.0.0.1:9099",
    )


def _send(policy: AddressPolicy, protocol: str, endpoint: str):
    async def go():
        async with HttpPool(timeout=2.0, policy=policy) as http:
            ctx = SendContext(http=http, settings=load_settings(), timeout=2.0)
            return await provider(protocol).send(_msg(protocol, endpoint), ctx)

    return asyncio.run(go())


class ChangingDns:
    """A DNS that answers from a script, one answer per lookup (the attacker's rebinding server)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


def test_dns_rebinding_is_refused_at_connect_time():
    rx = Receiver()
    try:
        dns = ChangingDns("127.0.0.1", "169.254.169.254")
        policy = AddressPolicy(resolver=dns)
        url = f"http://rebind.test:{rx.port}/hook"
        check_destination(policy, "rebind.test", rx.port, "Endpoint")  # at subscribe time: looks local
        d = _send(policy, "slack", url)  # at connect time the name points at the metadata service
        assert not d.ok and not d.retryable and "169.254.169.254" in d.reason and "outbound_allow_link_local" in d.reason
        assert dns.lookups == 2 and rx.requests == []
    finally:
        rx.close()


def test_connection_goes_to_the_checked_address_with_the_name_as_host():
    rx = Receiver()
    try:
        # "hooks.test" exists only in this resolver: the request can only arrive if the socket connects to
        # the address the policy checked rather than asking the system for the name again.
        dns = ChangingDns("127.0.0.1")
        d = _send(AddressPolicy(resolver=dns), "http", f"http://hooks.test:{rx.port}/hook")
        assert d.ok, d.reason
        [req] = rx.requests
        assert req.headers["host"] == f"hooks.test:{rx.port}" and dns.lookups == 1
        d = _send(AddressPolicy(allow_loopback=False), "http", f"http://localhost:{rx.port}/hook")
        assert not d.ok and "outbound_allow_loopback" in d.reason and len(rx.requests) == 1
    finally:
        rx.close()


def test_error_bodies_of_internal_receivers_are_never_shown(runtime, client):
    rx = Receiver(lambda n, r: (500, 0.0))  # its error page echoes the request back
    try:
        svc = runtime.service(NotifyService)
        arn = svc.create_topic("t")
        svc.subscribe(arn, "slack", rx.url)
        svc.publish(arn, "API_TOKEN=internal-secret-value")
        deliver_all(runtime)
        [d] = client.get("/api/v1/deliveries").json()
        assert rx.requests and d["last_error"] == "HTTP 500" and d["last_status"] == 500
    finally:
        rx.close()


def test_smtp_host_obeys_the_policy():
    from rexwatch.services.notify.providers.base import HttpPool as Pool

    settings = load_settings(smtp_host="169.254.169.254", smtp_port=25)
    msg = _msg("email", "ops@yourdomain.com")

    async def go():
        async with Pool(timeout=1.0) as http:
            return await provider("email").send(msg, SendContext(http=http, settings=settings, timeout=1.0))

    d = asyncio.run(go())
    assert not d.ok and not d.retryable and "outbound_allow_link_local" in d.reason


def test_monitor_checks_obey_the_policy_at_connect_time():
    flip, listener = FlipServer(), TcpListener()
    try:
        strict = AddressPolicy(allow_loopback=False)

        async def go(policy: AddressPolicy, kind: str, cfg: dict):
            async with guarded_client(policy) as c:
                return await monitor_type(kind).check(ProbeContext(c, c, policy),
                                                      Probe("monitor", 1, kind, cfg, 1.0, 0.5))

        http_cfg = monitor_type("http").validate({"url": f"{flip.url}/"})
        tcp_cfg = {"host": "127.0.0.1", "port": listener.port}
        assert asyncio.run(go(AddressPolicy(), "http", http_cfg)).ok
        assert asyncio.run(go(AddressPolicy(), "tcp", tcp_cfg)).ok
        hits = flip.hits
        for kind, cfg in (("http", http_cfg), ("tcp", tcp_cfg)):
            r = asyncio.run(go(strict, kind, cfg))
            assert not r.ok and r.reason == "refused" and "outbound_allow_loopback" in r.error
        assert flip.hits == hits
        # A failing page's excerpt is one short line.
        flip.mode = 503
        r = asyncio.run(go(AddressPolicy(), "http", http_cfg))
        assert r.reason == "status" and 0 < len(r.excerpt) <= 121
    finally:
        flip.close()
        listener.close()
