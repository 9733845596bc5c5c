"""Alembic environment: runs on the connection Yeji hands it (see warehouse.db.migrate)."""

from alembic import context

from warehouse.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    from sqlalchemy import create_engine
    import os

    connection = create_engine(os.environ["YEJI_DATABASE_URL"]).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
