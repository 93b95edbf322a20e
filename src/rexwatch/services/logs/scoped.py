"""The log group catalog as the bound caller sees it: groups of other teams do not exist.

``LogsService.catalog`` is this wrapper, so every door and every service that looks a group up
by name (FilterLogEvents, Insights, metric filters, live tail, exports, the console) or lists
groups gets the team check of ``rexwatch.services.access`` without knowing about teams. A group
the caller may not see is answered exactly like a group that does not exist. The audit log
group is the admins' alone: other callers do not see it at all, whichever door they use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rexwatch.errors import NotFound
from rexwatch.services import access
from rexwatch.services.logs.model import Group
from rexwatch.stores.control.logs_repo import LogsRepo


def _missing(name: str) -> NotFound:
    return NotFound(f"The specified log group does not exist: {name}")


class ScopedCatalog:
    def __init__(self, repo: LogsRepo, admin_only: Callable[[], str] = lambda: "") -> None:
        self.repo = repo
        self.admin_only = admin_only

    def _visible(self, g: Group) -> bool:
        if g.name == self.admin_only() and not access.sees_admin_only():
            return False
        return access.may_see(g.team_id)

    def __getattr__(self, name: str) -> Any:  # streams, tombstones: reached through a visible group
        return getattr(self.repo, name)

    def create_group(self, name: str, *, team_id: int | None = None, **kw: Any) -> Group:
        return self.repo.create_group(name, team_id=team_id, **kw)

    def group(self, name: str, *, cached: bool = False) -> Group:
        g = self.repo.group(name, cached=cached)
        if not self._visible(g):
            raise _missing(name)
        return g

    def groups(self, names: list[str]) -> list[Group]:
        found = self.repo.groups(names)
        for g in found:
            if not self._visible(g):
                raise _missing(g.name)
        return found

    def list_groups(self, **kw: Any) -> list[Group]:
        hidden = [] if access.sees_admin_only() else [self.admin_only()]
        return self.repo.list_groups(teams=access.visible_teams(), exclude=hidden, **kw)

    def update_group(self, name: str, **values: Any) -> Group:
        self.group(name)
        return self.repo.update_group(name, **values)

    def delete_group(self, name: str) -> Group:
        self.group(name)
        return self.repo.delete_group(name)
