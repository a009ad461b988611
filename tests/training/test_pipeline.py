"""End to end, tiny: corpus -> tokenizer -> pre-train -> fine-tune -> calibrate -> export -> bundle
-> load -> classify. Also `--base-model` with a checkpoint the test saves, and `--extra`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier import bundle as B
from classifier.taxonomy import LABELS
from training.corpus import store
from training.export import BUILTIN_LEXICON
from training.pipeline import Pipeline, TrainPlan, install_bundle, train
from training.toydata import toy_examples


def _records(seed: int, split: str) -> list[dict]:
    rows = []
    for i, (text, target) in enumerate(toy_examples(seed)):
        labels = [label for label, on in zip(LABELS, target, strict=True) if on]
        tags = ["len:short"]
        if not labels and ("风险" in text or "警惕" in text):
            tags.append("hard_negative")
        if labels and i % 3 == 0:
            text = "稳*赚*不*赔".join(text.split("稳赚不赔")) if "稳赚不赔" in text else text
            tags += ["evaded", "evasion:separator"]
        if labels and i % 5 == 0:
            text = "今天和大家聊聊生活。" * 30 + text
            tags = [t for t in tags if not t.startswith("len:")] + ["long", "len:long"]
        rows.append(
            {
                "id": f"{split}-{i}",
                "text": text,
                "labels": labels,
                "subtype": "toy" if labels else "C-nonfin",
                "family": "toy",
                "tags": sorted(tags),
            }
        )
    return rows


@pytest.fixture(scope="module")
def toy_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    splits = root / "splits"
    splits.mkdir()
    digests = {}
    for seed, split in enumerate(("train", "dev", "test", "challenge")):
        rows = _records(seed, split) * (3 if split == "train" else 1)
        digests[split] = store.write_split(splits / f"{split}{store.SPLIT_SUFFIX}", rows)
    store.write_manifest(splits, {"seed": 0, "corpus_hash": "toy-corpus"})
    (root / "lexicon").mkdir()
    (root / "lexicon" / "redflags.txt").write_text(BUILTIN_LEXICON, encoding="utf-8")
    return root


def _tiny_plan(run_dir: Path, corpus: Path, **kw) -> TrainPlan:
    defaults = dict(
        run_dir=run_dir, corpus_dir=corpus, size="tiny", window=64, stride=48, pretrain_steps=8,
        pretrain_stop_at=None, domain_steps=4, domain_stop_at=None, finetune_epochs=20, finetune_steps=None,
        finetune_stop_at=None, finetune_warmup_steps=None, finetune_lr=3e-3, batch_size=16,
        text_limit=400, eval_splits=("test", "challenge"),
        version="tiny-e2e",
    )  # fmt: skip
    defaults.update(kw)
    return TrainPlan(**defaults)


@pytest.fixture(scope="module")
def trained_bundle(tmp_path_factory, toy_corpus) -> Path:
    return train(_tiny_plan(tmp_path_factory.mktemp("run"), toy_corpus))


def test_train_writes_a_verified_bundle_with_metrics(trained_bundle):
    bundle = B.load_bundle(trained_bundle)
    m = bundle.manifest
    assert m["corpus_hash"] == "toy-corpus"
    assert m["window"] == 64 and m["stride"] == 48
    for label in LABELS:
        t = m["thresholds"][label]
        assert 0 < t["warn"] < t["flag"] < t["block"] <= 1
    assert {"test", "challenge"} <= set(m["metrics"]["eval"])
    assert {
        "keyword (lexicon)",
        "TF-IDF + LR",
        "transformer, no pre-training (int8 ONNX)",
        "transformer alone (int8 ONNX)",
        "transformer + lexical head (PyTorch)",
    } <= set(m["metrics"]["baselines"])
    assert m["scoring"] == "transformer + lexical head" and bundle.file(B.LEXICAL_FILE).is_file()
    assert len(m["training"]["lexical"]["stack"]) == len(LABELS)
    parity = m["metrics"]["parity"]
    assert parity["fp32_vs_torch_max_abs_prob_diff"] < 1e-4
    assert parity["int8_fp32_decision_agreement"] >= 0.95
    card = bundle.file(B.CARD_FILE).read_text(encoding="utf-8")
    assert "TF-IDF + LR" in card and "| system |" in card
    assert m["training"]["pretrain_general"]["steps"] == 8


def test_trained_bundle_classifies(trained_bundle):
    from classifier.core import Classifier

    clf = Classifier.load(trained_bundle, threads=1)
    results = clf.classify_batch(["朋友们，拉人头返佣，推荐一人奖励一千！", "今天天气很好，我们去公园散步"])
    assert results[0]["scores"]["fraudulent"] > results[1]["scores"]["fraudulent"]
    assert "fraudulent" in results[0]["labels"]
    # warn is tuned for 98% recall, so a tiny model may warn on harmless text; it must not flag it.
    assert results[1]["labels"] == [] and results[1]["decision"] in ("pass", "warn")


def test_served_scores_are_the_evaluated_scores(trained_bundle, toy_corpus):
    """The classifier stacks the lexical head exactly as training evaluated and calibrated it."""
    from tokenizers import Tokenizer

    from classifier.core import Classifier
    from classifier.lexical import CHUNK, LexicalHead
    from training import evaluate as ev
    from training.lexical import lexical_logits, segmenter_for

    bundle = B.load_bundle(trained_bundle)
    texts = ev.load_split("test", toy_corpus).texts[:40]
    texts.append("\n".join(texts[:30]))  # a long post: its lexical chunks count too
    assert len(texts[-1]) > 2 * CHUNK
    tok = Tokenizer.from_file(str(bundle.file(B.TOKENIZER_FILE)))
    model = ev.onnx_scores(bundle.file(B.MODEL_FILE), tok, texts, bundle.window, bundle.stride)
    head = LexicalHead.load(bundle.file(B.LEXICAL_FILE), len(LABELS))
    expected = head.combine(model, lexical_logits(head, texts, segmenter_for(bundle.file(B.LEXICON_FILE))))
    served = Classifier.load(trained_bundle, threads=1).score_texts(texts)
    assert np.abs(served - expected).max() < 1e-4
    assert np.abs(served - model).max() > 1e-3  # the head does change the scores


def test_install_replaces_target_only_with_a_verified_bundle(trained_bundle, tmp_path):
    target = install_bundle(trained_bundle, tmp_path / "default_bundle")
    assert B.load_bundle(target).version == "tiny-e2e"
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(B.BundleError):
        install_bundle(broken, target)
    assert B.load_bundle(target).version == "tiny-e2e"


def test_base_model_and_extra(tmp_path, toy_corpus, tiny_bundle):
    """Fine-tune a local HF checkpoint (saved here with save_pretrained) plus extra items."""
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    tok = Tokenizer.from_file(str(tiny_bundle / B.TOKENIZER_FILE))
    ckpt = tmp_path / "ckpt"
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)  # fmt: skip
    BertForMaskedLM(config).save_pretrained(ckpt)
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]", mask_token="[MASK]").save_pretrained(ckpt)  # fmt: skip
    extra = tmp_path / "verdicts.jsonl"
    extra.write_text(
        "\n".join(
            json.dumps({"text": t, "labels": ["misleading"]}, ensure_ascii=False)
            for t in ["保证收益翻倍", "收益翻倍稳稳的"]
        )
        + "\n",
        encoding="utf-8",
    )
    plan = _tiny_plan(tmp_path / "run", toy_corpus, base_model=ckpt, extra=[extra], finetune_epochs=3,
                      window=512)  # fmt: skip
    bundle = B.load_bundle(train(plan))
    # The checkpoint allows 128 positions, so the window is clamped to it.
    assert bundle.window == 128
    assert bundle.manifest["model_config"]["hidden_size"] == 32
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    # Extra items (moderator verdicts) count `written_weight` (3) times, as hand-written ones do.
    assert report["finetune"]["items"] == len(toy_examples(0)) * 3 + 2 * 3
    assert "pretrain_general" not in report


def test_hand_written_items_count_written_weight_times(tmp_path):
    rows = _records(0, "train")
    for row in rows[:5]:
        row["tags"] = sorted([*row["tags"], "written"])
    splits = tmp_path / "splits"
    splits.mkdir()
    store.write_split(splits / f"train{store.SPLIT_SUFFIX}", rows)
    for weight, expected in ((1, len(rows)), (3, len(rows) + 10)):
        texts, labels = Pipeline(_tiny_plan(tmp_path / "run", tmp_path, written_weight=weight)).train_data()
        assert len(texts) == len(labels) == expected
        written = [row["text"] for row in rows[:5]]
        assert all(texts.count(t) == weight * sum(r["text"] == t for r in rows) for t in written)
    with pytest.raises(ValueError, match="written_weight"):
        Pipeline(_tiny_plan(tmp_path / "run", tmp_path, written_weight=0)).train_data()


def test_eval_and_export_commands(trained_bundle, toy_corpus, tmp_path):
    from typer.testing import CliRunner

    from promoguard.cli import app

    runner = CliRunner()
    run_dir = trained_bundle.parent
    out = runner.invoke(
        app,
        [
            "eval",
            "--bundle",
            str(trained_bundle),
            "--run-dir",
            str(run_dir),
            "--corpus",
            str(toy_corpus),
            "--split",
            "test",
            "--json",
            str(tmp_path / "m.json"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "| keyword (lexicon) |" in out.output and "| shipped (int8 ONNX) |" in out.output
    assert json.loads((tmp_path / "m.json").read_text())["TF-IDF + LR"]["test"]["n"] == len(toy_examples(2))

    out = runner.invoke(app, ["export", str(run_dir / "finetune" / "model"), "--out", str(tmp_path / "b"),
                              "--corpus", str(toy_corpus), "--window", "64", "--stride", "48"])  # fmt: skip
    assert out.exit_code == 0, out.output
    exported = B.load_bundle(tmp_path / "b")
    assert exported.window == 64 and "calibration_dev" in exported.manifest["metrics"]

    out = runner.invoke(app, ["eval", "--bundle", str(tmp_path / "missing"), "--corpus", str(toy_corpus)])
    assert out.exit_code == 2 and "does not exist" in out.output
