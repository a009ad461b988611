"""The lexical head: hashed TF-IDF over jieba words and character 1-3-grams, one linear model per
label, stacked with the transformer's score ("wide and deep").

The transformer reads characters in context; the lexical head remembers which words and
character n-grams go with which label, and generalises to unseen phrasings the way TF-IDF does.
A bundle that carries `lexical.npz` scores each label as

    sigmoid(a * logit(transformer score) + b * lexical logit + d * chunk logit + c)

with (a, b, d, c) per label fitted on dev. The lexical logit is the whole text's; the chunk logit
is the largest over the whole text and its chunks of `CHUNK` characters, `CHUNK_STRIDE` apart (the
head's answer to what the transformer's windows do: a violating paragraph inside a long article
is not diluted by the ordinary text around it). For texts of up to `CHUNK` characters the two are
equal. A bundle whose stack has three columns (a, b, c; before chunks) is read with d = 0.

Features (`hashed_counts`, `tfidf`) are computed on normalised text:
jieba words (segmented with the bundle's lexicon as user dictionary) and character 1-3-grams of
the text without whitespace, hashed with CRC-32 into `WORD_BUCKETS` and `CHAR_BUCKETS` buckets;
sublinear tf times idf, each block L2-normalised on its own (so a post's few words weigh as much
as its many n-grams). Buckets seen in fewer than two training posts have idf 0 and are ignored.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WORD_BUCKETS = 1 << 17
CHAR_BUCKETS = 1 << 18
N_FEATURES = WORD_BUCKETS + CHAR_BUCKETS
NGRAMS = (1, 2, 3)
CHUNK = 300
CHUNK_STRIDE = 225
_EPS = 1e-6


Words = list[tuple[str, int, int]]  # jieba words with their spans in the normalised text


def segment(text: str, segmenter: Any) -> Words:
    """jieba words of normalised text (blank ones dropped) with their (start, end)."""
    return [(w, a, b) for w, a, b in segmenter.tokenize(text) if w.strip()]


def tokens(text: str, segmenter: Any, words: Words | None = None) -> tuple[list[str], list[str]]:
    """jieba words and character n-grams of normalised text (`words`: its `segment`, if known)."""
    words = segment(text, segmenter) if words is None else words
    flat = "".join(text.split())
    grams = [flat[i : i + n] for n in NGRAMS for i in range(len(flat) - n + 1)]
    return [w for w, _, _ in words], grams


def chunks(text: str, words: Words) -> list[tuple[str, Words]]:
    """Pieces of `CHUNK` characters, `CHUNK_STRIDE` apart (the last one ends with the text), each
    with the words of `words` that lie inside it (offsets unchanged); none for a short text."""
    if len(text) <= CHUNK:
        return []
    starts = [*range(0, len(text) - CHUNK, CHUNK_STRIDE), len(text) - CHUNK]
    return [(text[a : a + CHUNK], [w for w in words if w[1] >= a and w[2] <= a + CHUNK]) for a in starts]


def _hash(toks: list[str], buckets: int) -> np.ndarray:
    return np.fromiter((zlib.crc32(t.encode("utf-8")) for t in toks), dtype=np.int64, count=len(toks)) & (
        buckets - 1
    )


def hashed_counts(text: str, segmenter: Any, words: Words | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted bucket indices (words first, then n-grams) and their counts for one normalised text."""
    words, grams = tokens(text, segmenter, words)
    ids = np.concatenate([_hash(words, WORD_BUCKETS), WORD_BUCKETS + _hash(grams, CHAR_BUCKETS)])
    idx, counts = np.unique(ids, return_counts=True)
    return idx, counts.astype(np.float32)


