"""Alembic environment for the review queue.

`serving.db.run_migrations` passes an open connection in `config.attributes["connection"]`; run
by hand (`alembic -c serving/alembic.ini ...`) the URL comes from the app's settings
(`PROMOGUARD_DATABASE_URL`, else the default SQLite file).
"""

from __future__ import annotations

from alembic import context

from serving.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite needs batch mode
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from serving.config import Settings
    from serving.db import make_engine

    settings = Settings(env="development")
    engine = make_engine(settings.database_url or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations_online()
