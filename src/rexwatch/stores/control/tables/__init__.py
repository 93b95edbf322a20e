"""Control-store tables (SQLAlchemy Core), one module per area on one MetaData.

Alembic migrations in ``../migrations/versions`` create them; each area has its
own migration branch so areas evolve independently (``alembic upgrade heads``).
"""

import importlib

from sqlalchemy import MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Area modules defining tables on ``metadata``. Adding an area is one line.
AREAS: tuple[str, ...] = (
    "core",
    "logs",
    "insights",
    "metric_filters",
    "notify",
    "alarms",
    "monitors",
    "security",
    "dashboards",
    "users",
    "teams",
    "recovery",
    "sso",
)

for _area in AREAS:
    importlib.import_module(f"rexwatch.stores.control.tables.{_area}")
