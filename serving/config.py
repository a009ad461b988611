"""Serving settings: one pydantic-settings object, read from `PROMOGUARD_*` environment variables.

Outside development the settings refuse insecure defaults (no API keys, no session secret), so a
production server never starts half-configured. `PROMOGUARD_ENV=development` relaxes that for a
laptop: a one-time admin key is generated and logged, and a fixed session secret is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROLES: tuple[str, ...] = ("pipeline", "moderator", "admin")
MIN_KEY_CHARS = 16
MIN_SESSION_SECRET_CHARS = 32
DEV_SESSION_SECRET = "promoguard-development-session-secret-do-not-use"  # noqa: S105
_INSECURE_SECRETS = {"changethis", "secret", "changeme", DEV_SESSION_SECRET}


class Settings(BaseSettings):
    """Everything the API process reads from its environment.

    Every field is read from `PROMOGUARD_<FIELD>` (e.g. `PROMOGUARD_API_KEYS`), or passed
    directly (`Settings(env="development")`) by tests and `promoguard bench`.

    Raises:
        pydantic.ValidationError: a bad value, or an insecure setting outside development
            (no API keys, a missing or weak session secret); the message names the variable.
    """

    model_config = SettingsConfigDict(env_prefix="PROMOGUARD_", extra="ignore", validate_default=True)

    env: Literal["development", "production"] = Field(
        "production", description="`development` relaxes the key and secret checks for local use."
    )
    # Model
    bundle: Path | None = Field(None, description="Model bundle folder; unset = the shipped default.")
    # Auth: comma-separated role:key pairs, and/or a file of role:key lines.
    api_keys: SecretStr | None = None
    api_keys_file: Path | None = None
    # Request limits (text and batch limits are part of the API schema, see serving/schemas.py)
    # A 50,000-character post JSON-escaped as \uXXXX is 300 kB; 1 MiB leaves room for that.
    # The batch route has its own fixed limit (serving.routes.moderate.MAX_BATCH_BODY_BYTES).
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Body limit for every route but the batch.")
    inference_threads: int = Field(
        2, ge=1, description="Classifier calls run at once per worker; more requests wait their turn."
    )
    # Observability
    docs_enabled: bool = Field(True, description="Serve /docs, /redoc and /openapi.json (no key needed).")
    log_json: bool = True
    # Review queue (issue 6): storage, leases, the moderator web page's session cookie.
    data_dir: Path = Path("promoguard-data")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset = SQLite in data_dir.")
    review_lease_seconds: int = Field(600, ge=10, description="How long a moderator holds a claimed item.")
    session_secret: SecretStr | None = None

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'promoguard.db').as_posix()}"
        if self.api_keys_file is not None and not self.api_keys_file.is_file():
            raise ValueError(
                f"PROMOGUARD_API_KEYS_FILE={self.api_keys_file} is not a file; "
                "point it at a file of role:key lines"
            )
        secret = self.session_secret.get_secret_value() if self.session_secret else None
        if not self.is_development:
            problems = []
            if secret is None or secret in _INSECURE_SECRETS or len(secret) < MIN_SESSION_SECRET_CHARS:
                problems.append(
                    "PROMOGUARD_SESSION_SECRET must be a random string of at least "
                    f"{MIN_SESSION_SECRET_CHARS} characters (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))')"
                )
            if self.api_keys is None and self.api_keys_file is None:
                problems.append(
                    "no API keys: set PROMOGUARD_API_KEYS='pipeline:KEY,admin:KEY' "
                    "or PROMOGUARD_API_KEYS_FILE"
                )
            if problems:
                raise ValueError(
                    "; ".join(problems) + " (outside development; PROMOGUARD_ENV=development for local use)"
                )
        elif secret is None:
            self.session_secret = SecretStr(DEV_SESSION_SECRET)
        return self

    def sqlite_file(self) -> Path | None:
        """The database file when `database_url` is a SQLite file URL, else None.

        The review queue creates its parent folder on first start.
        """
        url = self.database_url or ""
        prefix = "sqlite:///"
        if not url.startswith(prefix) or url.endswith(":memory:"):
            return None
        return Path(url[len(prefix) :])
