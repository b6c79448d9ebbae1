"""The Alembic env every service's `migrations/env.py` calls: online migration against the
URL given by `services.common.db.migrate()`, with SQLite batch mode on.

On PostgreSQL the migration holds a session advisory lock, so replicas (or a hook Job and
a pod) starting at once migrate one after the other: the later ones find the schema at
head and do nothing."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, pool, text

MIGRATION_LOCK = 0x6C69616E78696E  # "lianxin": one key per database is enough


def run(target_metadata: MetaData) -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
