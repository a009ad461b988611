"""The lexical head in a bundle: features, stacking, loading and refusing a bad `lexical.npz`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from classifier import BundleError, Classifier
from classifier import bundle as B
from classifier.evidence import Lexicon
from classifier.lexical import (
    CHUNK,
    N_FEATURES,
    WORD_BUCKETS,
    LexicalHead,
    chunks,
    hashed_counts,
    segment,
    tfidf,
)
from classifier.normalize import normalize

LABELS = ("fraudulent", "misleading", "unlicensed")


def _head_for(word: str, label: int, segmenter) -> LexicalHead:
    """A head whose only non-zero weight is `word`'s bucket for `label`; stack trusts it alone."""
    idx, _ = hashed_counts(word, segmenter)
    coef = np.zeros((3, N_FEATURES), dtype=np.float32)
    coef[label, idx[idx < WORD_BUCKETS]] = 8.0
    stack = np.array([[1.0, 1.0, 0.0, 0.0]] * 3, dtype=np.float32)
    return LexicalHead(np.ones(N_FEATURES, dtype=np.float32), coef, np.full(3, -2.0, np.float32), stack)


def _with_head(bundle: Path, tmp_path: Path, head: LexicalHead) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(bundle, out)
    head.save(out / B.LEXICAL_FILE)
    B.write_checksums(out)
    return out


def test_features_are_per_block_normalised() -> None:
    seg = Lexicon([]).segmenter()
    idx, counts = hashed_counts(normalize("保本保息，保本！").text, seg)
    assert (np.diff(idx) > 0).all() and counts.max() >= 2
    values = tfidf(idx, counts, np.ones(N_FEATURES, dtype=np.float32))
    words, grams = values[idx < WORD_BUCKETS], values[idx >= WORD_BUCKETS]
    assert np.isclose((words**2).sum(), 1.0) and np.isclose((grams**2).sum(), 1.0)


def test_bundle_with_lexical_head_stacks_it(phrase_bundle: Path, tmp_path: Path) -> None:
    plain = Classifier.load(phrase_bundle, threads=1)
    head = _head_for("庞氏", 0, plain.lexicon.segmenter())
    clf = Classifier.load(_with_head(phrase_bundle, tmp_path, head), threads=1)
    texts = ["这个项目就是庞氏", "今天天气很好"]
    model = plain.score_texts(texts)
    stacked = clf.score_texts(texts)
    expected = head.combine(
        model, np.stack([head.logits(normalize(t).text, plain.lexicon.segmenter()) for t in texts])
    )
    assert np.allclose(stacked, expected, atol=1e-5)
    assert stacked[0, 0] > model[0, 0] and stacked[1, 0] < model[1, 0]
    # classify() reports the stacked scores too.
    assert clf.classify(texts[0])["scores"]["fraudulent"] == pytest.approx(float(stacked[0, 0]), abs=1e-4)


def test_chunk_logit_finds_a_paragraph_inside_a_long_text(tmp_path: Path) -> None:
    from training.lexical import lexical_logits

    seg = Lexicon([]).segmenter()
    head = _head_for("庞氏", 0, seg)
    head = LexicalHead(head.idf, head.coef * 5, head.intercept, head.stack)
    filler = "".join(chr(0x4E00 + i * 37 % 5000) for i in range(800))  # 800 characters of varied text
    long = normalize(filler + "朋友拉我进的项目就是庞氏，" + filler[::-1]).text
    short = "朋友拉我进的项目就是庞氏"
    pieces = chunks(long, segment(long, seg))
    assert all(len(p) == CHUNK for p, _ in pieces) and long.endswith(pieces[-1][0])
    assert all(long[a:b] == w and w in p for p, ws in pieces for w, a, b in ws)  # offsets kept
    whole, top = head.logits(long, seg)
    assert top[0] > whole[0] + 1.0  # the paragraph is not diluted by the text around it
    assert np.array_equal(top[1:], whole[1:])  # no other label has weights
    assert np.array_equal(*head.logits(short, seg)) and chunks(short, segment(short, seg)) == []
    # Training computes the same features in one sparse product.
    batch = lexical_logits(head, [long, short], seg)
    assert np.allclose(batch, np.stack([head.logits(long, seg), head.logits(short, seg)]), atol=1e-5)
    # The stack weighs the two: d on the chunk logit, b on the whole text's.
    chunky = LexicalHead(head.idf, head.coef, head.intercept, np.float32([[0.0, 0.0, 1.0, 0.0]] * 3))
    assert chunky.combine(np.full(3, 0.5), batch[0])[0] > head.combine(np.full(3, 0.5), batch[0])[0]
    # A head saved before chunks (stack a, b, c) still loads, with d = 0.
    np.savez_compressed(tmp_path / "old.npz", idf=head.idf, coef=head.coef, intercept=head.intercept,
                        stack=np.array([[0.5, 1.0, 0.2]] * 3, np.float32))  # fmt: skip
    old = LexicalHead.load(tmp_path / "old.npz", 3)
    assert np.allclose(old.stack, [[0.5, 1.0, 0.0, 0.2]] * 3)


