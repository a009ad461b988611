"""The shipped default bundle: verified, small, and its recorded export parity holds."""

from __future__ import annotations

import numpy as np
import pytest

from classifier import bundle as B
from classifier.bundle import DEFAULT_BUNDLE_DIR

pytestmark = pytest.mark.skipif(
    not (DEFAULT_BUNDLE_DIR / B.MANIFEST_FILE).is_file(), reason="no default bundle installed"
)


def test_default_bundle_verifies_and_fits_the_size_budget():
    bundle = B.load_bundle()
    total = sum(p.stat().st_size for p in bundle.path.iterdir() if p.is_file())
    assert total <= 25 * 2**20
    m = bundle.manifest
    assert m["model_config"]["num_hidden_layers"] >= 1
    assert m["corpus_hash"] and m["normalizer_version"]
    parity = m["metrics"]["parity"]
    assert parity["fp32_vs_torch_max_abs_prob_diff"] < 1e-4
    assert parity["int8_fp32_decision_agreement"] >= 0.99
    assert abs(parity["int8_minus_fp32_macro_f1"]) <= 0.01
    for split in ("test", "challenge", "gold"):
        assert split in m["metrics"]["eval"]


def test_default_bundle_was_trained_on_the_committed_corpus():
    from training.data import corpus_hash

    assert B.load_bundle().manifest["corpus_hash"] == corpus_hash()


@pytest.mark.slow
def test_recorded_metrics_reproduce_on_the_test_split():
    """Re-score `test` as the classifier serves it (int8 model, lexical head); macro-F1 must equal
    the recorded one."""
    from classifier import Classifier
    from training.evaluate import decisions, load_split, metrics

    bundle = B.load_bundle()
    split = load_split("test")
    scores = Classifier.load(threads=2).score_texts(split.texts)
    thresholds = {k: v.as_dict() for k, v in bundle.thresholds.items()}
    got = metrics(decisions(scores, thresholds), split.targets, split.tags)
    assert got["macro_f1"] == pytest.approx(bundle.manifest["metrics"]["eval"]["test"]["macro_f1"], abs=1e-4)
    assert np.isfinite(scores).all()
