"""Fixtures for the API tests: keys, settings, a real classifier on the tiny bundle, a client."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier import bundle as B
from serving.app import create_app
from serving.config import Settings

KEYS = {
    "pipeline": "pipeline-key-0123456789abcdef",
    "moderator": "moderator-key-0123456789abcdef",
    "admin": "admin-key-0123456789abcdef0123",
}
SESSION_SECRET = "test-session-secret-0123456789abcdef0123456789"


def auth(role: str) -> dict[str, str]:
    """The Authorization header for a configured key of `role`."""
    return {"Authorization": f"Bearer {KEYS[role]}"}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Production settings with the test keys; overrides win."""
    values: dict[str, Any] = {
        "env": "production",
        "api_keys": ",".join(f"{role}:{key}" for role, key in KEYS.items()),
        "session_secret": SESSION_SECRET,
        "data_dir": tmp_path,
        "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)


def assert_no_server_errors(
    schema: Any, method: str, path: str, mode: Any, max_examples: int, require_ok: bool = False
) -> None:
    """Run schemathesis cases for one operation as admin: never a 5xx; a 200 when `require_ok`."""
    from hypothesis import HealthCheck, given, settings

    @given(case=schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    def run(case: Any) -> None:
        response = case.call(headers=auth("admin"))
        assert response.status_code < 500, (
            f"{case.method} {case.path} -> {response.status_code}: {response.text}"
        )
        if require_ok:
            assert response.status_code == 200, response.text

    run()


def bundle_with_thresholds(src: Path, dst: Path, warn: float, flag: float, block: float) -> Path:
    """A copy of bundle `src` with every label's thresholds replaced, checksums rewritten."""
    shutil.copytree(src, dst)
    manifest_path = dst / B.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["thresholds"] = {
        label: {"warn": warn, "flag": flag, "block": block} for label in manifest["labels"]
    }
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    B.write_checksums(dst)
    return dst


@pytest.fixture(scope="session")
def classifier(tiny_bundle: Path) -> Any:
    """The real classifier (ONNX session) on the tiny bundle, shared by the session."""
    from classifier import Classifier

    return Classifier.load(tiny_bundle)


@pytest.fixture(scope="session")
def review_classifier(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A classifier whose thresholds send every post to `review` (flag ~0, block 1)."""
    from classifier import Classifier

    path = bundle_with_thresholds(tiny_bundle, tmp_path_factory.mktemp("review") / "bundle", 1e-6, 2e-6, 1.0)
    return Classifier.load(path)


@pytest.fixture(scope="session")
def pass_classifier(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A classifier whose thresholds let every post `pass` (warn just below 1)."""
    from classifier import Classifier

    path = bundle_with_thresholds(
        tiny_bundle, tmp_path_factory.mktemp("pass") / "bundle", 0.99997, 0.99998, 0.99999
    )
    return Classifier.load(path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings, classifier: Any) -> Iterator[TestClient]:
    """A real HTTP client against a started app (lifespan run) serving the tiny bundle."""
    with TestClient(create_app(settings, classifier=classifier)) as test_client:
        yield test_client
