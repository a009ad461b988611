"""`promoguard review export|stats`: the review queue from the command line.

`review export -o verdicts.jsonl` writes every decided item in corpus format, ready for
`promoguard train --extra verdicts.jsonl`, which closes the loop from moderators back to the model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)

review_app = typer.Typer(help="Work with the moderators' review queue.", no_args_is_help=True)

_DB_HELP = "SQLAlchemy URL of the review database (default: PROMOGUARD_DATABASE_URL, else the server's file)."
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help=_DB_HELP)]


def open_queue(database_url: str | None) -> Any:
    """The review queue the server uses (or `database_url`).

    Raises:
        FileNotFoundError: the default SQLite file does not exist (the server has never run here).
        serving.db.DatabaseError: a bad URL or a failed migration.
    """
    from serving.config import Settings
    from serving.queue import ReviewQueue

    # Only the database settings matter here, so the production-only checks (keys) are skipped.
    settings = Settings(env="development", **({"database_url": database_url} if database_url else {}))
    path = settings.sqlite_file()
    if path is not None and not path.is_file():
        raise FileNotFoundError(
            f"no review database at {path}; run this where `promoguard serve` ran, or pass --database-url"
        )
    return ReviewQueue.open(settings.database_url or "")


def export_verdicts(out: Path, database_url: str | None = None) -> int:
    """Write decided items to `out` as corpus lines; returns how many were written.

    Raises:
        FileNotFoundError, serving.db.DatabaseError: see `open_queue`.
        OSError: `out` cannot be written.
    """
    queue = open_queue(database_url)
    try:
        return queue.export(out)
    finally:
        queue.close()


def register(app: typer.Typer) -> None:
    """Add `review export` and `review stats` to the root app."""

    @review_app.command("export")
    def export_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output JSON lines file (corpus format).")],
        database_url: DatabaseUrl = None,
    ) -> None:
        """Write every decided item as a corpus line for `promoguard train --extra`."""
        try:
            n = export_verdicts(out, database_url)
        except (FileNotFoundError, OSError, RuntimeError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"wrote {n} verdicts to {out}", err=True)

    @review_app.command("stats")
    def stats_cmd(database_url: DatabaseUrl = None) -> None:
        """Print queue depth, age of the oldest item and agreement with the model, as JSON."""
        try:
            queue = open_queue(database_url)
        except (FileNotFoundError, RuntimeError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        try:
            typer.echo(json.dumps(queue.stats(), ensure_ascii=False, indent=2))
        finally:
            queue.close()

    app.add_typer(review_app, name="review")
