"""The outbound address policy: which addresses the server may connect to.

Every connection the server opens on a user's behalf (notification providers,
the SMTP host, uptime monitors, target-group health checks) goes through this
module, twice:

- when the destination is configured (subscribe, monitor create/update):
  ``check_destination`` refuses an address the policy forbids with an
  ``Invalid`` naming it, including every spelling of an IPv4 address
  (``2852039166``, ``0xa9fea9fe``, ``0177.0.0.1``, ``127.1``) and IPv6 forms
  that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible
  ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4, Teredo);
- when connecting: the name is resolved once, every address is checked, and
  the socket connects to a checked address, never to the name again (a DNS
  answer that changes between the check and the connect, "DNS rebinding",
  gains nothing). ``guarded_client`` builds an httpx client whose connections
  all go through ``GuardedBackend``; ``SMTP`` / ``SMTP_SSL`` do the same for
  mail; ``resolve`` serves raw TCP.

Classes of address and the settings that govern them:

- ``metadata``: link-local (169.254.0.0/16, fe80::/10) and known cloud
  metadata addresses (fd00:ec2::254, 100.100.100.200, 192.0.0.192,
  168.63.129.16). Refused unless ``outbound_allow_link_local``.
- ``loopback``: 127.0.0.0/8, ::1, 0.0.0.0/8, ::. ``outbound_allow_loopback``
  (default on: the server watching and notifying things on its own machine is
  the first thing a user does).
- ``private``: RFC 1918, 100.64.0.0/10, fc00::/7, fec0::/10.
  ``outbound_allow_private`` (default on: a self-hosted monitor exists to
  watch internal services).
- ``reserved``: multicast, broadcast, 240.0.0.0/4 and other special ranges:
  always refused, nothing useful answers there.
- ``outbound_allow_cidrs`` lists networks allowed whatever their class (for
  example one internal metadata proxy).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import smtplib
import socket
import ssl
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from rexwatch.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192", "168.63.129.16")
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NET = ipaddress.ip_network("0.0.0.0/8")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
# Which setting opens each class (reserved: none).
SETTING = {
    "metadata": "outbound_allow_link_local",
    "loopback": "outbound_allow_loopback",
    "private": "outbound_allow_private",
}
_WORDS = {
    "metadata": "a link-local/cloud-metadata address",
    "loopback": "a loopback address",
    "private": "a private-network address",
    "reserved": "a reserved (multicast, broadcast or special-purpose) address",
}
_RANK = {"public": 0, "private": 1, "loopback": 2, "metadata": 3, "reserved": 4}
# Digits, hex digits, x and dots only: what inet_aton may read as an IPv4 address.
_IPV4ISH = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


class Refused(Exception):
    """A connection the policy forbids. Nothing was sent."""


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if any(addr in net for net in _NAT64):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    n = int(addr)
    if 1 < n <= 0xFFFFFFFF:  # IPv4-compatible ::a.b.c.d (:: and ::1 are themselves)
        return ipaddress.IPv4Address(n)
    return None


def _classify_one(addr: IPAddress) -> str:
    if addr in METADATA_ADDRESSES or addr.is_link_local:
        return "metadata"
    if addr.is_loopback or addr.is_unspecified or (addr.version == 4 and addr in _THIS_NET):
        return "loopback"
    if addr.is_multicast or (addr.version == 4 and (addr.is_reserved or addr == ipaddress.IPv4Address(
            "255.255.255.255"))):
        return "reserved"
    if addr.version == 4 and addr in _CGNAT:
        return "private"
    if addr.version == 6 and addr in _SITE_LOCAL:
        return "private"
    if addr.is_private:
        return "private"
    return "public"


def classify(addr: IPAddress | str) -> str:
    """``public``, ``private``, ``loopback``, ``metadata`` or ``reserved``; an IPv6 form that carries an
    IPv4 address is judged by the stricter of the two."""
    if isinstance(addr, str):
        addr = ipaddress.ip_address(addr.split("%", 1)[0])
    kind = _classify_one(addr)
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_v4(addr)
        if inner is not None:
            inner_kind = _classify_one(inner)
            if _RANK[inner_kind] > _RANK[kind]:
                kind = inner_kind
    return kind


def parse_literal(host: str) -> tuple[IPAddress, bool] | None:
    """(address, canonical?) when ``host`` is an IP address in any spelling the system resolver accepts,
    else None (a name)."""
    h = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(h), True
    except ValueError:
        pass
    if _IPV4ISH.match(h):
        try:
            # inet_aton reads decimal, hex, octal and short forms, as getaddrinfo does.
            return ipaddress.IPv4Address(socket.inet_aton(h)), False
        except OSError:
            return None
    return None


Resolver = Callable[[str, int], Iterable[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    allow_link_local: bool = False
    allow_loopback: bool = True
    allow_private: bool = True
    allow_cidrs: tuple[IPNetwork, ...] = ()
    # How names become addresses; tests pass their own to play a DNS that changes its answer.
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_settings(cls, s: Any) -> AddressPolicy:
        return cls(
            allow_link_local=s.outbound_allow_link_local,
            allow_loopback=s.outbound_allow_loopback,
            allow_private=s.outbound_allow_private,
            allow_cidrs=parse_cidrs(s.outbound_allow_cidrs),
        )

    def refusal(self, addr: IPAddress | str, host: str | None = None) -> str | None:
        """Why ``addr`` may not be reached (a message naming the setting), or None when it may."""
        if isinstance(addr, str):
            addr = ipaddress.ip_address(addr.split("%", 1)[0])
        if any(addr.version == net.version and addr in net for net in self.allow_cidrs):
            return None
        kind = classify(addr)
        allowed = {
            "public": True,
            "private": self.allow_private,
            "loopback": self.allow_loopback,
            "metadata": self.allow_link_local,
            "reserved": False,
        }[kind]
        if allowed:
            return None
        what = f"{host} resolves to {addr}, " if host and host.strip("[]") != str(addr) else f"{addr} is "
        if kind == "reserved":
            return f"{what}{_WORDS[kind]}; the server never connects there"
        return f"{what}{_WORDS[kind]}; outbound connections there are off (setting {SETTING[kind]})"

    def check(self, addr: IPAddress | str, host: str | None = None) -> None:
        why = self.refusal(addr, host)
        if why:
            raise Refused(why)

    def checked_addresses(self, host: str, addresses: Iterable[str]) -> list[str]:
        """All of ``addresses`` when every one is allowed (one bad answer refuses the name)."""
        out = list(dict.fromkeys(addresses))
        for a in out:
            self.check(a, host)
        return out

    def resolve_sync(self, host: str, port: int) -> list[str]:
        """Addresses to connect to for ``host``, all allowed; raises Refused or OSError."""
        lit = parse_literal(host)
        if lit is not None:
            self.check(lit[0], host)
            return [str(lit[0])]
        try:
            found = list(self.resolver(host, port))
        except socket.gaierror as e:
            raise OSError(f"cannot resolve {host}: {e.strerror}")
        if not found:
            raise OSError(f"cannot resolve {host}: no addresses")
        return self.checked_addresses(host, found)

    async def resolve(self, host: str, port: int) -> list[str]:
        if parse_literal(host) is not None:
            return self.resolve_sync(host, port)
        return await asyncio.to_thread(self.resolve_sync, host, port)


def parse_cidrs(text: str) -> tuple[IPNetwork, ...]:
    out = []
    for part in (text or "").replace(" ", ",").split(","):
        if part:
            out.append(ipaddress.ip_network(part, strict=False))
    return tuple(out)


def policy(settings: Any) -> AddressPolicy:
    return AddressPolicy.from_settings(settings)


# Configuration time ------------------------------------------------------------------------------


# Names are resolved when a destination is configured, but never for longer than this.
RESOLVE_AT_CONFIG_S = 2.0


def check_destination(pol: AddressPolicy, host: str, port: int, field: str) -> None:
    """Refuse a destination the policy forbids, with an Invalid naming ``field``.

    A literal address in any spelling is judged as the address it means; an
    unusual IPv4 spelling that the policy allows is still refused, since tools
    disagree on what it means (``0177.0.0.1`` is 127.0.0.1 to the C library and
    an error to httpx). A name is resolved with a short deadline and judged by
    its answers; a name that does not resolve yet is accepted (it is judged
    again at every connection).
    """
    host = (host or "").strip()
    lit = parse_literal(host)
    if lit is not None:
        addr, canonical = lit
        why = pol.refusal(addr, host if not canonical else None)
        if why:
            raise Invalid(f"Invalid parameter: {field}: {why}", field=field)
        if not canonical:
            raise Invalid(
                f"Invalid parameter: {field}: {host!r} is an unusual spelling of the IPv4 address {addr}; "
                f"write it as {addr}",
                field=field,
            )
        return
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        answers = pool.submit(pol.resolver, host, port).result(timeout=RESOLVE_AT_CONFIG_S)
    except (concurrent.futures.TimeoutError, OSError, UnicodeError):
        return
    finally:
        pool.shutdown(wait=False)
    for a in answers:
        why = pol.refusal(a, host)
        if why:
            raise Invalid(f"Invalid parameter: {field}: {why}", field=field)


def check_url(pol: AddressPolicy, url: str, field: str) -> None:
    """``check_destination`` for the host of an http(s) URL (which httpx may not even parse)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid(f"Invalid parameter: {field}: not a valid URL", field=field)
    check_destination(pol, host, port, field)


