"""What teams cost: listing log groups and alarms as an admin (no filter) against a member of one team
(the team filter in SQL), and the per-request price of binding a caller with its teams.

In-process, on the services every door calls (the doors add the same constant either way):

- DescribeLogGroups, every page of 50, over ``--groups`` groups spread over ``--teams`` teams plus
  unowned ones: as an admin, and as a member of one team;
- DescribeAlarms, every page of 100, over ``--alarms`` alarms spread the same way;
- ``TeamService.with_teams`` for a user (cached, and after the cache is cleared), and a cached
  group lookup on the ingest path with and without a bound caller.

Usage: python bench/bench_teams.py [--groups 2000] [--alarms 1000] [--teams 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time
from pathlib import Path


def _best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument("--alarms", type=int, default=1000)
    ap.add_argument("--teams", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()

    from rexwatch.services import access
    from rexwatch.services.alarms import AlarmsService
    from rexwatch.services.alarms.model import AlarmDefinition
    from rexwatch.services.logs import LogsService
    from rexwatch.services.teams import TeamService
    from rexwatch.services.users import UserService
    from rexwatch.stores.control.teams_repo import TeamsRepo
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import make_runtime

    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        rt = make_runtime(Path(d) / "data", engine, workers="none")
        logs, alarms, teams = rt.service(LogsService), rt.service(AlarmsService), rt.service(TeamService)
        rt.service(UserService).create("member", "a long bench password", "editor")
        ids = [teams.create(f"t{i}").id for i in range(a.teams)]
        teams.add_member("t0", "member")
        repo = TeamsRepo(rt.control)
        # One share in (teams + 1) is unowned: those every member sees.
        for i in range(a.groups):
            name = f"/bench/g{i:05d}"
            logs.create_log_group(name)
            owner = i % (a.teams + 1)
            if owner < a.teams:
                repo.set_owner("log_group", name, ids[owner])
        for i in range(a.alarms):
            name = f"bench-{i:05d}"
            alarms.put_metric_alarm(AlarmDefinition(
                name=name, namespace="Bench", metric_name="m", statistic="Average", period=60,
                evaluation_periods=1, threshold=1.0, comparison_operator="GreaterThanThreshold"))
            owner = i % (a.teams + 1)
            if owner < a.teams:
                repo.set_owner("alarm", name, ids[owner])
        member = teams.with_teams(rt.service(UserService).principal("member"))
        admin = access.Principal("user", "root", "admin", user_id=None)

        def list_groups():
            n, token = 0, None
            while True:
                page, token = logs.describe_log_groups(limit=50, next_token=token)
                n += len(page)
                if not token:
                    return n

        def list_alarms():
            n, token = 0, None
            while True:
                page, token = alarms.describe_alarms(max_records=100, next_token=token)
                n += len(page)
                if not token:
                    return n

        out = {}
        for who, p in (("admin", admin), ("member of one team", member)):
            with access.acting_as(p):
                seen_g, seen_a = list_groups(), list_alarms()
                out[who] = (seen_g, _best(list_groups, a.rounds), seen_a, _best(list_alarms, a.rounds))

        n = 20_000
        teams.with_teams(member)
        t = time.perf_counter()
        for _ in range(n):
            teams.with_teams(member)
        cached_us = (time.perf_counter() - t) / n * 1e6
        cold = []
        for _ in range(200):
            teams._forget()
            t = time.perf_counter()
            teams.with_teams(member)
            cold.append(time.perf_counter() - t)
        cold_us = statistics.median(cold) * 1e6
        def lookups():
            for _ in range(n):
                logs.catalog.group("/bench/g00000", cached=True)

        def bound_lookups():
            with access.acting_as(member):
                lookups()

        free_us = min(_best(lookups, 1) for _ in range(3)) / n * 1e6
        bound_us = min(_best(bound_lookups, 1) for _ in range(3)) / n * 1e6
        free_us = min(free_us, _best(lookups, 3) / n * 1e6)  # measured on both sides of the bound runs
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        engine.close()

    print(f"{dt.date.today()}, {platform.machine()}, Python {platform.python_version()}; "
          f"{a.groups} log groups and {a.alarms} alarms over {a.teams} teams (+ unowned), best of {a.rounds}")
    print("| caller | groups seen | DescribeLogGroups, all pages | alarms seen | DescribeAlarms, all pages |")
    print("|---|---|---|---|---|")
    for who, (g, tg, al, ta) in out.items():
        print(f"| {who} | {g} | {tg * 1000:.1f} ms | {al} | {ta * 1000:.1f} ms |")
    print(f"| with_teams, cached | {cached_us:.2f} µs | with_teams, cache cleared (one SQL query) | {cold_us:.0f} µs |")
    print(f"| cached group lookup (ingest), no caller | {free_us:.2f} µs | same, member bound | {bound_us:.2f} µs |")


if __name__ == "__main__":
    main()
