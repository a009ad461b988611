"""Hand-written posts (`corpora/written/*.jsonl`): free-form posts, each composed on its own.

Templates teach the model a family's phrasing; these posts, written one by one in many voices
(朋友圈, 公众号长文, 直播话术, 客服对话, 公告体…), teach it the concept. Each file is one author;
a line is `{"text", "labels", "subtype"}` plus `"hard_negative": true` for compliant posts that
use violation vocabulary.

Split hygiene: the posts of one author and one sub-type (or compliant kind) form a family
`W-<author>-<subtype>`; within each sub-type the authors are shuffled with the seed and one
author's posts go to `test`, two authors' to `dev` (thresholds and stack weights are tuned there,
so dev needs enough text that looks like real posts), the rest to `train`. `challenge` stays
template-only.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from classifier.taxonomy import COMPLIANT_KINDS, LABELS, SUBTYPES

from .splits import DEV, TEST, TRAIN

# The hand-written posts this repository ships (the default source of `promoguard corpus build`).
WRITTEN_DIR = Path(__file__).resolve().parents[2] / "corpora" / "written"
HELD_OUT = (TEST, DEV, DEV)


class WrittenError(ValueError):
    """A hand-written file has a line that does not follow the schema; the message names it."""


@dataclass(frozen=True)
class WrittenPost:
    """One hand-written post."""

    text: str
    labels: tuple[str, ...]
    subtype: str
    hard_negative: bool
    author: str

    @property
    def family(self) -> str:
        return f"W-{self.author}-{self.subtype}"


def _check(record: object, where: str) -> WrittenPost:
    if not isinstance(record, dict):
        raise WrittenError(f"{where}: expected a JSON object")
    text, labels, subtype = record.get("text"), record.get("labels"), record.get("subtype")
    if not isinstance(text, str) or not text.strip():
        raise WrittenError(f"{where}: 'text' must be a non-empty string")
    if not isinstance(labels, list) or not set(labels) <= set(LABELS) or len(set(labels)) != len(labels):
        raise WrittenError(f"{where}: 'labels' must be a list drawn from {list(LABELS)}, got {labels!r}")
    if subtype in SUBTYPES:
        if SUBTYPES[subtype].label not in labels:
            raise WrittenError(f"{where}: sub-type {subtype} needs the label {SUBTYPES[subtype].label!r}")
    elif subtype in COMPLIANT_KINDS:
        if labels:
            raise WrittenError(f"{where}: compliant kind {subtype} must have no labels, got {labels!r}")
    else:
        raise WrittenError(f"{where}: unknown sub-type {subtype!r}")
    hard = record.get("hard_negative", False)
    if not isinstance(hard, bool) or (hard and labels):
        raise WrittenError(f"{where}: 'hard_negative' must be true/false, and true only for compliant posts")
    return WrittenPost(text.strip(), tuple(sorted(labels)), subtype, hard, "")


def load_written(folder: str | Path) -> list[WrittenPost]:
    """Read every `*.jsonl` file of `folder` (sorted; none is fine).

    Raises:
        WrittenError: a line is not JSON or breaks the schema (names the file and line).
    """
    posts: list[WrittenPost] = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        author = path.stem.replace("_", "-")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WrittenError(f"{where}: not a JSON line ({exc.msg})") from exc
            post = _check(record, where)
            posts.append(WrittenPost(post.text, post.labels, post.subtype, post.hard_negative, author))
    return posts


def written_roles(posts: list[WrittenPost], seed: int) -> dict[str, str]:
    """`{family: split}`: per sub-type, one author's family to test, two to dev, the rest to train."""
    by_subtype: dict[str, set[str]] = defaultdict(set)
    for post in posts:
        by_subtype[post.subtype].add(post.family)
    roles: dict[str, str] = {}
    for subtype in sorted(by_subtype):
        order = sorted(by_subtype[subtype])
        random.Random(f"{seed}:written:{subtype}").shuffle(order)
        held = len(HELD_OUT) if len(order) > len(HELD_OUT) + 1 else 0
        for i, family in enumerate(order):
            roles[family] = HELD_OUT[i] if i < held else TRAIN
    return roles
