"""Pre-training (resume), multiple-instance fine-tuning, calibration, metrics and baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from classifier.taxonomy import LABELS
from training.baselines import KeywordBaseline, TfidfBaseline
from training.calibrate import calibrate
from training.evaluate import format_table, metrics
from training.export import BUILTIN_LEXICON
from training.finetune import FinetuneConfig, finetune, mask_tokens, mil_logits, read_extra, targets_of
from training.modeling import MODEL_SIZES, make_config, new_classifier
from training.pretrain import PretrainConfig, pretrain
from training.tokenizer import build_tokenizer
from training.toydata import toy_examples


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(latin_vocab=100)


def test_pretrain_resume_continues_where_it_stopped(tok, tmp_path):
    texts = [t for t, _ in toy_examples(0)] * 3

    def cfg(out, steps):
        return PretrainConfig(
            out, size="tiny", seq_len=32, batch_size=4, steps=steps, warmup=2, heldout_blocks=4
        )

    full = pretrain(cfg(tmp_path / "a", 6), tok, texts)
    partial = cfg(tmp_path / "c", 6)
    partial.minutes = 1e-9  # the time budget stops it after its first step, checkpointed
    stopped = pretrain(partial, tok, texts)
    assert stopped["steps"] < 6
    resumed = pretrain(cfg(tmp_path / "c", 6), tok, texts, resume=True)
    assert resumed["steps"] == 6
    assert resumed["mlm_loss"] == pytest.approx(full["mlm_loss"], rel=1e-4)
    assert (tmp_path / "c" / "model" / "tokenizer.json").is_file()


def test_mil_logits_take_the_max_over_each_items_windows(tok):
    model = new_classifier(make_config(tok, MODEL_SIZES["tiny"], max_positions=64), seed=0)
    windows = [[2, 10, 3], [2, 11, 12, 3], [2, 13, 3]]
    owners = torch.tensor([0, 0, 1])
    with torch.no_grad():
        per_window = torch.stack([model(input_ids=torch.tensor([w])).logits[0] for w in windows])
        got = mil_logits(model, windows, owners, 2, pad_id=0)
    assert torch.allclose(got[0], per_window[:2].max(0).values, atol=1e-5)
    assert torch.allclose(got[1], per_window[2], atol=1e-5)


def test_calibration_orders_thresholds_and_keeps_block_precision():
    rng = np.random.default_rng(0)
    y = (rng.random((2000, 3)) < 0.3).astype(int)
    scores = np.clip(y * 0.6 + rng.normal(0.2, 0.15, y.shape), 0, 1)
    thresholds, stats = calibrate(scores, y)
    for j, label in enumerate(LABELS):
        t = thresholds[label]
        assert 0 < t["warn"] < t["flag"] < t["block"] <= 1
        blocked = scores[:, j] >= t["block"]
        assert y[blocked, j].mean() >= 0.98
        assert stats[label]["warn_recall"] >= 0.98
    with pytest.raises(ValueError, match="must both be"):
        calibrate(scores[:, :2], y[:, :2])


def test_metrics_definitions():
    targets = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]], dtype=float)
    pred = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]], dtype=float)
    tags = [["evaded"], ["hard_negative"], ["hard_negative"], ["long"]]
    m = metrics(pred, targets, tags)
    assert m["hard_negative_fpr"] == 0.5
    assert m["evaded_recall"] == 1.0 and m["long_recall"] == 0.0
    assert m["per_label"]["fraudulent"]["f1"] == 1.0
    assert m["any_f1"] == pytest.approx(2 * 0.5 * 0.5 / 1.0)
    table = format_table({"sys": {"test": m}})
    assert "| sys |" in table and "test macro-F1" in table


def test_extra_file_errors_name_the_line(tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_text('{"text": "保本", "labels": ["misleading"]}\n\n{"text": "你好"}\n', encoding="utf-8")
    texts, labels = read_extra(good)
    assert texts == ["保本", "你好"] and labels == [["misleading"], []]
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "x", "labels": ["spam"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"b.jsonl:1: unknown labels \['spam'\]"):
        read_extra(bad)
    with pytest.raises(ValueError, match="unknown label 'x'"):
        targets_of([["x"]])


def test_baselines(tmp_path):
    lexicon = tmp_path / "redflags.txt"
    lexicon.write_text(BUILTIN_LEXICON, encoding="utf-8")
    kw = KeywordBaseline(lexicon).predict(["稳赚不赔！", "理财非存款，投资有风险", "征信修复找我"])
    assert kw.tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 0]]
    data = toy_examples(0)
    texts, y = [t for t, _ in data], np.array([t for _, t in data])
    model = TfidfBaseline(lexicon).fit(texts, y)
    thresholds = model.tune(texts, y)
    assert thresholds.shape == (len(LABELS),)
    assert ((thresholds > 0) & (thresholds <= 1)).all(), thresholds
    assert (model.predict(texts) == y).mean() > 0.95


def test_mask_tokens_masks_inside_the_window_only_and_copies():
    windows = [[2] + list(range(10, 410)) + [3]]
    got = mask_tokens(windows, 0.3, mask_id=4, rng=np.random.default_rng(0))
    assert got[0][0] == 2 and got[0][-1] == 3
    share = np.mean([x == 4 for x in got[0][1:-1]])
    assert 0.2 < share < 0.4
    assert all(x == 4 or x == y for x, y in zip(got[0], windows[0], strict=True))
    assert 4 not in windows[0]  # the input is not changed


def test_finetune_mask_prob_is_applied_and_checked(tok, tmp_path):
    examples = toy_examples(0)[:12]
    texts = [t for t, _ in examples]
    labels = [[LABELS[j] for j, v in enumerate(y) if v] for _, y in examples]

    def run(mask, out):
        cfg = FinetuneConfig(tmp_path / out, size="tiny", window=32, stride=24, steps=3, batch_size=4,
                             warmup_steps=1, mask_prob=mask)  # fmt: skip
        model, _ = finetune(cfg, tok, texts, labels)
        return model.classifier.weight.detach().clone()

    assert not torch.allclose(run(0.0, "plain"), run(0.5, "masked"))
    with pytest.raises(ValueError, match="mask_prob"):
        run(1.0, "bad")
