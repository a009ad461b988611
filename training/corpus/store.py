"""Write and read corpus split files and the manifest, byte-identically for a given seed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

SPLIT_SUFFIX = ".jsonl.gz"
MANIFEST = "MANIFEST.json"
RECORD_KEYS = ("family", "id", "labels", "subtype", "tags", "text")
# Records per split file: a bigger split is written as `train.jsonl.gz`, `train-2.jsonl.gz`, ...
# so that no tracked file passes 5 MiB.
SHARD_RECORDS = 12_000


def shard_name(split: str, k: int) -> str:
    """File name of shard `k` (0-based) of `split`."""
    return f"{split}{SPLIT_SUFFIX}" if k == 0 else f"{split}-{k + 1}{SPLIT_SUFFIX}"


def split_paths(splits_dir: Path, split: str) -> list[Path]:
    """The existing files of one split, in record order (none if the split is missing)."""
    paths = []
    while (path := Path(splits_dir) / shard_name(split, len(paths))).is_file():
        paths.append(path)
    return paths


def dedupe_key(text: str) -> str:
    """The text two items are compared by: the classifier's normalisation when available.

    Falls back to NFKC plus whitespace removal while `classifier.normalize` does not exist.
    """
    try:
        from classifier.normalize import normalize
    except ImportError:
        return "".join(unicodedata.normalize("NFKC", text).split())
    return "".join(normalize(text).text.split())


def dumps(record: Mapping[str, object]) -> str:
    """Serialise one record the one way the corpus files use."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def write_split(path: Path, records: Iterable[Mapping[str, object]]) -> str:
    """Write records as gzip'd JSON lines (mtime 0, no file name in the header).

    Args:
        path: the `.jsonl.gz` file to write.
        records: records in their final order.

    Returns:
        The sha256 of the written file.
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        for record in records:
            gz.write((dumps(record) + "\n").encode("utf-8"))
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_split(path: Path) -> Iterator[dict[str, object]]:
    """Yield the records of a `.jsonl.gz` or `.jsonl` file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not a JSON line ({exc.msg})") from exc


def corpus_hash_of(files: Mapping[str, str]) -> str:
    """Hash of a corpus: sha256 over its sorted `name sha256` lines."""
    text = "".join(f"{name} {digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(splits_dir: Path, manifest: Mapping[str, object]) -> None:
    """Write MANIFEST.json with sorted keys and a trailing newline."""
    text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    (splits_dir / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(splits_dir: Path) -> dict[str, object]:
    """Read MANIFEST.json of a splits folder.

    Raises:
        FileNotFoundError: no manifest; run `promoguard corpus build` first.
    """
    path = splits_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; build the corpus with `promoguard corpus build --seed N`")
    return json.loads(path.read_text(encoding="utf-8"))
