"""Teams: which users belong to which team, and which team a log group or an alarm belongs to.

What a caller may see follows from this in ``rexwatch.services.access`` (``visible_teams``); this
service keeps the memberships and hands the doors a principal with its teams filled in
(``with_teams``). A key belonging to a user has the user's teams; a service-account key has none.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.access import TEAM_TAG, Principal, may_see, sees_admin_only, team_for_new
from rexwatch.stores.control.teams_repo import TeamsRepo
from rexwatch.stores.control.users_repo import UsersRepo

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
KINDS = ("log_group", "alarm")
# Memberships are read at most this often per user: a change applies to running sessions and
# keys within this many seconds, and a request costs no extra query.
CACHE_S = 2.0


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    created_at: datetime
    members: list[str] = field(default_factory=list)
    log_groups: int = 0
    alarms: int = 0

    def view(self) -> dict:
        return {"name": self.name, "created_at": self.created_at.isoformat(), "members": self.members,
                "log_groups": self.log_groups, "alarms": self.alarms}


def check_team_name(name: str) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not _NAME.fullmatch(name):
        raise Invalid("team name must be 1-100 letters, digits or . _ - (starting with a letter or digit)",
                      field="team")
    return name


class TeamService:
    def __init__(self, runtime, clock=time.monotonic) -> None:
        self.runtime = runtime
        self.repo = TeamsRepo(runtime.control)
        self.clock = clock
        self._cache: dict[int, tuple[float, frozenset[int]]] = {}
        self._lock = threading.Lock()

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()

    # Teams -------------------------------------------------------------------------------------------

    def create(self, name: str) -> Team:
        name = check_team_name(name)
        self.repo.insert(name, datetime.now(UTC))
        return self.get(name)

    def _row(self, name: str):
        row = self.repo.get(check_team_name(name))
        if row is None:
            raise NotFound(f"no team named {name!r}", field="team")
        return row

    def get(self, name: str) -> Team:
        # Looked up first: inside the generator a missing team would surface as StopIteration (a 500)
        # whenever no team exists at all.
        row = self._row(name)
        return next(t for t in self.list() if t.id == row.id)

    def list(self) -> list[Team]:
        members = self.repo.members()
        counts = self.repo.owned_counts()
        return [Team(r.id, r.name, r.created_at, members.get(r.id, []), counts.get(r.id, {}).get("log_group", 0),
                     counts.get(r.id, {}).get("alarm", 0)) for r in self.repo.all()]

    def delete(self, name: str) -> Team:
        team = self.get(name)
        self.repo.remove(team.id)
        self._forget()
        return team

    def id_of(self, name: str) -> int:
        return self._row(name).id

    def names(self, ids) -> dict[int, str]:
        return self.repo.names(sorted(i for i in ids if i is not None))

    # Members -----------------------------------------------------------------------------------------

    def _user_id(self, username: str) -> int:
        row = UsersRepo(self.runtime.control).get(username)
        if row is None:
            raise NotFound(f"no user named {username!r}", field="username")
        return row.id

    def add_member(self, team: str, username: str) -> bool:
        """Add a user to a team; False if it already was a member."""
        added = self.repo.add_member(self.id_of(team), self._user_id(username))
        self._forget()
        return added

    def remove_member(self, team: str, username: str) -> bool:
        removed = self.repo.remove_member(self.id_of(team), self._user_id(username))
        if not removed:
            raise NotFound(f"{username!r} is not a member of team {team!r}", field="username")
        self._forget()
        return removed

    def teams_of(self, user_id: int | None) -> frozenset[int]:
        if user_id is None:
            return frozenset()
        now = self.clock()
        with self._lock:
            hit = self._cache.get(user_id)
        if hit and hit[0] > now:
            return hit[1]
        teams = self.repo.teams_of(user_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[user_id] = (now + CACHE_S, teams)
        return teams

    def with_teams(self, principal: Principal | None) -> Principal | None:
        """The principal with the teams of its user (a user, or a key belonging to a user)."""
        if principal is None or principal.user_id is None:
            return principal
        return replace(principal, teams=self.teams_of(principal.user_id))

    # Resources ---------------------------------------------------------------------------------------

    def assign(self, kind: str, name: str, team: str | None) -> int | None:
        """Give a log group or alarm to a team, or to no team (``team`` None); an admin's act."""
        if kind not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
        team_id = self.id_of(team) if team else None
        if not self.repo.set_owner(kind, name, team_id):
            what = "log group" if kind == "log_group" else "alarm"
            raise NotFound(f"no {what} named {name!r}", field="name")
        return team_id

    def check_groups_visible(self, names) -> None:
        """NotFound for the first named log group the bound caller may not see (as if it did not
        exist); groups that do not exist yet are left to the caller's own checks."""
        audit = getattr(self.runtime.settings, "audit_log_group", None)
        for name in names:
            exists, team_id = self.repo.owner("log_group", name)
            if exists and (not may_see(team_id) or (name == audit and not sees_admin_only())):
                raise NotFound(f"The specified log group does not exist: {name}", field="logGroupNames")

    def owner_of_new(self, tags: dict[str, str] | None) -> int | None:
        """The team of a log group or alarm being created by the bound caller, from the
        ``rexwatch:team`` tag if one is given (see ``access.team_for_new``)."""
        named = (tags or {}).get(TEAM_TAG)
        if named is None:
            return team_for_new(None)
        return team_for_new(self.id_of(named), named)
