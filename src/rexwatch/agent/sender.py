"""Sending buffered payloads to the server's agent endpoints, oldest first."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

import httpx

from rexwatch.agent.config import ServerConfig

log = logging.getLogger(__name__)


class Outcome(Enum):
    SENT = "sent"
    # The server refused this payload for what it holds; retrying cannot help, so it is dropped.
    REJECTED = "rejected"
    # The server is away, busy or refuses our key: keep everything and try again later.
    RETRY = "retry"


class Sender:
    def __init__(self, cfg: ServerConfig) -> None:
        headers = {"User-Agent": "rexwatch-agent"}
        if cfg.api_key:
            headers["Authorization"] = f"Bearer {cfg.api_key}"
        self.client = httpx.Client(base_url=cfg.endpoint.rstrip("/"), headers=headers, timeout=cfg.timeout_s)
        self.last_error = ""

    def send(self, payload: dict[str, Any]) -> Outcome:
        kind = payload.get("kind")
        try:
            r = self.client.post(f"/api/v1/agent/{kind}", json=payload)
        except httpx.HTTPError as e:
            self.last_error = f"cannot reach the server: {e}"
            return Outcome.RETRY
        if r.status_code < 300:
            self.last_error = ""
            return Outcome.SENT
        try:
            message = r.json().get("error", {}).get("message", r.text[:200])
        except ValueError:
            message = r.text[:200]
        self.last_error = f"HTTP {r.status_code}: {message}"
        if r.status_code in (401, 403, 404, 408, 409, 413, 425, 429) or r.status_code >= 500:
            # 413 is kept too: the agent splits payloads far below the server's limits, so a 413
            # means a lowered server limit that an operator should fix, not data to throw away.
            return Outcome.RETRY
        log.warning("server rejected a %s payload: %s", kind, self.last_error)
        return Outcome.REJECTED

    def close(self) -> None:
        self.client.close()