def test_bad_lexical_file_is_refused_naming_it(phrase_bundle: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(phrase_bundle, broken)
    np.savez_compressed(broken / B.LEXICAL_FILE, idf=np.ones(5), coef=np.zeros((3, 5)), intercept=np.zeros(3),
                        stack=np.zeros((3, 3)))  # fmt: skip
    B.write_checksums(broken)
    with pytest.raises(BundleError, match=r"lexical\.npz: idf has shape"):
        Classifier.load(broken)
    for junk in (b"not a zip", b"PK\x03\x04truncated zip"):
        (broken / B.LEXICAL_FILE).write_bytes(junk)
        B.write_checksums(broken)
        with pytest.raises(BundleError, match=r"lexical\.npz cannot be read"):
            Classifier.load(broken)


def test_top_words_are_the_words_that_raise_the_label() -> None:
    seg = Lexicon([]).segmenter()
    head = _head_for("翻倍", 0, seg)
    coef = head.coef.copy()
    idx, _ = hashed_counts("项目", seg)
    coef[0, idx[idx < WORD_BUCKETS]] = -8.0  # a word that lowers the label is never evidence
    head = LexicalHead(head.idf, coef, head.intercept, head.stack)
    text = normalize("这个项目收益翻倍，快来加入").text
    words = head.top_words(text, seg, [0, 1])
    assert [text[a:b] for a, b in words[0]] == ["翻倍"]
    assert words[1] == []  # no weight for misleading
    assert head.top_words(text, seg, [0], start_at=7) == {0: []}  # 翻倍 starts at 6, before 7
    off = LexicalHead(head.idf, coef, head.intercept, np.zeros((3, 4), dtype=np.float32))
    assert off.top_words(text, seg, [0]) == {0: []}  # a stack that ignores the head shows none of its words


def test_classify_shows_lexical_words_as_evidence(phrase_bundle: Path, tmp_path: Path) -> None:
    seg = Classifier.load(phrase_bundle, threads=1).lexicon.segmenter()

    def classify_with(word: str, label: int, record):
        head = _head_for(word, label, seg)
        head = LexicalHead(head.idf, head.coef * 4, head.intercept, head.stack)  # outweighs the model
        return Classifier.load(_with_head(phrase_bundle, tmp_path / word, head), threads=1).classify(record)

    text = "這個項目就是ＡＢ龐氏，收益很好"  # traditional and full-width: offsets must map back
    result = classify_with("庞氏", 0, {"text": text, "title": "龐氏项目"})  # the title's 庞氏 is not shown
    assert result["scores"]["fraudulent"] >= 0.5
    lexical = [e for e in result["evidence"] if e["source"] == "lexical"]
    assert lexical == [{"label": "fraudulent", "start": 8, "end": 10, "text": "龐氏", "source": "lexical"}]
    # Words the lexicon already marks are not repeated as lexical evidence.
    result = classify_with("保本保息", 1, "这款产品保本保息")
    assert result["scores"]["misleading"] >= 0.5
    assert any(e["source"] == "lexicon" and e["text"] == "保本保息" for e in result["evidence"])
    assert not [e for e in result["evidence"] if e["source"] == "lexical"]
