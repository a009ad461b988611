"""Shared fixtures: a real, tiny model bundle built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# On a shared CPU, OpenMP's default busy-waiting makes torch many times slower; this must be
# set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A verified bundle (int8 ONNX, real tokenizer) around a tiny 1-layer BERT, hidden 32.

    The model is fit for a few seconds on toy sentences (`training.toydata`), so scores depend
    on the text; thresholds are warn 0.3 / flag 0.5 / block 0.8.
    """
    from training.export import build_tiny_bundle

    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle") / "bundle", seed=0)
