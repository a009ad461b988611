"""Database engine and sessions for the review queue; schema migrations on startup.

Any SQLAlchemy URL works (`PROMOGUARD_DATABASE_URL`, e.g. `postgresql+psycopg://...`). The default
is a SQLite file, created with its folder on first start, tuned for many writers:

- WAL journal, so readers never block the writer and a killed process loses no committed write;
  `synchronous=FULL`, so a commit is on disk when it returns (verdicts are the platform's final
  word and the audit log is for regulators; they are few, so the fsync is affordable).
- `busy_timeout`, so a writer waits for the lock instead of failing at once.
- Write transactions start with `BEGIN IMMEDIATE`: they take the write lock up front, so two
  read-then-write transactions cannot deadlock on the lock upgrade (SQLITE_BUSY that no timeout
  cures). Read-only sessions (`Database.read()`) use a plain deferred `BEGIN`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)
if logging.getLogger("alembic").level == logging.NOTSET:
    # Alembic logs every plugin and step at INFO; the app logs one line when the database is ready.
    logging.getLogger("alembic").setLevel(logging.WARNING)

BUSY_TIMEOUT_MS = 30_000
_READONLY = "promoguard_readonly"
_MIGRATIONS = Path(__file__).parent / "migrations"
_ALEMBIC_INI = Path(__file__).parent / "alembic.ini"
_PG_MIGRATION_LOCK = 0x50524F4D  # any constant; serialises concurrent first starts on PostgreSQL


class DatabaseError(RuntimeError):
    """The database URL is unusable or the schema could not be migrated."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite, the folder is created and the pragmas above applied.

    Raises:
        DatabaseError: `url` is not a SQLAlchemy URL, or names a driver that is not installed.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseError(
            f"PROMOGUARD_DATABASE_URL={url!r} is not a SQLAlchemy URL; e.g. sqlite:///promoguard-data/"
            "promoguard.db or postgresql+psycopg://user:pass@host/db"
        ) from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ImportError as exc:
            raise DatabaseError(
                f"the database driver for {parsed.drivername!r} is not installed: {exc}"
            ) from exc
    database = parsed.database or ""
    kwargs: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}}
    if database in ("", ":memory:"):
        kwargs["poolclass"] = StaticPool  # one shared in-memory database
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    memory = database in ("", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def run_migrations(engine: Engine) -> None:
    """Bring the schema to the newest revision (`alembic upgrade head`), creating it if empty.

    Safe to call from several processes at once: on SQLite the migration runs inside one
    `BEGIN IMMEDIATE` transaction, on PostgreSQL under an advisory lock.

    Raises:
        DatabaseError: a migration failed (the message names the database).
    """
    from alembic import command
    from alembic.config import Config

    config = Config(str(_ALEMBIC_INI))
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except Exception as exc:
        raise DatabaseError(f"could not migrate the review database {engine.url!r}: {exc}") from exc
    log.info("review database ready", extra={"database": engine.url.render_as_string(hide_password=True)})


class Database:
    """An engine and its sessions. `write()` for transactions that change data, `read()` otherwise."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write = sessionmaker(engine, expire_on_commit=False)
        self._read = sessionmaker(engine.execution_options(**{_READONLY: True}), expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, migrate: bool = True) -> Database:
        """Open `url` and (by default) migrate it to the newest schema.

        Raises:
            DatabaseError: a bad URL, a missing driver, or a failed migration.
        """
        engine = make_engine(url)
        if migrate:
            run_migrations(engine)
        return cls(engine)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on error."""
        with self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (never commits)."""
        with self._read() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
