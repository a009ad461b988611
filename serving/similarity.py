"""Near-duplicate detection for similar-text memory: MinHash with LSH banding (Broder 1997).

A post is normalised with `classifier.normalize` (so evasion tricks, full-width characters and
inserted symbols do not hide a re-post), whitespace and punctuation dropped, numbers masked, and cut into
overlapping character shingles of `SHINGLE` characters. `NUM_PERM` MinHash values estimate the
Jaccard similarity of two shingle sets; they are grouped into `BANDS` bands of `ROWS` rows, and
each band's hash is one key in the `similarity_bands` table. Two posts that share any band key
are candidates; a candidate counts only when the exact Jaccard similarity of the shingle sets,
recomputed from the stored texts, reaches the threshold.

With 16 bands of 4 rows, a pair at Jaccard 0.7 becomes a candidate with probability
1 - (1 - 0.7**4)**16 = 0.988, a pair at 0.3 with probability 0.12 (then rejected by the
exact check), so the index finds near-duplicates without comparing against every stored post.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from classifier.normalize import normalize

SHINGLE = 3
NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
MIN_SHINGLES = 8  # shorter texts share too few shingles for a meaningful similarity
DEFAULT_THRESHOLD = 0.7

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_rng = np.random.RandomState(20261125)  # fixed: band keys must be the same in every process
_A = _rng.randint(1, 1 << 32, size=NUM_PERM, dtype=np.uint64)
_B = _rng.randint(0, 1 << 32, size=NUM_PERM, dtype=np.uint64)
_DROP = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def canonical_text(text: str) -> str:
    """The text shingles are taken from: normalised, without whitespace and punctuation, every
    number written as `0` (a campaign re-posts with other rates, amounts and contact ids)."""
    norm = _DROP.sub("", normalize(text).text)
    norm = "".join(ch for ch in norm if not unicodedata.category(ch).startswith(("P", "S")))
    return _NUMBER.sub("0", norm)


def shingles(text: str) -> set[str]:
    """Character shingles of `canonical_text(text)` (the whole text when it is shorter)."""
    canon = canonical_text(text)
    if len(canon) <= SHINGLE:
        return {canon} if canon else set()
    return {canon[i : i + SHINGLE] for i in range(len(canon) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b|, 0.0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _hash32(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=4).digest(), "little")


def minhash(shingle_set: set[str]) -> np.ndarray:
    """`NUM_PERM` MinHash values of a non-empty shingle set (universal hashing mod 2**61 - 1).

    Raises:
        ValueError: the set is empty.
    """
    if not shingle_set:
        raise ValueError("cannot MinHash an empty shingle set")
    hv = np.fromiter((_hash32(s) for s in shingle_set), dtype=np.uint64, count=len(shingle_set))
    # (a*x + b) mod p stays below 2**64: a, x < 2**32 and b < 2**32.
    phv = ((hv[:, None] * _A[None, :] + _B[None, :]) % _MERSENNE) & _MAX_HASH
    return phv.min(axis=0)


def band_keys(signature: np.ndarray) -> list[tuple[int, str]]:
    """(band number, 16-hex-digit key) for each of the `BANDS` bands of a signature."""
    keys = []
    for band in range(BANDS):
        chunk = signature[band * ROWS : (band + 1) * ROWS].astype("<u8").tobytes()
        keys.append((band, hashlib.blake2b(chunk, digest_size=8).hexdigest()))
    return keys


@dataclass(frozen=True)
class Fingerprint:
    """What the index needs of one text: its shingles and band keys (none for short texts)."""

    shingles: frozenset[str]
    keys: tuple[tuple[int, str], ...]

    @property
    def indexable(self) -> bool:
        return bool(self.keys)


def fingerprint(text: str) -> Fingerprint:
    """Shingles and band keys of `text`; texts under `MIN_SHINGLES` shingles get no keys."""
    sh = shingles(text)
    keys = tuple(band_keys(minhash(sh))) if len(sh) >= MIN_SHINGLES else ()
    return Fingerprint(frozenset(sh), keys)
