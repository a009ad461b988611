"""Count a built corpus: items per split, label, sub-type, tag and length band."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from training.corpus import store
from training.corpus.compose import length_band
from training.corpus.splits import SPLITS

COMPLIANT = "(compliant)"


@dataclass
class CorpusStats:
    """Counters keyed by split name; `lengths` holds every item's character count per split."""

    splits: dict[str, int] = field(default_factory=dict)
    labels: dict[str, Counter[str]] = field(default_factory=dict)
    subtypes: dict[str, Counter[str]] = field(default_factory=dict)
    tags: dict[str, Counter[str]] = field(default_factory=dict)
    bands: dict[str, Counter[str]] = field(default_factory=dict)
    families: dict[str, set[str]] = field(default_factory=dict)
    lengths: dict[str, list[int]] = field(default_factory=dict)
    corpus_hash: str | None = None

    def total(self, table: dict[str, Counter[str]]) -> Counter[str]:
        """Sum one table over all splits."""
        out: Counter[str] = Counter()
        for counter in table.values():
            out.update(counter)
        return out


def corpus_stats(corpus: Path | str = "corpora") -> CorpusStats:
    """Read every split file under `corpus/splits/` and count it.

    Args:
        corpus: corpus root holding `splits/`.

    Returns:
        The counts.

    Raises:
        FileNotFoundError: no split file found; build the corpus first.
    """
    splits_dir = Path(corpus) / "splits"
    stats = CorpusStats()
    for name in SPLITS:
        paths = store.split_paths(splits_dir, name)
        if not paths:
            continue
        labels: Counter[str] = Counter()
        subtypes: Counter[str] = Counter()
        tags: Counter[str] = Counter()
        bands: Counter[str] = Counter()
        families: set[str] = set()
        lengths: list[int] = []
        n = 0
        for record in (r for path in paths for r in store.read_split(path)):
            n += 1
            labels.update(record["labels"] or [COMPLIANT])  # type: ignore[arg-type]
            subtypes[str(record["subtype"])] += 1
            tags.update(t for t in record["tags"] if not t.startswith("len:"))  # type: ignore[union-attr]
            text = str(record["text"])
            bands[length_band(text)] += 1
            lengths.append(len(text))
            families.add(str(record["family"]))
        stats.splits[name] = n
        stats.labels[name], stats.subtypes[name], stats.tags[name] = labels, subtypes, tags
        stats.bands[name], stats.families[name], stats.lengths[name] = bands, families, lengths
    if not stats.splits:
        raise FileNotFoundError(f"no split files in {splits_dir}; run `promoguard corpus build --seed N`")
    try:
        stats.corpus_hash = str(store.read_manifest(splits_dir)["corpus_hash"])
    except FileNotFoundError:
        stats.corpus_hash = None
    return stats


def length_summary(stats: CorpusStats) -> dict[str, int]:
    """Percentiles (p10, p50, p90, p99, max) of item length in characters over all splits."""
    lengths = sorted(n for values in stats.lengths.values() for n in values)
    if not lengths:
        return {}
    pick = {"p10": 0.10, "p50": 0.50, "p90": 0.90, "p99": 0.99}
    out = {k: lengths[min(len(lengths) - 1, int(q * len(lengths)))] for k, q in pick.items()}
    out["max"] = lengths[-1]
    return out


def markdown(stats: CorpusStats) -> str:
    """Render the counts as Markdown tables (for the data card)."""
    names = [n for n in SPLITS if n in stats.splits]

    def table(title: str, data: dict[str, Counter[str]], keys: list[str]) -> list[str]:
        rows = [f"| {title} | " + " | ".join(names) + " | total |", "|---" * (len(names) + 2) + "|"]
        for key in keys:
            values = [data[n].get(key, 0) for n in names]
            rows.append(f"| {key} | " + " | ".join(map(str, values)) + f" | {sum(values)} |")
        return rows + [""]

    lines = ["| split | items | families |", "|---|---|---|"]
    lines += [f"| {n} | {stats.splits[n]} | {len(stats.families[n])} |" for n in names]
    lines += [f"| total | {sum(stats.splits.values())} | |", ""]
    lines += table("label", stats.labels, sorted(stats.total(stats.labels)))
    lines += table("sub-type", stats.subtypes, sorted(stats.total(stats.subtypes)))
    lines += table("tag", stats.tags, sorted(stats.total(stats.tags)))
    lines += table("length band", stats.bands, ["short", "medium", "long"])
    summary = length_summary(stats)
    lines.append("Length in characters: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return "\n".join(lines) + "\n"
