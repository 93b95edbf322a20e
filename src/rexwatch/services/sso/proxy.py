"""Sign-in by a reverse proxy's header (``proxy_auth_header``, e.g. ``X-Forwarded-User``).

A proxy that authenticated the person itself (oauth2-proxy, an SSO gateway, Apache with
Kerberos, ...) names them in a header. The header is believed only on connections whose TCP
peer is inside ``proxy_auth_trusted``; from anyone else it is ignored, as if absent, so the
request needs a key or a session like any other. The peer is the socket's own address, not
one from X-Forwarded-For, which the sender writes itself.
"""

from __future__ import annotations

import ipaddress
import threading

from rexwatch.errors import AlreadyExists, Invalid, NotFound
from rexwatch.netpolicy import parse_cidrs
from rexwatch.services.access import Principal
from rexwatch.services.users import UserService, check_username


class ProxyAuth:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()

    def trusts(self, peer: str | None) -> bool:
        if not peer:
            return False
        try:
            addr = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:  # not an address (a unix socket, a test client)
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == net.version and addr in net
                   for net in parse_cidrs(self.runtime.settings.proxy_auth_trusted))

    def principal(self, peer: str | None, value: str, *, user_agent: str = "") -> Principal | None:
        """The user the header names, created if allowed; None when the peer is not trusted or the
        user does not exist and may not be created."""
        if not self.trusts(peer):
            return None
        settings = self.runtime.settings
        try:
            username = check_username(value)
        except Invalid:
            return None
        users = self.runtime.service(UserService)
        try:
            user = users.get(username)
            return None if user.disabled else users.principal(username)
        except NotFound:
            if not settings.proxy_auth_create_users:
                return None
        with self._lock:  # two first requests of one new user at once create it once
            try:
                user = users.create_external(username, settings.proxy_auth_role)
            except AlreadyExists:
                return users.principal(username)
        from rexwatch.services.audit import AuditService

        self.runtime.service(AuditService).record(
            None, "CREATE", "users", resource_id=username, door="console", actor="proxy", ip=peer or "",
            user_agent=user_agent, after={"username": username, "role": user.role},
            details={"role": user.role, "idp": "proxy"})
        return users.principal(username)
