"""The Yeji warehouse: SQLAlchemy models, Alembic migrations and exact frame I/O."""
