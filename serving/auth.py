"""API keys with roles: `Authorization: Bearer KEY`, keys held only as SHA-256 hashes.

Keys come from `PROMOGUARD_API_KEYS` (`role:key,role:key`) and/or `PROMOGUARD_API_KEYS_FILE`
(one `role:key` per line, `#` comments). Roles: `pipeline` may moderate, `moderator` works the
review queue, `admin` may do everything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.config import MIN_KEY_CHARS, ROLES, Settings
from serving.errors import ApiError

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`.")


class KeyConfigError(ValueError):
    """The configured API keys are malformed."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class Principal:
    """Who made a request: the role of their key and a short, non-secret key id for logs."""

    role: str
    key_id: str


class KeyRing:
    """Role lookup for presented keys; stores only digests and compares in constant time."""

    def __init__(self, pairs: Iterable[tuple[str, str]], *, allow_short: bool = False) -> None:
        """Build from `(role, key)` pairs.

        Raises:
            KeyConfigError: an unknown role, an empty or short key, or one key given two roles.
        """
        self._entries: list[tuple[bytes, Principal]] = []
        seen: dict[bytes, str] = {}
        for role, key in pairs:
            if role not in ROLES:
                raise KeyConfigError(f"unknown API key role {role!r}; use one of {', '.join(ROLES)}")
            if not key:
                raise KeyConfigError(f"empty API key for role {role!r}; write role:key")
            if len(key) < MIN_KEY_CHARS and not allow_short:
                raise KeyConfigError(
                    f"API key for role {role!r} has {len(key)} characters; use at least {MIN_KEY_CHARS} "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(24))')"
                )
            digest = _digest(key)
            if digest in seen and seen[digest] != role:
                raise KeyConfigError(f"one API key is listed for two roles ({seen[digest]}, {role})")
            seen[digest] = role
            self._entries.append((digest, Principal(role=role, key_id=digest.hex()[:8])))

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> Principal | None:
        """The principal for `key`, or None. Checks every entry so timing does not leak which matched."""
        digest = _digest(key)
        found = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found

    def by_key_id(self, key_id: str) -> Principal | None:
        """The principal whose key id is `key_id` (a web session's key), or None once it is removed."""
        return next((p for _, p in self._entries if p.key_id == key_id), None)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Read keys from the settings; in development with none, generate and log one admin key.

        Raises:
            KeyConfigError: a malformed `role:key` entry (the message names where it is).
        """
        pairs: list[tuple[str, str]] = []
        if settings.api_keys is not None:
            for n, item in enumerate(settings.api_keys.get_secret_value().split(","), 1):
                if item.strip():
                    pairs.append(_parse_pair(item, f"PROMOGUARD_API_KEYS item {n}"))
        if settings.api_keys_file is not None:
            text = settings.api_keys_file.read_text(encoding="utf-8")
            for lineno, line in enumerate(text.splitlines(), 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    pairs.append(_parse_pair(line, f"{settings.api_keys_file} line {lineno}"))
        if not pairs:
            if not settings.is_development:
                raise KeyConfigError(
                    "no API keys configured; set PROMOGUARD_API_KEYS or PROMOGUARD_API_KEYS_FILE"
                )
            key = secrets.token_urlsafe(24)
            # Logged once so a developer can call the API; never done outside development.
            log.warning(
                "no API keys configured (development): generated a one-time admin key for this process: %s",
                key,
            )
            pairs.append(("admin", key))
        return cls(pairs, allow_short=settings.is_development)


def _parse_pair(item: str, where: str) -> tuple[str, str]:
    role, sep, key = item.strip().partition(":")
    if not sep:
        raise KeyConfigError(f"{where}: expected role:key (roles: {', '.join(ROLES)}), got no ':'")
    return role.strip(), key.strip()


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(status.HTTP_401_UNAUTHORIZED, code, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request, allowed: frozenset[str]) -> Principal:
    """Check the request's bearer key against `allowed` roles; remember the principal on the request.

    Raises:
        ApiError: 401 `missing_api_key` / `unknown_api_key`, 403 `forbidden_role`.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None and cached.role in allowed:
        return cached
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("missing_api_key", "missing API key: send the header 'Authorization: Bearer KEY'")
    principal = request.app.state.keyring.lookup(key)
    if principal is None:
        raise _unauthorized("unknown_api_key", "unknown API key: check the key, or ask an admin for one")
    request.state.principal = principal
    if principal.role not in allowed:
        raise ApiError(
            status.HTTP_403_FORBIDDEN,
            "forbidden_role",
            f"a {principal.role!r} key may not use this route; it needs a key of role "
            f"{' or '.join(sorted(allowed))}",
        )
    return principal


def require_roles(*roles: str) -> Callable[..., Principal]:
    """A dependency that admits keys of `roles` (and always `admin`).

    On routes of `serving.routes.ApiRoute` the check runs before the body is read.

    Raises (as HTTP errors):
        401: no `Authorization: Bearer` header, or an unknown key.
        403: a valid key whose role may not use this route.
    """
    allowed = frozenset(roles) | {"admin"}
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; use {ROLES}")

    # async: FastAPI would run a plain `def` dependency in a worker thread, a thread hop per request.
    async def dependency(
        request: Request,
        # Declared so the OpenAPI document shows the bearer scheme; the header is read in authenticate.
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        return authenticate(request, allowed)

    dependency.promoguard_roles = allowed  # type: ignore[attr-defined]
    return dependency


# Dependency aliases for routes (full-stack-fastapi-template style).
PipelineKey = Annotated[Principal, Depends(require_roles("pipeline"))]
ModeratorKey = Annotated[Principal, Depends(require_roles("moderator"))]
AdminKey = Annotated[Principal, Depends(require_roles("admin"))]
AnyKey = Annotated[Principal, Depends(require_roles(*ROLES))]
