"""Dashboards: PutDashboard, GetDashboard, ListDashboards, DeleteDashboards with CloudWatch's rules."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from rexwatch.errors import Invalid, InvalidDashboard, InvalidToken, MissingParameter, NotFound
from rexwatch.services.dashboards import body as bodies
from rexwatch.services.dashboards.model import Dashboard, DashboardEntry, ValidationMessage
from rexwatch.stores.control.dashboards_repo import DashboardsRepo

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
PAGE = 1000
# CloudWatch allows 500 dashboards per account; a self-hosted server has no reason to stop there,
# but a bound keeps ListDashboards and the console list cheap.
MAX_DASHBOARDS = 5000
# A body larger than this is refused before it is parsed.
MAX_BODY_BYTES = 1024 * 1024


def check_name(name: Any, field: str = "DashboardName") -> str:
    if name is None or name == "":
        raise MissingParameter("The parameter {field} is required.", field=field)
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid("The value for field {field} contains invalid characters. It can only contain "
                      "alphanumerics, dash (-) and underscore (_).", field=field)
    return name


class DashboardsService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.repo = DashboardsRepo(runtime.control)

    def arn(self, name: str) -> str:
        # Dashboards are global in CloudWatch: their ARNs carry no region.
        return f"arn:aws:cloudwatch::{self.runtime.settings.account_id}:dashboard/{name}"

    def put(self, name: str, body: str | None) -> list[ValidationMessage]:
        """Store ``body`` as given; refuse it with every error at once; return the warnings."""
        check_name(name)
        if body is None:
            raise MissingParameter("The parameter {field} is required.", field="DashboardBody")
        if len(body.encode()) > MAX_BODY_BYTES:
            raise InvalidDashboard([ValidationMessage("", f"The dashboard body is larger than {MAX_BODY_BYTES} bytes")])
        errors, warnings = bodies.validate(body, self.runtime.settings.region)
        if errors:
            raise InvalidDashboard(errors)
        if self.repo.get(name) is None and len(self.repo.list(None, None, MAX_DASHBOARDS + 1)) >= MAX_DASHBOARDS:
            from rexwatch.errors import LimitExceeded

            raise LimitExceeded(f"At most {MAX_DASHBOARDS} dashboards can exist.")
        self.repo.put(name, body, int(time.time() * 1000))
        return warnings

    def get(self, name: str) -> Dashboard:
        check_name(name)
        found = self.repo.get(name)
        if found is None:
            raise NotFound(f"Dashboard {name} does not exist")
        return Dashboard(name, self.arn(name), found[0], found[1])

    def list(self, prefix: str | None = None, next_token: str | None = None) -> tuple[list[DashboardEntry], str | None]:
        if prefix is not None and (not isinstance(prefix, str) or not re.match(r"^[A-Za-z0-9_-]{0,255}$", prefix)):
            raise Invalid("The value for field {field} contains invalid characters. It can only contain "
                          "alphanumerics, dash (-) and underscore (_).", field="DashboardNamePrefix")
        after = None
        if next_token:
            try:
                after = base64.urlsafe_b64decode(next_token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise InvalidToken("The NextToken is invalid.", field="NextToken")
            check_name(after, "NextToken")
        rows = self.repo.list(prefix or None, after, PAGE + 1)
        token = None
        if len(rows) > PAGE:
            rows = rows[:PAGE]
            token = base64.urlsafe_b64encode(rows[-1][0].encode()).decode()
        return [DashboardEntry(n, self.arn(n), t, s) for n, t, s in rows], token

    def delete(self, names: list[str]) -> None:
        if not names:
            raise MissingParameter("The parameter {field} is required.", field="DashboardNames")
        for i, n in enumerate(names, 1):
            check_name(n, f"DashboardNames.member.{i}")
        missing = self.repo.delete_all(list(dict.fromkeys(names)))
        if missing:
            # CloudWatch deletes nothing when any named dashboard is missing.
            raise NotFound(f"The specified dashboard does not exist. [{', '.join(sorted(missing))}]")

    def apply(self, items: dict[str, str], prune: bool = False) -> dict[str, list[str]]:
        """Make the named dashboards hold these bodies; idempotent. ``prune`` deletes the others.

        Every body is checked before anything is written, so a bad file changes nothing. A body
        whose JSON equals the stored one (whitespace and key order aside) counts as unchanged and
        is not rewritten, so its LastModified stays.
        """
        if not isinstance(items, dict):
            raise Invalid("dashboards must be an object of name to body", field="dashboards")
        if len(items) > MAX_DASHBOARDS:
            from rexwatch.errors import LimitExceeded

            raise LimitExceeded(f"At most {MAX_DASHBOARDS} dashboards can exist.")
        for name, body in items.items():
            check_name(name)
            if not isinstance(body, str):
                raise Invalid(f"dashboard {name}: the body must be a string of JSON", field=name)
            if len(body.encode()) > MAX_BODY_BYTES:
                raise Invalid(f"dashboard {name}: the body is larger than {MAX_BODY_BYTES} bytes", field=name)
            errors, _ = bodies.validate(body, self.runtime.settings.region)
            if errors:
                detail = "; ".join(f"{m.data_path or '/'}: {m.message}" for m in errors[:20])
                raise Invalid(f"dashboard {name}: the body is invalid: {detail}", field=name)
        out: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
        now = int(time.time() * 1000)
        for name, body in items.items():
            found = self.repo.get(name)
            if found is None:
                self.repo.put(name, body, now)
                out["created"].append(name)
            elif bodies.parse(found[0]) == bodies.parse(body):
                out["unchanged"].append(name)
            else:
                self.repo.put(name, body, now)
                out["updated"].append(name)
        if prune:
            stale = [n for n, _, _ in self.repo.list(None, None, MAX_DASHBOARDS + 1) if n not in items]
            if stale:
                self.repo.delete_all(stale)
            out["deleted"] = stale
        return out
