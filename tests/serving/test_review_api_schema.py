"""Property-based: requests generated from the OpenAPI schema of the review routes never get a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.generation.modes import GenerationMode

from serving.app import create_app
from tests.serving.conftest import assert_no_server_errors, make_settings

ROUTES = [
    ("GET", "/v1/review/items"),
    ("GET", "/v1/review/items/{item_id}"),
    ("GET", "/v1/review/items/{item_id}/audit"),
    ("POST", "/v1/review/items/{item_id}/claim"),
    ("POST", "/v1/review/items/{item_id}/release"),
    ("POST", "/v1/review/items/{item_id}/verdict"),
    ("POST", "/v1/review/next"),
    ("POST", "/v1/review/appeals"),
    ("GET", "/v1/review/stats"),
]
CASES = [(m, p, g) for m, p in ROUTES for g in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]


@pytest.fixture(scope="module")
def schema(classifier: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = create_app(make_settings(tmp_path_factory.mktemp("review_schema")), classifier=classifier)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_server_errors(schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    assert_no_server_errors(schema, method, path, mode, max_examples=15)
