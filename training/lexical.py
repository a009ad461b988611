"""Fit the lexical head (`classifier/lexical.py`): TF-IDF + logistic regression on train, and the
stacking weights that join it to the transformer on dev.

The linear models are fitted on train; the stack (a, b, c per label) is a two-feature logistic
regression on dev, where neither part has seen the families: on train both parts are near-perfect
and a stack fitted there would trust whichever memorised more.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classifier.evidence import Lexicon
from classifier.lexical import N_FEATURES, WORD_BUCKETS, LexicalHead, chunks, hashed_counts, logit, segment
from classifier.normalize import normalize

log = logging.getLogger(__name__)

MIN_DF = 2
C_LINEAR = 10.0  # as the TF-IDF baseline's; weakly regularised, the features are L2-normalised


def segmenter_for(lexicon: str | Path) -> object:
    """The jieba segmenter the classifier uses for this lexicon."""
    return Lexicon.load(lexicon).segmenter()


def count_matrix(texts: Sequence[str], segmenter: object):
    """CSR `[n, N_FEATURES]` of hashed counts of raw texts (normalised here)."""
    return _csr([hashed_counts(normalize(text).text, segmenter) for text in texts])


def _csr(rows: Sequence[tuple[np.ndarray, np.ndarray]]):
    """CSR `[len(rows), N_FEATURES]` from `hashed_counts` rows."""
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for idx, counts in rows:
        indices.append(idx)
        data.append(counts)
        indptr.append(indptr[-1] + len(idx))
    return csr_matrix(
        (np.concatenate(data) if data else [], np.concatenate(indices) if indices else [], indptr),
        shape=(len(rows), N_FEATURES), dtype=np.float32,
    )  # fmt: skip


def tfidf_matrix(counts, idf: np.ndarray):
    """Rows of `classifier.lexical.tfidf` for a count matrix (same formula, vectorised)."""
    from scipy.sparse import hstack
    from sklearn.preprocessing import normalize as l2

    x = counts.copy()
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    x.eliminate_zeros()
    return hstack([l2(x[:, :WORD_BUCKETS]), l2(x[:, WORD_BUCKETS:])], format="csr")


def fit_linear(texts: Sequence[str], targets: np.ndarray, segmenter: object, seed: int = 0) -> LexicalHead:
    """idf and one logistic regression per label on `texts`; the stack is identity-on-lexical."""
    from sklearn.linear_model import LogisticRegression

    counts = count_matrix(texts, segmenter)
    df = np.bincount(counts.indices, minlength=N_FEATURES)
    n = counts.shape[0]
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    idf[df < MIN_DF] = 0.0  # too rare to learn from: ignored, as the baseline's min_df=2 does
    x = tfidf_matrix(counts, idf)
    n_labels = targets.shape[1]
    coef = np.zeros((n_labels, N_FEATURES), dtype=np.float32)
    intercept = np.zeros(n_labels, dtype=np.float32)
    for j in range(n_labels):
        lr = LogisticRegression(C=C_LINEAR, max_iter=2000, random_state=seed).fit(x, targets[:, j])
        coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
    stack = np.tile(np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32), (n_labels, 1))
    log.info("lexical head: %d texts, %d active buckets", n, int((df > 0).sum()))
    return LexicalHead(idf, coef, intercept, stack)


def lexical_logits(head: LexicalHead, texts: Sequence[str], segmenter: object) -> np.ndarray:
    """`[n, 2, L]` of raw texts, as `LexicalHead.logits` computes them one by one: the whole
    text's lexical logits and the largest over the whole text and its chunks."""
    rows, starts = [], []
    for text in texts:
        norm = normalize(text).text
        words = segment(norm, segmenter)
        starts.append(len(rows))
        rows += [hashed_counts(piece, segmenter, w) for piece, w in [(norm, words), *chunks(norm, words)]]
    if not rows:
        return np.zeros((0, 2, len(head.intercept)), dtype=np.float32)
    z = np.asarray(tfidf_matrix(_csr(rows), head.idf) @ head.coef.T) + head.intercept
    return np.stack([z[starts], np.maximum.reduceat(z, starts, axis=0)], axis=1).astype(np.float32)


def fit_stack(
    head: LexicalHead, model_scores: np.ndarray, lex: np.ndarray, targets: np.ndarray
) -> LexicalHead:
    """Fit (a, b, d, c) per label on dev: logistic regression on [logit(model score), whole-text
    lexical logit, chunk-max lexical logit] (`lex`: `lexical_logits`, `[n, 2, L]`)."""
    from sklearn.linear_model import LogisticRegression

    stack = np.zeros((targets.shape[1], 4), dtype=np.float32)
    for j in range(targets.shape[1]):
        x = np.stack([logit(model_scores[:, j]), lex[:, 0, j], lex[:, 1, j]], axis=1)
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, targets[:, j])
        stack[j] = [*lr.coef_[0], lr.intercept_[0]]
    log.info("stack weights (a: transformer, b: lexical, d: chunk max, c): %s", stack.round(3).tolist())
    return LexicalHead(head.idf, head.coef, head.intercept, stack)
