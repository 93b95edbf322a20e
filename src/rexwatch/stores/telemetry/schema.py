"""Versioned, idempotent telemetry DDL.

Each area keeps its statements in ``ddl/<area>.py`` as a list of
``Migration``; the table below lists the areas in apply order. Applied ids are
recorded in ``{db:Identifier}.schema_migrations`` so a restart applies only what is new,
and every statement is written with IF [NOT] EXISTS so re-running is harmless.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from rexwatch.stores.telemetry.executor import Executor


@dataclass(frozen=True)
class Migration:
    id: str
    statements: tuple[str, ...]


# Area modules under rexwatch.stores.telemetry.ddl, in apply order. Adding an area is one line.
AREAS: tuple[str, ...] = (
    "core",
    "logs",
    "metrics",
    "probes",
    "traces",
)


def all_migrations() -> list[Migration]:
    out: list[Migration] = []
    for area in AREAS:
        module = importlib.import_module(f"rexwatch.stores.telemetry.ddl.{area}")
        out.extend(module.MIGRATIONS)
    return out


def apply(executor: Executor) -> list[str]:
    """Apply migrations not yet recorded; return the ids applied."""
    executor.execute(
        "CREATE TABLE IF NOT EXISTS {db:Identifier}.schema_migrations "
        "(id String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY id"
    )
    done = {row[0] for row in executor.query_rows("SELECT id FROM {db:Identifier}.schema_migrations")}
    applied = []
    for mig in all_migrations():
        if mig.id in done:
            continue
        for stmt in mig.statements:
            executor.execute(stmt)
        executor.execute("INSERT INTO {db:Identifier}.schema_migrations (id) VALUES ({id:String})", {"id": mig.id})
        applied.append(mig.id)
    return applied
