"""Property-based: requests generated from the OpenAPI schema (valid and not) never get a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.generation.modes import GenerationMode

from serving.app import create_app
from tests.serving.conftest import assert_no_server_errors, make_settings

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [
    ("POST", "/v1/moderate", POSITIVE),
    ("POST", "/v1/moderate", NEGATIVE),
    ("POST", "/v1/moderate/batch", POSITIVE),
    ("POST", "/v1/moderate/batch", NEGATIVE),
    ("GET", "/metrics", POSITIVE),
    ("GET", "/healthz", POSITIVE),
    ("GET", "/readyz", POSITIVE),
]


@pytest.fixture(scope="module")
def schema(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from classifier import Classifier

    app = create_app(
        make_settings(tmp_path_factory.mktemp("schema")), classifier=Classifier.load(tiny_bundle)
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_server_errors(schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    require_ok = mode is GenerationMode.POSITIVE and path.startswith("/v1/moderate")
    assert_no_server_errors(schema, method, path, mode, max_examples=10, require_ok=require_ok)
