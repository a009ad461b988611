"""API keys and roles: who may call what, how keys are configured and held."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import create_app
from serving.auth import KeyConfigError, KeyRing
from serving.config import Settings
from tests.serving.conftest import KEYS, SESSION_SECRET, auth, make_settings

POST = {"text": "稳赚不赔，保本保息，加微信领取内部名额。"}

ACCESS = [
    # (route, method, role or None, expected status)
    ("/v1/moderate", "post", "pipeline", 200),
    ("/v1/moderate", "post", "admin", 200),
    ("/v1/moderate", "post", "moderator", 403),
    ("/v1/moderate", "post", None, 401),
    ("/v1/moderate/batch", "post", "pipeline", 200),
    ("/v1/moderate/batch", "post", "moderator", 403),
    ("/v1/moderate/batch", "post", None, 401),
    ("/metrics", "get", "pipeline", 200),
    ("/metrics", "get", "moderator", 200),
    ("/metrics", "get", "admin", 200),
    ("/metrics", "get", None, 401),
    ("/healthz", "get", None, 200),
    ("/readyz", "get", None, 200),
    ("/openapi.json", "get", None, 200),
]


@pytest.mark.parametrize(("path", "method", "role", "status"), ACCESS)
def test_roles(client: TestClient, path: str, method: str, role: str | None, status: int) -> None:
    body = {"items": [POST]} if path.endswith("batch") else POST
    kwargs: dict[str, Any] = {"json": body} if method == "post" else {}
    r = client.request(method.upper(), path, headers=auth(role) if role else {}, **kwargs)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "missing_api_key"
    if status == 403:
        assert r.json()["error"]["code"] == "forbidden_role"
        assert "moderator" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {KEYS['pipeline']}x",
        f"Bearer {KEYS['pipeline'][:-1]}",
        "Bearer nope",
        f"Token {KEYS['pipeline']}",
        f"Basic {KEYS['pipeline']}",
        "Bearer ",
        "Bearer",
        KEYS["pipeline"],
    ],
)
def test_bad_keys_get_401(client: TestClient, header: str) -> None:
    r = client.post("/v1/moderate", json=POST, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] in {"missing_api_key", "unknown_api_key"}


def test_scheme_is_case_insensitive(client: TestClient) -> None:
    assert (
        client.post(
            "/v1/moderate", json=POST, headers={"Authorization": f"bearer {KEYS['pipeline']}"}
        ).status_code
        == 200
    )


def test_auth_is_checked_before_the_body(client: TestClient) -> None:
    # An unauthenticated caller learns nothing about the schema and costs no parsing.
    r = client.post("/v1/moderate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401
    r = client.post(
        "/v1/moderate",
        content=b"{not json",
        headers={**auth("moderator"), "content-type": "application/json"},
    )
    assert r.status_code == 403


def test_keys_are_held_as_sha256_digests(settings: Settings) -> None:
    ring = KeyRing.from_settings(settings)
    held = repr(vars(ring))
    assert len(ring) == 3
    assert all(key not in held for key in KEYS.values())
    assert ring.lookup(KEYS["moderator"]).role == "moderator"
    assert ring.lookup("admin-key-0123456789abcdef012") is None


def test_keys_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(
        "# pipeline of the publishing platform\n"
        "pipeline:file-pipeline-key-0123456789\n\n"
        "  moderator : file-moderator-key-0123456789  \n",
        encoding="utf-8",
    )
    settings = Settings(env="production", api_keys_file=keys_file, session_secret=SESSION_SECRET)
    ring = KeyRing.from_settings(settings)
    assert ring.lookup("file-pipeline-key-0123456789").role == "pipeline"
    assert ring.lookup("file-moderator-key-0123456789").role == "moderator"
    # Keys from the variable and the file are both honoured.
    both = Settings(
        env="production",
        api_keys_file=keys_file,
        api_keys=f"admin:{KEYS['admin']}",
        session_secret=SESSION_SECRET,
    )
    assert len(KeyRing.from_settings(both)) == 3


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch, classifier: Any) -> None:
    monkeypatch.setenv("PROMOGUARD_API_KEYS", f"pipeline:{KEYS['pipeline']}")
    monkeypatch.setenv("PROMOGUARD_SESSION_SECRET", SESSION_SECRET)
    with TestClient(create_app(classifier=classifier)) as c:
        assert c.post("/v1/moderate", json=POST, headers=auth("pipeline")).status_code == 200
        assert c.post("/v1/moderate", json=POST, headers=auth("admin")).status_code == 401


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("reader:abcdefghijklmnopqrstuvwxyz", "unknown API key role 'reader'"),
        ("pipelineabcdefghijklmnopqrstuvwxyz", "expected role:key"),
        ("pipeline:", "empty API key"),
        ("pipeline:short", "at least 16"),
        ("pipeline:abcdefghijklmnopqrstuvwxyz,admin:abcdefghijklmnopqrstuvwxyz", "two roles"),
    ],
)
def test_malformed_keys_are_refused_at_startup(tmp_path: Path, keys: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        create_app(make_settings(tmp_path, api_keys=keys))


def test_production_refuses_missing_keys_and_weak_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no API keys"):
        Settings(env="production", session_secret=SESSION_SECRET, data_dir=tmp_path)
    with pytest.raises(ValidationError, match="PROMOGUARD_SESSION_SECRET"):
        Settings(env="production", api_keys=f"admin:{KEYS['admin']}", data_dir=tmp_path)
    with pytest.raises(ValidationError, match="PROMOGUARD_SESSION_SECRET"):
        Settings(env="production", api_keys=f"admin:{KEYS['admin']}", session_secret="changethis")


def test_development_generates_a_one_time_admin_key(
    tmp_path: Path, classifier: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="serving.auth"):
        app = create_app(Settings(env="development", data_dir=tmp_path), classifier=classifier)
    (record,) = [r for r in caplog.records if "one-time admin key" in r.getMessage()]
    key = record.args[0]
    with TestClient(app) as c:
        assert (
            c.post("/v1/moderate", json=POST, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        )
        assert c.post("/v1/moderate", json=POST).status_code == 401


def test_serve_refuses_to_start_without_keys_or_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from promoguard.cli import app

    for name in (
        "PROMOGUARD_ENV",
        "PROMOGUARD_API_KEYS",
        "PROMOGUARD_API_KEYS_FILE",
        "PROMOGUARD_SESSION_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "PROMOGUARD_SESSION_SECRET" in result.output and "no API keys" in result.output
