"""The model bundle: a self-describing folder, verified on load.

Layout (file names are constants; `SHA256SUMS` covers every other file):

    model.onnx      int8 ONNX model: inputs input_ids, attention_mask (int64, [batch, seq]);
                    output logits (float32, [batch, len(labels)]); sigmoid gives scores
    tokenizer.json  `tokenizers` tokenizer, applied to normalised text
    bundle.json     manifest: format, version, labels, thresholds, window, stride,
                    normalizer_version, corpus_hash, metrics, created_with
    lexicon.txt     red-flag lexicon, jieba user-dictionary format "phrase freq code", for evidence
    lexical.npz     optional lexical head (`lexical.py`): hashed TF-IDF + linear model per label,
                    stacked with the transformer's score; jieba segments with lexicon.txt
    MODEL_CARD.md   what the model is, how it was trained, how it scores
    SHA256SUMS      `sha256sum` format, one line per file above
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "bundle.json"
LEXICON_FILE = "lexicon.txt"
LEXICAL_FILE = "lexical.npz"
CARD_FILE = "MODEL_CARD.md"
CHECKSUMS_FILE = "SHA256SUMS"
BUNDLE_FORMAT = 1
REQUIRED_FILES = (MODEL_FILE, TOKENIZER_FILE, MANIFEST_FILE, LEXICON_FILE, CARD_FILE)
REQUIRED_KEYS = (
    "format", "version", "labels", "thresholds", "window", "stride", "normalizer_version",
    "corpus_hash", "metrics", "created_with",
)  # fmt: skip

DEFAULT_BUNDLE_DIR = Path(__file__).parent / "default_bundle"


class BundleError(Exception):
    """A bundle is missing, incomplete, corrupted or of the wrong format."""


@dataclass(frozen=True)
class Thresholds:
    """Per-label decision thresholds: warn < flag < block, all in (0, 1]."""

    warn: float
    flag: float
    block: float

    def __post_init__(self) -> None:
        if not 0.0 < self.warn < self.flag < self.block <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 < warn < flag < block <= 1, got "
                f"warn={self.warn}, flag={self.flag}, block={self.block}"
            )

    def as_dict(self) -> dict[str, float]:
        return {"warn": self.warn, "flag": self.flag, "block": self.block}


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk and its manifest."""

    path: Path
    manifest: dict[str, Any] = field(repr=False)

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.manifest["labels"])

    @property
    def thresholds(self) -> dict[str, Thresholds]:
        return {k: Thresholds(**v) for k, v in self.manifest["thresholds"].items()}

    @property
    def window(self) -> int:
        return int(self.manifest["window"])

    @property
    def stride(self) -> int:
        return int(self.manifest["stride"])

    @property
    def normalizer_version(self) -> str:
        return str(self.manifest["normalizer_version"])

    def file(self, name: str) -> Path:
        return self.path / name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(path: str | Path) -> Path:
    """Write `SHA256SUMS` for every file in the bundle folder (sorted, sha256sum format)."""
    root = Path(path)
    lines = [
        f"{sha256_file(p)}  {p.name}\n"
        for p in sorted(root.iterdir())
        if p.is_file() and p.name != CHECKSUMS_FILE
    ]
    out = root / CHECKSUMS_FILE
    out.write_text("".join(lines), encoding="utf-8")
    return out


def verify_checksums(path: str | Path) -> None:
    """Raise BundleError naming the first file that is missing or does not match."""
    root = Path(path)
    sums = root / CHECKSUMS_FILE
    if not sums.is_file():
        raise BundleError(f"bundle {root}: {CHECKSUMS_FILE} is missing")
    listed: set[str] = set()
    for lineno, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if not name or len(digest) != 64:
            raise BundleError(f"bundle {root}: {CHECKSUMS_FILE} line {lineno} is malformed: {line!r}")
        listed.add(name)
        target = root / name
        if not target.is_file():
            raise BundleError(f"bundle {root}: {name} is listed in {CHECKSUMS_FILE} but missing")
        if sha256_file(target) != digest:
            raise BundleError(
                f"bundle {root}: checksum mismatch for {name} (file corrupted or modified); "
                "re-export the bundle or restore the file"
            )
    for name in REQUIRED_FILES:
        if name not in listed:
            raise BundleError(f"bundle {root}: required file {name} is not covered by {CHECKSUMS_FILE}")


def load_bundle(path: str | Path | None = None) -> Bundle:
    """Load and verify a bundle; `None` means the default bundle shipped in the package.

    Raises:
        BundleError: the folder is missing, a file is missing or corrupted, or the manifest
            lacks a required key or has an unsupported format.
    """
    root = Path(path) if path is not None else DEFAULT_BUNDLE_DIR
    if not root.is_dir():
        raise BundleError(f"bundle {root} does not exist or is not a folder")
    for name in REQUIRED_FILES:
        if not (root / name).is_file():
            raise BundleError(f"bundle {root}: required file {name} is missing")
    verify_checksums(root)
    try:
        manifest = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle {root}: {MANIFEST_FILE} is not valid JSON: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"bundle {root}: {MANIFEST_FILE} lacks required keys {missing}")
    if manifest["format"] != BUNDLE_FORMAT:
        raise BundleError(
            f"bundle {root}: format {manifest['format']!r} is not supported (expected {BUNDLE_FORMAT})"
        )
    bundle = Bundle(path=root, manifest=manifest)
    try:
        thresholds = bundle.thresholds
    except (TypeError, ValueError) as exc:
        raise BundleError(f"bundle {root}: bad thresholds in {MANIFEST_FILE}: {exc}") from exc
    if set(thresholds) != set(bundle.labels):
        raise BundleError(
            f"bundle {root}: thresholds {sorted(thresholds)} do not match labels {bundle.labels}"
        )
    return bundle
