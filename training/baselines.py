"""Baselines the transformer is compared with in `promoguard eval`.

1. `KeywordBaseline`: flags a label when any red-flag phrase of that label's sub-types occurs in
   the normalised text (what most platforms run). Disclosure and negation entries are ignored.
2. `TfidfBaseline`: TF-IDF over jieba words plus character 1-3-grams, one logistic regression
   per label (scikit-learn); its per-label decision threshold is tuned on dev for best F1, as
   the transformer's `flag` threshold is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classifier.taxonomy import LABELS, SUBTYPES

from .modeling import model_text

log = logging.getLogger(__name__)


def read_lexicon(path: str | Path) -> list[tuple[str, str]]:
    """(phrase, code) pairs of a jieba user dictionary `phrase freq code`.

    Raises:
        ValueError: a line does not have three fields; names the line.
    """
    entries = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 3:
            raise ValueError(f"{path}:{lineno}: expected 'phrase freq code', got {line!r}")
        entries.append((parts[0], parts[-1]))
    return entries


class KeywordBaseline:
    """Label = any lexicon phrase of that label occurs (normalised, lower-cased text)."""

    def __init__(self, lexicon: str | Path) -> None:
        self.phrases: dict[str, list[str]] = {label: [] for label in LABELS}
        for phrase, code in read_lexicon(lexicon):
            if code in SUBTYPES:
                self.phrases[SUBTYPES[code].label].append(phrase.lower())
        log.info("keyword baseline: %s phrases", {k: len(v) for k, v in self.phrases.items()})

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """`[n, L]` 0/1 decisions."""
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        for i, text in enumerate(texts):
            norm = model_text(text).lower()
            for j, label in enumerate(LABELS):
                out[i, j] = float(any(p in norm for p in self.phrases[label]))
        return out


class TfidfBaseline:
    """TF-IDF (jieba words + char 1-3-grams) and one logistic regression per label."""

    def __init__(self, lexicon: str | Path | None = None, seed: int = 0) -> None:
        import jieba

        self._jieba = jieba.Tokenizer()
        if lexicon and Path(lexicon).is_file():
            # jieba's user dictionary format is exactly the lexicon's "phrase freq code".
            self._jieba.load_userdict(str(lexicon))
        self.seed = seed
        self.thresholds = np.full(len(LABELS), 0.5)
        self.pipeline = None

    def _words(self, text: str) -> list[str]:
        return [w for w in self._jieba.lcut(text) if w.strip()]

    def fit(self, texts: Sequence[str], targets: np.ndarray) -> TfidfBaseline:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import FeatureUnion, make_pipeline

        features = FeatureUnion([
            ("words", TfidfVectorizer(analyzer=self._words, min_df=2, sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                                      max_features=300_000)),
        ])  # fmt: skip
        classifier = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000, random_state=self.seed))
        self.pipeline = make_pipeline(features, classifier)
        self.pipeline.fit([model_text(t) for t in texts], targets)
        return self

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """`[n, L]` probabilities.

        Raises:
            RuntimeError: `fit` was not called.
        """
        if self.pipeline is None:
            raise RuntimeError("TfidfBaseline.fit must be called before scoring")
        return self.pipeline.predict_proba([model_text(t) for t in texts])

    def tune(self, texts: Sequence[str], targets: np.ndarray) -> np.ndarray:
        """Set each label's threshold to its best-F1 point on (dev) data; returns the thresholds."""
        from sklearn.metrics import precision_recall_curve

        s = self.scores(texts)
        for j in range(len(LABELS)):
            p, r, t = precision_recall_curve(targets[:, j], s[:, j])
            f1 = 2 * p[:-1] * r[:-1] / np.maximum(p[:-1] + r[:-1], 1e-12)
            self.thresholds[j] = float(t[int(np.argmax(f1))])
        return self.thresholds

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """`[n, L]` 0/1 decisions at the tuned thresholds."""
        return (self.scores(texts) >= self.thresholds).astype(np.float32)