def tfidf(idx: np.ndarray, counts: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Sublinear-tf x idf values for sorted `idx`, each block (words, n-grams) L2-normalised."""
    values = (1.0 + np.log(counts)) * idf[idx]
    cut = int(np.searchsorted(idx, WORD_BUCKETS))
    for block in (values[:cut], values[cut:]):
        norm = float(np.sqrt((block * block).sum()))
        if norm > 0:
            block /= norm
    return values


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


@dataclass(frozen=True)
class LexicalHead:
    """Arrays of `lexical.npz`: idf `[N]`, coef `[L, N]`, intercept `[L]`, stack `[L, 4]`
    (a, b, d, c of the module docstring)."""

    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    stack: np.ndarray

    def __post_init__(self) -> None:
        if self.stack.shape[-1] == 3:  # a, b, c of a head before chunks: d = 0
            object.__setattr__(self, "stack", np.insert(self.stack, 2, 0.0, axis=-1))

    @classmethod
    def load(cls, path: str | Path, n_labels: int) -> LexicalHead:
        """Read and check `lexical.npz`.

        Raises:
            ValueError: an array is missing or has the wrong shape (the message names it).
        """
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], dtype=np.float32) for k in ("idf", "coef", "intercept", "stack")
                      if k in data}  # fmt: skip
        want = {"idf": (N_FEATURES,), "coef": (n_labels, N_FEATURES), "intercept": (n_labels,),
                "stack": (n_labels, 4)}  # fmt: skip
        if "stack" in arrays and arrays["stack"].shape == (n_labels, 3):
            want["stack"] = (n_labels, 3)  # before chunks (read with d = 0)
        for name, shape in want.items():
            if name not in arrays:
                raise ValueError(f"{Path(path).name} lacks the array {name!r}")
            if arrays[name].shape != shape:
                raise ValueError(f"{Path(path).name}: {name} has shape {arrays[name].shape}, not {shape}")
        return cls(**arrays)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, idf=self.idf, coef=self.coef, intercept=self.intercept, stack=self.stack)

    def _logits(self, text: str, segmenter: Any, words: Words | None) -> np.ndarray:
        idx, counts = hashed_counts(text, segmenter, words)
        return self.coef[:, idx] @ tfidf(idx, counts, self.idf) + self.intercept

    def logits(self, text: str, segmenter: Any, words: Words | None = None) -> np.ndarray:
        """`[2, L]` for one normalised text (`words`: its `segment`, if known): the whole text's
        lexical logits, and the largest over the whole text and its `chunks`."""
        words = segment(text, segmenter) if words is None else words
        whole = self._logits(text, segmenter, words)
        top = whole.copy()
        for piece, piece_words in chunks(text, words):
            np.maximum(top, self._logits(piece, segmenter, piece_words), out=top)
        return np.stack([whole, top])

    def top_words(
        self, text: str, segmenter: Any, labels: Sequence[int], k: int = 3, start_at: int = 0,
        words: Words | None = None,
    ) -> dict[int, list[tuple[int, int]]]:  # fmt: skip
        """Per label, spans in normalised `text` of the `k` jieba words that raise its logit most.

        A word's share is its coefficient times its tf-idf value (the word block of `tfidf`, over
        the whole text); only words of two or more characters with a positive share count, each
        at its first occurrence at or after `start_at` (a title before the text is scored, never
        shown). Labels whose stack gives the head no net weight (b + d <= 0) get none. `words`: the
        text's `segment`, if known.
        """
        words = segment(text, segmenter) if words is None else words
        if not words:
            return {j: [] for j in labels}
        ids = _hash([w for w, _, _ in words], WORD_BUCKETS)
        buckets, first, inverse, counts = np.unique(
            ids, return_index=True, return_inverse=True, return_counts=True
        )
        values = tfidf(buckets, counts.astype(np.float32), self.idf)  # the word block alone
        long_enough = {u for u in range(len(buckets)) if len(words[first[u]][0].strip()) >= 2}
        out = {}
        for j in labels:
            uses = self.stack[j, 1] + self.stack[j, 2] > 0  # the head's net weight on short texts
            share = self.coef[j, buckets] * values if uses else np.zeros(len(buckets))
            spans: dict[int, tuple[int, int]] = {}  # each positive word's first span at or after start_at
            for (_, a, b), u in zip(words, inverse.tolist(), strict=True):
                if share[u] > 0 and u in long_enough and u not in spans and a >= start_at:
                    spans[u] = (a, b)
            top = sorted(spans, key=lambda u: -share[u])[:k]
            out[j] = sorted(spans[u] for u in top)
        return out

    def combine(self, model_scores: np.ndarray, lexical_logits: np.ndarray) -> np.ndarray:
        """Stacked probabilities from transformer scores `[..., L]` and `logits` `[..., 2, L]`."""
        a, b, d, c = self.stack.T
        whole, top = lexical_logits[..., 0, :], lexical_logits[..., 1, :]
        z = a * logit(model_scores) + b * whole + d * top + c
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
