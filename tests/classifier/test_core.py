"""The Classifier on real ONNX sessions: the phrase bundle (known scores) and the tiny bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier import BundleError, Classifier, RecordError
from classifier import bundle as B

from .conftest import FILLER


def test_result_schema(phrase_classifier: Classifier) -> None:
    res = phrase_classifier.classify({"id": 7, "text": "稳赚不赔"})
    assert set(res) == {"id", "decision", "labels", "scores", "evidence", "model_version"}
    assert res["id"] == "7" and res["model_version"] == "phrase-test"
    assert res["scores"] == {"fraudulent": 0.0025, "misleading": 0.9, "unlicensed": 0.0025}
    assert res["decision"] == "block" and res["labels"] == ["misleading"]
    generated = phrase_classifier.classify("今天天气很好")
    assert len(generated["id"]) == 32 and generated["decision"] == "pass" and generated["evidence"] == []


@pytest.mark.parametrize(
    ("text", "decision", "labels"),
    [
        ("今天天气很好", "pass", []),
        ("天气疑", "warn", []),  # misleading 0.4: warn <= s < flag
        ("有人荐", "review", ["unlicensed"]),  # unlicensed 0.6: flag <= s < block
        ("骗", "block", ["fraudulent"]),  # 0.95 >= block
        ("荐疑", "review", ["unlicensed"]),
        ("骗赚荐", "block", ["fraudulent", "misleading", "unlicensed"]),
    ],
)
def test_decisions_follow_thresholds(
    phrase_classifier: Classifier, text: str, decision: str, labels: list
) -> None:
    res = phrase_classifier.classify(text)
    assert (res["decision"], res["labels"]) == (decision, labels)


def test_policy_presets_and_config_change_decisions(phrase_bundle: Path, tmp_path: Path) -> None:
    # misleading 0.4 is warn under standard (0.3/0.5/0.8), review under strict (flag 0.375),
    # pass under lenient (warn 0.55).
    assert Classifier.load(phrase_bundle, "strict", threads=1).classify("疑")["decision"] == "review"
    assert Classifier.load(phrase_bundle, "lenient", threads=1).classify("疑")["decision"] == "pass"
    cfg = tmp_path / "p.json"
    cfg.write_text(json.dumps({"thresholds": {"misleading": {"block": 0.39, "flag": 0.2, "warn": 0.1}}}))
    assert Classifier.load(phrase_bundle, config=cfg, threads=1).classify("疑")["decision"] == "block"


def test_evidence_points_into_the_original_text(phrase_classifier: Classifier) -> None:
    raw = "今天\u200b天气很好。本產品保*本*保*息，穩賺不賠！"
    res = phrase_classifier.classify(raw)
    assert res["decision"] == "block"
    for e in res["evidence"]:
        assert raw[e["start"] : e["end"]] == e["text"]
    lex = [e for e in res["evidence"] if e["source"] == "lexicon"]
    assert [(e["text"], e["subtype"], e["phrase"]) for e in lex] == [
        ("保*本*保*息", "M1", "保本保息"),
        ("穩賺不賠", "M1", "稳赚不赔"),
    ]
    model = [e for e in res["evidence"] if e["source"] == "model"]
    assert [e["label"] for e in model] == ["misleading"] and "賺" in model[0]["text"]


def test_negated_lexicon_phrases_are_not_evidence(phrase_classifier: Classifier) -> None:
    res = phrase_classifier.classify("本产品不保本，警惕稳赚不赔的骗局")
    assert [e for e in res["evidence"] if e["source"] == "lexicon"] == []


def test_violation_at_the_end_of_a_long_article_is_caught(phrase_classifier: Classifier) -> None:
    # window 16 tokens: 3,000+ characters need ~300 windows; the trigger is the last character.
    text = FILLER * 150 + "。最后：稳赚"
    res = phrase_classifier.classify(text)
    assert res["decision"] == "block" and res["labels"] == ["misleading"]
    (model,) = [e for e in res["evidence"] if e["source"] == "model"]
    assert model["end"] == len(text) and text[model["start"] : model["end"]].endswith("稳赚")
    assert model["end"] - model["start"] <= 14  # the best window, not the whole article
    assert phrase_classifier.classify(FILLER * 150)["decision"] == "pass"


def test_batches_of_mixed_lengths_match_single_posts(phrase_classifier: Classifier) -> None:
    texts = ["骗", FILLER * 3 + "荐", "天气疑", FILLER * 40, "赚" + FILLER * 7] * 3
    batch = phrase_classifier.classify_batch([{"id": str(i), "text": t} for i, t in enumerate(texts)])
    assert [r["id"] for r in batch] == [str(i) for i in range(len(texts))]
    for t, r in zip(texts, batch, strict=True):
        single = phrase_classifier.classify(t)
        assert (r["scores"], r["decision"]) == (single["scores"], single["decision"])
    raw = phrase_classifier.score_texts(texts)
    assert raw.shape == (len(texts), 3)
    assert np.allclose(raw[:, 1].round(4), [r["scores"]["misleading"] for r in batch])


def test_title_is_scored_and_evidence_stays_in_text(phrase_classifier: Classifier) -> None:
    res = phrase_classifier.classify({"title": "骗", "text": FILLER})
    assert res["decision"] == "block" and res["labels"] == ["fraudulent"]
    assert all(0 <= e["start"] <= e["end"] <= len(FILLER) for e in res["evidence"])


def test_account_licensed_rule(phrase_classifier: Classifier) -> None:
    licensed = phrase_classifier.classify({"text": "有人荐", "account": {"licensed": True}})
    assert (
        licensed["decision"] == "warn" and licensed["labels"] == [] and licensed["scores"]["unlicensed"] < 0.5
    )
    unlicensed = phrase_classifier.classify({"text": "有人荐", "account": {"licensed": False}})
    assert unlicensed["decision"] == "review"
    assert any(e["source"] == "account" for e in unlicensed["evidence"])
    crypto = phrase_classifier.classify({"text": "有人荐虚拟币交易", "account": {"licensed": True}})
    assert crypto["labels"] == ["unlicensed"]  # no licence covers crypto trading (U4 hit)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a"}, "text' must be a non-empty string, got missing"),
        ({"text": 3}, "got a int"),
        ({"text": "  "}, "is empty"),
        (
            {"text": "x", "account": {"licensed": "yes"}},
            "account.licensed must be true, false or null, got 'yes'",
        ),
        ({"text": "x", "title": 5}, "'title' must be a string"),
        (["text"], "must be a string or an object"),
    ],
)
def test_bad_records_are_refused_with_a_reason(
    phrase_classifier: Classifier, record: object, message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        phrase_classifier.classify_batch(["ok", record])  # type: ignore[list-item]


def _copy(bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(bundle, out)
    return out


def test_corrupted_model_is_refused_naming_the_file(phrase_bundle: Path, tmp_path: Path) -> None:
    broken = _copy(phrase_bundle, tmp_path)
    with open(broken / B.MODEL_FILE, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BundleError, match=r"checksum mismatch for model.onnx"):
        Classifier.load(broken)


def test_unloadable_model_with_matching_checksums_is_refused(phrase_bundle: Path, tmp_path: Path) -> None:
    broken = _copy(phrase_bundle, tmp_path)
    (broken / B.MODEL_FILE).write_bytes(b"not an onnx model")
    B.write_checksums(broken)
    with pytest.raises(BundleError, match=r"model.onnx cannot be loaded by onnxruntime"):
        Classifier.load(broken)


def test_normaliser_version_mismatch_is_refused(phrase_bundle: Path, tmp_path: Path) -> None:
    other = _copy(phrase_bundle, tmp_path)
    manifest = json.loads((other / B.MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["normalizer_version"] = "nfkc-0"
    (other / B.MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    B.write_checksums(other)
    with pytest.raises(BundleError, match=r"trained with normaliser 'nfkc-0'.*re-export"):
        Classifier.load(other)


def test_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        Classifier.load(tmp_path / "nope")


def test_tiny_bundle_end_to_end(tiny_bundle: Path) -> None:
    clf = Classifier.load(tiny_bundle, threads=1)
    texts = ["本产品保本保息，稳赚不赔，加微信了解", "今天天气很好，我们去公园散步。" * 60, "荐股群"]
    results = clf.classify_batch(texts)
    for t, r in zip(texts, results, strict=True):
        assert r["decision"] in {"pass", "warn", "review", "block"}
        assert set(r["scores"]) == {"fraudulent", "misleading", "unlicensed"}
        assert all(0.0 <= s <= 1.0 for s in r["scores"].values())
        assert all(t[e["start"] : e["end"]] == e["text"] for e in r["evidence"])
        # One window per ONNX call (the default): a post scores the same alone or in a batch,
        # although dynamic int8 quantisation scales activations per input tensor.
        assert clf.classify(t)["scores"] == r["scores"]


_ALPHABET = list("骗赚荐疑贷稳赚不赔保本息加微信群今天气很好。，！ *-~\u200b\n穩賺號ＡＢ１２vx薇🐧💰")


@given(st.text(alphabet=st.sampled_from(_ALPHABET), min_size=1, max_size=80).filter(str.strip))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_evidence_span_is_a_slice_of_the_callers_text(phrase_classifier: Classifier, text: str) -> None:
    res = phrase_classifier.classify(text)
    for e in res["evidence"]:
        assert 0 <= e["start"] <= e["end"] <= len(text)
        assert text[e["start"] : e["end"]] == e["text"]


def test_sentence_evidence_points_at_the_sentence(phrase_bundle: Path) -> None:
    clf = Classifier.load(phrase_bundle, threads=1, evidence="sentence")
    text = FILLER * 30 + "。今天天气很好。有人说稳赚！" + FILLER
    res = clf.classify(text)
    (model,) = [e for e in res["evidence"] if e["source"] == "model"]
    assert model["text"] == "有人说稳赚！" and text[model["start"] : model["end"]] == model["text"]
    # Scores and decisions do not depend on the evidence mode.
    plain = Classifier.load(phrase_bundle, threads=1).classify(text)
    assert (plain["scores"], plain["decision"]) == (res["scores"], res["decision"])
    (window,) = [e for e in plain["evidence"] if e["source"] == "model"]
    assert window["start"] <= model["start"] and model["end"] <= window["end"] + 1
    with pytest.raises(ValueError, match="evidence must be one of window, sentence"):
        Classifier.load(phrase_bundle, evidence="paragraph")
