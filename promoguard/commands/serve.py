"""`promoguard serve`: run the moderation API under uvicorn."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger(__name__)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    bundle: Path | None = None,
    dev: bool = False,
    log_level: str = "info",
) -> None:
    """Start uvicorn on `host:port` with `workers` processes, each loading the model once.

    Settings come from `PROMOGUARD_*` environment variables (see `serving.config.Settings`);
    `bundle` and `dev` override `PROMOGUARD_BUNDLE` and `PROMOGUARD_ENV`. They are passed to the
    workers through the environment, which every worker process inherits.

    Raises:
        pydantic.ValidationError / serving.auth.KeyConfigError: the settings are invalid or
            insecure; raised here, before any worker starts.
    """
    import uvicorn

    from serving.app import create_app
    from serving.config import Settings
    from serving.logs import uvicorn_log_config

    if bundle is not None:
        os.environ["PROMOGUARD_BUNDLE"] = str(bundle)
    if dev:
        os.environ["PROMOGUARD_ENV"] = "development"
    settings = Settings()
    if settings.is_development and settings.api_keys is None and settings.api_keys_file is None:
        # One key for all workers (each would otherwise generate its own), shown once.
        key = secrets.token_urlsafe(24)
        os.environ["PROMOGUARD_API_KEYS"] = f"admin:{key}"
        log.warning("development mode with no API keys: use this one-time admin key: %s", key)
        settings = Settings()
    create_app(settings)  # validates settings and keys now, with a clear message, not in each worker
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Workers are separate processes; prometheus-client aggregates them through this folder.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="promoguard-metrics-")
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # serving.access logs one structured line per request instead
        log_config=uvicorn_log_config(json_logs=settings.log_json, level=log_level.upper()),
        log_level=log_level,
    )


def register(app: typer.Typer) -> None:
    """Add `serve` to the root app."""

    @app.command("serve")
    def serve_command(
        host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 for all.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
        workers: Annotated[int, typer.Option(min=1, help="Worker processes; each loads the model once.")] = 1,
        bundle: Annotated[
            Path | None,
            typer.Option(
                exists=True, file_okay=False, help="Model bundle folder (default: the shipped one)."
            ),
        ] = None,
        dev: Annotated[
            bool,
            typer.Option(
                "--dev", help="Development mode: no keys needed up front (a one-time admin key is logged)."
            ),
        ] = False,
        log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    ) -> None:
        """Serve the moderation API (POST /v1/moderate, /v1/moderate/batch; docs at /docs)."""
        from pydantic import ValidationError

        from serving.auth import KeyConfigError

        try:
            serve(host=host, port=port, workers=workers, bundle=bundle, dev=dev, log_level=log_level)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                message = err["msg"].removeprefix("Value error, ")
                typer.echo(f"error: settings{' ' + where if where else ''}: {message}", err=True)
            raise typer.Exit(2) from None
        except KeyConfigError as exc:
            typer.echo(f"error: API keys: {exc}", err=True)
            raise typer.Exit(2) from None
