"""Shared fixtures: a real, tiny model bundle built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A verified bundle (int8 ONNX, real tokenizer) around a random 1-layer BERT, hidden 32.

    Scores are random but deterministic; thresholds are warn 0.3 / flag 0.5 / block 0.8.
    """
    from training.export import build_tiny_bundle

    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle") / "bundle", seed=0)
