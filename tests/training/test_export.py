"""ONNX export, optimisation, int8 quantisation and the bundle, on tiny real models."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.metrics import f1_score
from tokenizers import Tokenizer

from classifier import bundle as B
from classifier.taxonomy import LABELS
from training.export import config_dict, onnx_pipeline, write_bundle
from training.modeling import (
    MODEL_SIZES,
    encode_windows,
    make_config,
    new_classifier,
    pad_batch,
    torch_logits,
)
from training.tokenizer import build_tokenizer
from training.toydata import fit_toy, toy_examples

TEXTS = [
    "稳赚不赔，年化30%，加vx带单",
    "今天天气很好，我们去公园散步。",
    "理财非存款，投资有风险。",
    "USDT 挖矿 日赚千元🚀🚀",
    "刷单返利，日结佣金，拉人头奖励" * 8,
    "",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return build_tokenizer(latin_vocab=100)


@pytest.fixture(scope="module")
def trained(tokenizer, tmp_path_factory):
    size = MODEL_SIZES["tiny"]
    model = new_classifier(make_config(tokenizer, size, max_positions=128), seed=1)
    fit_toy(model, tokenizer, steps=200, seed=1)
    paths = onnx_pipeline(model, tmp_path_factory.mktemp("onnx"))
    return model, paths


def _onnx_logits(path, windows, pad_id):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids, mask = pad_batch(windows, pad_id)
    return sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]


def test_tiny_bundle_is_a_verified_bundle(tiny_bundle):
    bundle = B.load_bundle(tiny_bundle)
    assert bundle.labels == LABELS
    assert set(B.REQUIRED_FILES) <= {p.name for p in tiny_bundle.iterdir()}
    assert bundle.manifest["model_config"]["hidden_size"] == 32
    sess = ort.InferenceSession(str(bundle.file(B.MODEL_FILE)), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]
    assert sess.get_outputs()[0].name == "logits"
    tok = Tokenizer.from_file(str(bundle.file(B.TOKENIZER_FILE)))
    windows = [w for t in TEXTS for w in encode_windows(tok, t, bundle.window, bundle.stride)]
    logits = _onnx_logits(bundle.file(B.MODEL_FILE), windows, tok.token_to_id("[PAD]"))
    assert logits.shape == (len(windows), 3) and np.isfinite(logits).all()
    # The toy fit makes scores depend on the text.
    assert logits[:, 0].std() > 0.1


def test_fp32_onnx_matches_pytorch_within_1e_4(trained, tokenizer):
    model, paths = trained
    windows = [w for t in TEXTS for w in encode_windows(tokenizer, t, 64, 48)]
    pad = tokenizer.token_to_id("[PAD]")
    expected = torch_logits(model, windows, pad)
    # Padded batch (mixed lengths) and one window at a time must both match.
    got = _onnx_logits(paths["fp32"], windows, pad)
    assert np.abs(got - expected).max() < 1e-4
    single = np.concatenate([_onnx_logits(paths["fp32"], [w], pad) for w in windows])
    assert np.abs(single - expected).max() < 1e-4
    optimized = _onnx_logits(paths["optimized"], windows, pad)
    assert np.abs(optimized - expected).max() < 1e-4


def test_optimiser_fuses_attention_and_layer_norm(trained):
    _, paths = trained
    assert paths["fusions"].get("Attention", 0) >= 1
    assert paths["fusions"].get("SkipLayerNormalization", 0) >= 1
    assert paths["int8"].stat().st_size < paths["fp32"].stat().st_size


def test_int8_decisions_and_macro_f1_match_fp32(trained, tokenizer):
    _, paths = trained
    examples = toy_examples(seed=3)
    windows = [encode_windows(tokenizer, t, 64, 48)[0] for t, _ in examples]
    targets = np.array([y for _, y in examples])
    pad = tokenizer.token_to_id("[PAD]")
    fp32 = _onnx_logits(paths["fp32"], windows, pad) > 0
    int8 = _onnx_logits(paths["int8"], windows, pad) > 0
    # Per-label decisions (the pipeline also records whole-item agreement on the real test split).
    assert (fp32 == int8).mean() >= 0.99
    f1_fp32 = f1_score(targets, fp32, average="macro", zero_division=0)
    f1_int8 = f1_score(targets, int8, average="macro", zero_division=0)
    assert f1_fp32 > 0.8  # the toy fit is a real, non-random classifier
    assert abs(f1_int8 - f1_fp32) <= 0.01


def test_record_latency_writes_into_a_still_valid_bundle(tiny_bundle, tmp_path):
    from training.latency import record_latency

    copy = shutil.copytree(tiny_bundle, tmp_path / "b")
    timing = record_latency(copy, seq_len=40, runs=5)
    assert timing["onnx_int8"]["p50_ms"] > 0 and timing["speedup_p50"] > 0
    bundle = B.load_bundle(copy)
    assert bundle.manifest["metrics"]["latency"]["seq_len"] == 40
    assert timing["served_post"]["p50_ms"] > 0  # the whole Classifier path on a 300-character post
    card = bundle.file(B.CARD_FILE).read_text(encoding="utf-8")
    assert "## Measured latency" in card and "whole served path" in card


def test_corrupted_bundle_names_the_file(tiny_bundle, tmp_path):
    copy = shutil.copytree(tiny_bundle, tmp_path / "b")
    with open(copy / B.MODEL_FILE, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(B.BundleError, match=B.MODEL_FILE):
        B.load_bundle(copy)


def test_write_bundle_records_the_manifest(trained, tokenizer, tmp_path):
    model, paths = trained
    thresholds = {label: {"warn": 0.2, "flag": 0.5, "block": 0.9} for label in LABELS}
    out = write_bundle(
        tmp_path / "bundle", onnx_model=paths["int8"], tokenizer=tokenizer, thresholds=thresholds,
        window=64, stride=48, model_config=config_dict(model), metrics={"test": {"macro_f1": 0.5}},
        corpus_hash="abc", card="# card\n", version="t1",
    )  # fmt: skip
    manifest = json.loads((out / B.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert set(B.REQUIRED_KEYS) <= set(manifest)
    assert manifest["thresholds"]["misleading"] == thresholds["misleading"]
    assert len(manifest["model_config"]["id2label"]) == 3
    assert "onnxruntime" in manifest["created_with"]
    assert B.load_bundle(out).version == "t1"


def test_card_verdict_names_every_missed_target_and_baseline():
    from training.card import verdict

    shipped = {
        "gold": {"macro_f1": 0.91, "hard_negative_fpr": 0.08, "evaded_recall": 0.85},
        "challenge": {"macro_f1": 0.70},
    }
    baselines = {"keyword (lexicon)": {"gold": {"macro_f1": 0.5}, "challenge": {"macro_f1": 0.4}},
                 "TF-IDF + LR": {"gold": {"macro_f1": 0.95}, "challenge": {"macro_f1": 0.6}}}  # fmt: skip
    text = verdict(shipped, baselines)
    assert "gold: the shipped model beats keyword (lexicon) on macro-F1 (0.910 vs 0.500)" in text
    assert "gold: the shipped model does NOT beat TF-IDF + LR on macro-F1 (0.910 vs 0.950)" in text
    assert "challenge: the shipped model beats TF-IDF + LR" in text
    assert "gold macro_f1: 0.910 (target >= 0.9): met." in text
    assert "gold hard_negative_fpr: 0.080 (target <= 0.05): MISSED." in text
    assert "gold evaded_recall: 0.850 (target >= 0.85): met." in text
