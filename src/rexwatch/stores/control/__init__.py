"""Control store: SQLAlchemy Core on SQLite (default) or PostgreSQL."""

from rexwatch.stores.control.engine import connect_control, upgrade

__all__ = ["connect_control", "upgrade"]
