"""Recording changes made through the REST API and the console in the audit trail.

The guard hands every state-changing request of an authenticated caller here: the request
body is kept (up to ``KEEP_BYTES``) as it streams to the route, and once the route has answered
with a success, one event is written: who, the action (CREATE for POST, UPDATE for PUT/PATCH,
DELETE), the resource and its id from the path, and the submitted fields with secrets
redacted. Routes that record a richer event themselves (users: before -> after) set
``state["audited"]``. What the ``ingest`` permission covers (log events, metric data, agent
reports, and the log groups and streams agents create as they go) is telemetry, not
configuration, and is not recorded.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import anyio
import orjson
from starlette.types import Message, Receive, Scope

from rexwatch.services.access import console_action, rest_action

log = logging.getLogger("rexwatch.audit")

KEEP_BYTES = 64 * 1024
VERBS = {"POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}
# Console forms whose one field says what they do.
_FORM_NOISE = {"csrf"}


class Recorder:
    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.body = bytearray()
        self.status = 0
        self._receive = receive

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and len(self.body) < KEEP_BYTES:
            self.body.extend(message.get("body", b"")[: KEEP_BYTES - len(self.body)])
        return message

    def action(self) -> str:
        path, method = self.scope["path"], self.scope["method"]
        if path.startswith("/api/"):
            route = self.scope.get("route")
            template = getattr(route, "path_format", None) or path
            if not template.startswith("/api/v1"):
                template = "/api/v1" + template
            return rest_action(method, template)
        return console_action(method, path)

    def fields(self) -> Any:
        if not self.body:
            return None
        ctype = dict(self.scope["headers"]).get(b"content-type", b"").decode("latin-1")
        try:
            if "json" in ctype:
                return orjson.loads(bytes(self.body))
            if "x-www-form-urlencoded" in ctype:
                return {k: v for k, v in parse_qsl(self.body.decode("utf-8", "replace")) if k not in _FORM_NOISE}
        except (orjson.JSONDecodeError, ValueError):
            pass
        return {"body_bytes": len(self.body)}

    async def finish(self, runtime) -> None:
        state = self.scope.get("state", {})
        if not 200 <= self.status < 400 or state.get("audited"):
            return
        action = self.action()
        if action not in ("edit", "admin"):
            return
        path = self.scope["path"]
        parts = [p for p in (path[len("/api/v1/"):] if path.startswith("/api/v1/") else path.lstrip("/")).split("/") if p]
        resource = parts[0] if parts else "console"
        resource_id = "/".join(parts[1:])
        query = self.scope.get("query_string", b"").decode("latin-1")
        headers = dict(self.scope["headers"])
        client = self.scope.get("client") or ("", 0)
        door = "rest" if path.startswith("/api/") else "console"
        from rexwatch.services.audit import AuditService

        def write() -> None:
            runtime.service(AuditService).record(
                state.get("principal"), VERBS.get(self.scope["method"], self.scope["method"]), resource,
                resource_id=resource_id, door=door, ip=client[0] or "",
                user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
                after=self.fields(), details={"path": path, "query": query} if query else {"path": path})

        try:
            await anyio.to_thread.run_sync(write)
        except Exception:  # the change is done; a missing audit line is logged, not raised
            log.exception("audit event for %s %s not written", self.scope["method"], path)

