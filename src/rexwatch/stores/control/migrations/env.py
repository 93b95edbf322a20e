"""Alembic environment: runs against the engine the caller passes in."""

from alembic import context

from rexwatch.stores.control.tables import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
