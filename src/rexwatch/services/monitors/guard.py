"""What the prober may connect to: only configured hosts, never link-local/metadata by default.

Every connection (monitor URL, each redirect hop, TCP and DNS targets) resolves
the host first and refuses it when any address is link-local (169.254.0.0/16,
fe80::/10 — where cloud metadata services live) unless the
``probe_allow_link_local`` setting is on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket


class Refused(Exception):
    """The address is not allowed; the check fails with reason ``refused``."""


def _bad(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_link_local or str(addr) == "fd00:ec2::254"


async def check_host(host: str, port: int, allow_link_local: bool) -> None:
    if allow_link_local:
        return
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        literal = True
    except ValueError:
        literal = False
    if literal:
        if _bad(host):
            raise Refused(f"{host} is a link-local/metadata address; set probe_allow_link_local to allow it")
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise OSError(f"cannot resolve {host}: {e.strerror}")
    for info in infos:
        if _bad(info[4][0]):
            raise Refused(
                f"{host} resolves to link-local/metadata address {info[4][0]}; "
                "set probe_allow_link_local to allow it"
            )
