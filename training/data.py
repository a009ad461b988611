"""Load corpus splits as `datasets.Dataset` with an explicit schema.

The hand-written gold set (the `gold` folder of the corpus) is a test set only: `load_corpus` refuses any path
inside a `gold` folder unless the caller passes `allow_gold=True`, which only
`training/evaluate.py` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from training.corpus import store

if TYPE_CHECKING:  # pragma: no cover
    import datasets

DEFAULT_CORPUS_DIR = Path("corpora")
SPLIT_NAMES = ("train", "dev", "test", "challenge")
GOLD_DIR_NAME = "gold"


class GoldAccessError(PermissionError):
    """Training code tried to read the gold set."""


def corpus_features() -> datasets.Features:
    """Return the `datasets.Features` of a corpus line (docs/internals.md)."""
    import datasets

    string_list = datasets.Sequence(datasets.Value("string"))
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "labels": string_list,
            "subtype": datasets.Value("string"),
            "family": datasets.Value("string"),
            "tags": string_list,
        }
    )


def resolve_split(split: str | Path, corpus_dir: str | Path = DEFAULT_CORPUS_DIR) -> list[Path]:
    """Turn a split name (`train`) or a file path into the files to read, in record order.

    Args:
        split: a name from `SPLIT_NAMES` (its files: `train.jsonl.gz`, `train-2.jsonl.gz`, ...),
            or a path to a `.jsonl`/`.jsonl.gz` file.
        corpus_dir: corpus root holding `splits/`.

    Returns:
        The existing files.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: `split` is neither a split name nor a JSON lines path.
    """
    if isinstance(split, str) and split in SPLIT_NAMES:
        paths = store.split_paths(Path(corpus_dir) / "splits", split)
        path = Path(corpus_dir) / "splits" / store.shard_name(split, 0)
    else:
        path = Path(split)
        if not path.name.endswith((".jsonl", ".jsonl.gz")):
            raise ValueError(f"{split!r} is neither a split name {SPLIT_NAMES} nor a .jsonl(.gz) file")
        paths = [path] if path.is_file() else []
    if not paths:
        raise FileNotFoundError(f"{path} not found; build the corpus with `promoguard corpus build --seed N`")
    return paths


def is_gold_path(path: str | Path) -> bool:
    """True for the gold test set: a file in a folder named `gold`, or a file named `gold.jsonl(.gz)`."""
    resolved = Path(path).resolve()
    return resolved.parent.name == GOLD_DIR_NAME or resolved.name in ("gold.jsonl", "gold.jsonl.gz")


def load_corpus(
    split: str | Path, corpus_dir: str | Path = DEFAULT_CORPUS_DIR, *, allow_gold: bool = False
) -> datasets.Dataset:
    """Load one split (or JSON lines file) through `datasets` with the explicit schema.

    Args:
        split: `train`, `dev`, `test`, `challenge`, or a path to a `.jsonl(.gz)` file.
        corpus_dir: corpus root holding `splits/`.
        allow_gold: must be True to read a file under a `gold/` folder; only evaluation
            passes it, because nothing may train or tune on the gold set.

    Returns:
        A `datasets.Dataset` with columns id, text, labels, subtype, family, tags.

    Raises:
        GoldAccessError: the file is in the gold set and `allow_gold` is False.
        FileNotFoundError: the file does not exist.
    """
    paths = resolve_split(split, corpus_dir)
    for path in paths:
        if is_gold_path(path) and not allow_gold:
            raise GoldAccessError(
                f"{path} is the gold test set; training code must not read it "
                "(only evaluation may, with allow_gold=True)"
            )
    import datasets

    return datasets.load_dataset(
        "json", data_files=[str(p) for p in paths], features=corpus_features(), split="train",
        keep_in_memory=True,
    )  # fmt: skip


def corpus_hash(corpus_dir: str | Path = DEFAULT_CORPUS_DIR) -> str:
    """Return the `corpus_hash` recorded in `corpus_dir/splits/MANIFEST.json`.

    Raises:
        FileNotFoundError: no manifest; build the corpus first.
    """
    return str(store.read_manifest(Path(corpus_dir) / "splits")["corpus_hash"])
