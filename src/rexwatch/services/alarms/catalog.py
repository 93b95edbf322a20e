"""The alarms catalog: create, update, describe and delete alarms, switch their actions, tag them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rexwatch.errors import Conflict, Invalid, InvalidToken, LimitExceeded, NotFound
from rexwatch.services import access
from rexwatch.services.alarms.composites import Composites
from rexwatch.services.alarms.definitions import (
    MAX_TAGS,
    STATES,
    alarm_kinds,
    check_tags,
    validate_composite_alarm,
    validate_metric_alarm,
)
from rexwatch.services.alarms.history import History, page_token, read_token
from rexwatch.services.alarms.log_definitions import validate_log_alarm
from rexwatch.services.alarms.model import (
    Actions,
    Alarm,
    AlarmDefinition,
    AlarmRecord,
    CompositeAlarmDefinition,
    Dimension,
    LogAlarmDefinition,
    Tag,
    alarm_type_of,
)
from rexwatch.services.alarms.mute_rules import MuteRules
from rexwatch.stores.control.alarms_repo import AlarmsRepo
from rexwatch.stores.control.log_alarm_keys_repo import LogAlarmKeysRepo
from rexwatch.stores.control.mutes_repo import MutesRepo

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import Context

MAX_DESCRIBE = 100


def config_view(
    name: str,
    *,
    description: str | None,
    actions_enabled: bool,
    actions: Actions,
    namespace: str | None,
    metric_name: str | None,
    dimensions: Sequence[Dimension],
    config: dict[str, Any],
) -> dict[str, Any]:
    """An alarm's definition as CloudWatch's ConfigurationUpdate history data shows it."""
    view: dict[str, Any] = {
        "alarmName": name,
        "alarmDescription": description,
        "actionsEnabled": actions_enabled,
        "alarmActions": list(actions.alarm),
        "okActions": list(actions.ok),
        "insufficientDataActions": list(actions.insufficient_data),
        "namespace": namespace,
        "metricName": metric_name,
    }
    for k, v in config.items():
        if v is not None and k != "metrics":
            view["".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_")))] = v
    if "period" in config:  # a metric alarm
        view["dimensions"] = [{"Name": d.name, "Value": d.value} for d in dimensions]
    return {k: v for k, v in view.items() if v is not None}


def record_view(rec: AlarmRecord) -> dict[str, Any]:
    return config_view(
        rec.name,
        description=rec.description,
        actions_enabled=rec.actions_enabled,
        actions=rec.actions,
        namespace=rec.namespace,
        metric_name=rec.metric_name,
        dimensions=rec.dimensions,
        config=rec.config,
    )


def alarm_view(a: Alarm) -> dict[str, Any]:
    return config_view(
        a.name,
        description=a.description,
        actions_enabled=a.actions_enabled,
        actions=Actions(tuple(a.alarm_actions), tuple(a.ok_actions), tuple(a.insufficient_data_actions)),
        namespace=a.namespace,
        metric_name=a.metric_name,
        dimensions=a.dimensions,
        config=a.config,
    )


class Catalog:
    def __init__(
        self,
        ctx: Context,
        repo: AlarmsRepo,
        mutes_repo: MutesRepo,
        history: History,
        composites: Composites,
        mutes: MuteRules,
    ) -> None:
        self.ctx = ctx
        self.repo = repo
        self.mutes_repo = mutes_repo
        self.history = history
        self.composites = composites
        self.mutes = mutes

    # ------------------------------------------------------------ PutMetricAlarm / PutCompositeAlarm

    def put_metric_alarm(self, d: AlarmDefinition) -> None:
        """Create or update a metric alarm. Updating keeps its state."""
        self._upsert(validate_metric_alarm(d, self.ctx.account))

    def put_composite_alarm(self, d: CompositeAlarmDefinition) -> None:
        rec = validate_composite_alarm(d, self.ctx.account)
        children = rec.config["children"]
        with self.repo.connect() as conn:
            # A rule may name only alarms the caller sees: another team's alarm "does not exist".
            known = {a.name for a in self.repo.describe(conn, names=children, teams=access.visible_teams())}
            for c in children:
                if c not in known:
                    raise Invalid(f"AlarmRule refers to alarm {c!r}, which does not exist", field="AlarmRule")
            self.composites.check_cycle(conn, rec.name, children)
        self._upsert(rec)

    def put_log_alarm(self, d: LogAlarmDefinition) -> None:
        """Create or update a log alarm (rexwatch's own kind). Updating keeps its state."""
        rec = validate_log_alarm(d, self.ctx.account)
        # Its queries run with no caller's limits (in the evaluator): the groups must be the caller's.
        self._teams().check_groups_visible(rec.config.get("log_group_names") or [])
        self._upsert(rec)

    def _teams(self):
        from rexwatch.services.teams import TeamService

        return self.ctx.runtime.service(TeamService)

    def _upsert(self, rec: AlarmRecord) -> None:
        now = self.ctx.now()
        # The team tag names the alarm's owner (kept in its own column, not among the tags).
        team_tag = {t.key: t.value for t in rec.tags if t.key == access.TEAM_TAG}
        if team_tag:
            rec = dataclasses.replace(rec, tags=[t for t in rec.tags if t.key != access.TEAM_TAG])
        # Resolved before the transaction: naming a team is checked whether the alarm is new or not.
        named_team = self._teams().owner_of_new(team_tag) if team_tag else None
        with self.repo.begin() as conn:
            existing = self.repo.get(conn, rec.name)
            if existing is not None and not access.may_see(existing.team_id):
                # Names are unique on the server: say it is taken, show nothing of it.
                raise Conflict(f"Alarm {rec.name} already exists and belongs to another team", field="AlarmName")
            if existing is not None and existing.kind != rec.kind:
                other = {"composite": "a composite", "log": "a log"}.get(existing.kind, "a metric")
                raise Conflict(f"Alarm {rec.name} already exists as {other} alarm", field="AlarmName")
            alarm_type = alarm_type_of(rec.kind)
            after = record_view(rec)
            if existing is None:
                self.repo.insert(conn, rec, now, named_team if team_tag else access.team_for_new(None))
                summary, data = (
                    f'Alarm "{rec.name}" created',
                    {"type": "Create", "version": "1.0", "createdAlarm": after},
                )
            else:
                before = alarm_view(existing)
                self.repo.update_definition(conn, existing.id, rec, now)
                if team_tag:  # moving it to another team: the caller must be in that one too
                    self.repo.set_fields(conn, existing.id, team_id=named_team)
                summary, data = (
                    f'Alarm "{rec.name}" updated',
                    {
                        "type": "Update",
                        "version": "1.0",
                        "updatedAlarm": after,
                        "originalUpdatedFields": {k: v for k, v in before.items() if after.get(k) != v},
                    },
                )
            self.history.record(conn, rec.name, alarm_type, now, "ConfigurationUpdate", summary, data)
            if rec.kind == "composite":
                self.composites.evaluate(conn, now, names=[rec.name])
        self.ctx.wake()

    # ------------------------------------------------------------ Describe*

    def get(self, name: str) -> Alarm:
        with self.repo.connect() as conn:
            a = self.repo.get(conn, name)
            if a is None or not access.may_see(a.team_id):
                raise NotFound(f"Alarm {name} does not exist", field="AlarmName")
            a.muted_by = self.mutes.muting(conn, self.ctx.now()).get(a.name, [])
            return a

    def describe_alarms(
        self,
        *,
        names: Sequence[str] | None = None,
        prefix: str | None = None,
        types: Sequence[str] | None = None,
        state: str | None = None,
        action_prefix: str | None = None,
        children_of: str | None = None,
        parents_of: str | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[Alarm], str | None]:
        if names and prefix:
            raise Invalid("AlarmNames and AlarmNamePrefix cannot be used together", field="AlarmNamePrefix")
        if state is not None and state not in STATES:
            raise Invalid(f"StateValue must be one of {', '.join(STATES)}", field="StateValue")
        limit = int(max_records or MAX_DESCRIBE)
        if not 1 <= limit <= MAX_DESCRIBE:
            raise Invalid(f"MaxRecords must be between 1 and {MAX_DESCRIBE}", field="MaxRecords")
        if names and len(names) > MAX_DESCRIBE:
            raise LimitExceeded(f"at most {MAX_DESCRIBE} AlarmNames", field="AlarmNames")
        kinds: list[str] | None = alarm_kinds(types)
        after = read_token(next_token)
        if after is not None and not isinstance(after, str):
            raise InvalidToken("NextToken is not valid", field="NextToken")
        with self.repo.connect() as conn:
            if children_of or parents_of:
                if names or prefix or state or action_prefix:
                    raise Invalid(
                        "ChildrenOfAlarmName and ParentsOfAlarmName cannot be combined with other filters",
                        field="ChildrenOfAlarmName",
                    )
                graph = self.repo.composite_children(conn)
                if children_of:
                    found = self.repo.get(conn, children_of)
                    if found is None or not access.may_see(found.team_id):
                        raise NotFound(f"Alarm {children_of} does not exist", field="AlarmName")
                    if children_of not in graph:
                        raise Invalid(f"{children_of} is not a composite alarm", field="ChildrenOfAlarmName")
                    names = graph[children_of]
                else:
                    names = [p for p, kids in graph.items() if parents_of in kids]
                kinds = None  # the family, whatever its kinds
            out: list[Alarm] = []
            more = False
            # Action prefixes look inside JSON lists: filtered here, reading lazily.
            family = bool(children_of or parents_of)
            wanted = list(names) if (family or names) else None
            for a in self.repo.describe(
                conn, kinds=kinds, names=wanted, prefix=prefix, state=state, after=after,
                teams=access.visible_teams(),
            ):
                if action_prefix and not any(
                    x.startswith(action_prefix)
                    for x in (*a.alarm_actions, *a.ok_actions, *a.insufficient_data_actions)
                ):
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(a)
            muting = self.mutes.muting(conn, self.ctx.now())
        for a in out:
            a.muted_by = muting.get(a.name, [])
        return out, (page_token(out[-1].name) if more and out else None)

    def describe_alarms_for_metric(
        self,
        *,
        namespace: str | None,
        metric_name: str | None,
        statistic: str | None = None,
        extended_statistic: str | None = None,
        dimensions: Sequence[Dimension] | None = None,
        period: int | None = None,
        unit: str | None = None,
    ) -> list[Alarm]:
        if not namespace or not metric_name:
            raise Invalid("MetricName and Namespace are required", field="MetricName")
        with self.repo.connect() as conn:
            found = self.repo.for_metric(conn, namespace, metric_name, dimensions, access.visible_teams())

        def keep(a: Alarm) -> bool:
            c = a.config
            return (
                (statistic is None or c.get("statistic") == statistic)
                and (extended_statistic is None or c.get("extended_statistic") == extended_statistic)
                and (period is None or c.get("period") == int(period))
                and (unit is None or c.get("unit") == unit)
            )

        return [a for a in found if keep(a)]

    # ------------------------------------------------------------ DeleteAlarms / actions

    def delete_alarms(self, names: Sequence[str]) -> None:
        if not names:
            raise Invalid("AlarmNames is required", field="AlarmNames")
        if len(names) > MAX_DESCRIBE:
            raise LimitExceeded(f"at most {MAX_DESCRIBE} AlarmNames", field="AlarmNames")
        with self.repo.begin() as conn:
            found = self.repo.kinds(conn, list(names))
            teams = access.visible_teams()
            if teams is not None:  # another team's alarm is reported missing, and left alone
                seen = {a.name for a in self.repo.describe(conn, names=list(found), teams=teams)}
                found = {n: k for n, k in found.items() if n in seen}
            missing = [n for n in names if n not in found]
            if missing:
                raise NotFound(f"Alarm(s) {', '.join(missing)} do not exist", field="AlarmNames")
            for parent, kids in self.repo.composite_children(conn).items():
                if parent in found:
                    continue
                used = set(kids) & set(found)
                if used:
                    raise Invalid(
                        f"Alarm {sorted(used)[0]} is used in the rule of composite alarm {parent}; delete or "
                        "change that alarm first",
                        field="AlarmNames",
                    )
            now = self.ctx.now()
            for n in names:
                self.history.record(
                    conn,
                    n,
                    alarm_type_of(found[n]),
                    now,
                    "ConfigurationUpdate",
                    f'Alarm "{n}" deleted',
                    {"type": "Delete", "version": "1.0", "deletedAlarm": {"alarmName": n}},
                )
            self.repo.delete(conn, list(names))
            LogAlarmKeysRepo().remove_alarm(conn, [n for n in names if found[n] == "log"])

    def set_actions_enabled(self, names: Sequence[str], enabled: bool) -> None:
        if not names:
            raise Invalid("AlarmNames is required", field="AlarmNames")
        now = self.ctx.now()
        with self.repo.begin() as conn:
            teams = access.visible_teams()
            if teams is not None:  # names the caller cannot see are skipped, like missing ones
                names = [a.name for a in self.repo.describe(conn, names=list(names), teams=teams)]
                if not names:
                    return
            for name, kind, was in self.repo.actions_enabled(conn, names):
                if was != enabled:
                    self.history.record(
                        conn,
                        name,
                        alarm_type_of(kind),
                        now,
                        "ConfigurationUpdate",
                        f'Alarm "{name}" updated',
                        {
                            "type": "Update",
                            "version": "1.0",
                            "updatedAlarm": {"alarmName": name, "actionsEnabled": enabled},
                            "originalUpdatedFields": {"actionsEnabled": was},
                        },
                    )
            self.repo.set_actions_enabled(conn, names, enabled, now)

    # ------------------------------------------------------------ tags (alarms and mute rules, by ARN)

    def _tag_target(self, arn: str) -> tuple[str, str]:
        """(``alarm`` or ``alarm-mute-rule``, name) of a CloudWatch ARN."""
        prefix = f"arn:aws:cloudwatch:{self.ctx.region}:{self.ctx.account}:"
        if not isinstance(arn, str) or not arn.startswith("arn:aws:cloudwatch:"):
            raise Invalid(
                f"ResourceARN {arn!r} is not a CloudWatch alarm or mute rule ARN", field="ResourceARN"
            )
        rest = arn[len(prefix) :] if arn.startswith(prefix) else arn.split(":", 5)[-1]
        kind, _, name = rest.partition(":")
        if kind not in ("alarm", "alarm-mute-rule"):
            raise Invalid(
                f"ResourceARN {arn!r} is not a CloudWatch alarm or mute rule ARN", field="ResourceARN"
            )
        return kind, name

    def _tags(self, conn, kind: str, name: str) -> list[Tag]:
        found = self.repo.get(conn, name) if kind == "alarm" else self.mutes_repo.get(conn, name)
        if found is None or (kind == "alarm" and not access.may_see(found.team_id)):
            what = "Alarm" if kind == "alarm" else "Alarm mute rule"
            raise NotFound(f"{what} {name} does not exist", field="ResourceARN")
        return list(found.tags)

    def _set_tags(self, conn, kind: str, name: str, tags: list[Tag]) -> None:
        (self.repo if kind == "alarm" else self.mutes_repo).set_tags(conn, name, tags)

    def list_tags(self, arn: str) -> list[Tag]:
        kind, name = self._tag_target(arn)
        with self.repo.connect() as conn:
            return self._tags(conn, kind, name)

    def tag_resource(self, arn: str, tags: Sequence[Tag]) -> None:
        check_tags(tags)
        if any(t.key == access.TEAM_TAG for t in tags):
            # The owner is not a tag to flip afterwards: it decides who may see the alarm at all.
            raise Invalid(f"the tag {access.TEAM_TAG!r} names an alarm's team when it is put (PutMetricAlarm, "
                          "PutCompositeAlarm); an admin moves an alarm with 'rexwatch teams assign'", field="Tags")
        kind, name = self._tag_target(arn)
        with self.repo.begin() as conn:
            merged = {t.key: t.value for t in self._tags(conn, kind, name)}
            merged.update({t.key: t.value for t in tags})
            if len(merged) > MAX_TAGS:
                raise LimitExceeded(f"a resource has at most {MAX_TAGS} tags", field="Tags")
            self._set_tags(conn, kind, name, [Tag(k, v) for k, v in merged.items()])

    def untag_resource(self, arn: str, keys: Sequence[str]) -> None:
        kind, name = self._tag_target(arn)
        drop = set(keys)
        with self.repo.begin() as conn:
            kept = [t for t in self._tags(conn, kind, name) if t.key not in drop]
            self._set_tags(conn, kind, name, kept)