# Connection time -----------------------------------------------------------------------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy in front: resolve once, check, connect to the address.

    TLS is unaffected: httpcore starts TLS with the URL's host name as SNI and
    for certificate checks, whichever address the socket reached.
    """

    def __init__(self, pol: AddressPolicy) -> None:
        self.policy = pol
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.policy.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g} s")
        except OSError as e:
            raise httpcore.ConnectError(str(e))
        last: Exception | None = None
        for addr in addresses:
            try:
                return await self._inner.connect_tcp(addr, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise Refused("connections to unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, pol: AddressPolicy, **kw: Any) -> None:
        super().__init__(**kw)
        # httpx does not take a network backend; its pool does. Checked by tests/test_netpolicy.py.
        self._pool._network_backend = GuardedBackend(pol)


def guarded_client(pol: AddressPolicy, *, verify: bool = True, limits: httpx.Limits | None = None,
                   **kw: Any) -> httpx.AsyncClient:
    """An httpx client whose every connection obeys ``pol``. Proxies from the environment are ignored:
    the policy judges the real destination."""
    transport = GuardedTransport(pol, verify=verify, limits=limits or httpx.Limits(), trust_env=False)
    return httpx.AsyncClient(transport=transport, trust_env=False, **kw)


def peer_is_public(response: httpx.Response) -> bool:
    """Whether ``response`` came from a public address (its body is then not internal content)."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return False
    try:
        return classify(str(peer[0])) == "public"
    except ValueError:
        return False


class _GuardedSocket:
    policy: AddressPolicy

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        last: OSError | None = None
        for addr in self.policy.resolve_sync(host, port):
            try:
                return socket.create_connection((addr, port), timeout, self.source_address)  # type: ignore[attr-defined]
            except OSError as e:
                last = e
        assert last is not None
        raise last


class SMTP(_GuardedSocket, smtplib.SMTP):
    """smtplib.SMTP connecting only to addresses ``policy`` allows (STARTTLS still checks the name)."""

    def __init__(self, pol: AddressPolicy, host: str, port: int, timeout: float) -> None:
        self.policy = pol
        super().__init__(host, port, timeout=timeout)


class SMTP_SSL(_GuardedSocket, smtplib.SMTP_SSL):
    def __init__(self, pol: AddressPolicy, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self.policy = pol
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = _GuardedSocket._get_socket(self, host, port, timeout)
        return self.context.wrap_socket(sock, server_hostname=self._host)  # type: ignore[attr-defined]
