"""Compose corpus items (short posts, multi-paragraph posts, long articles) from families.

Short posts are one paragraph, multi-paragraph posts put the opening, bodies and call to action
on their own lines, and long articles (1,000-3,000 characters) hide one violating paragraph at a
random position (often the last) among compliant filler: bodies of compliant families and runs
of real People's Daily or review text from the same split.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from training.corpus.evasion import evade
from training.corpus.families import Renderer
from training.corpus.parts import Family
from training.corpus.realtext import REVIEWS, Bucket

SHORT, MEDIUM, LONG = "short", "medium", "long"
SHORT_MAX, LONG_MIN, LONG_MAX = 150, 1000, 3000
LAST_PARAGRAPH_RATE = 0.3  # the pitch moved into the last paragraph of a long article
# Real text keeps long articles natural; templates keep the gzip'd corpus small (< 5 MiB a file).
REAL_FILLER_RATE = 0.3
REAL_ITEM_MAX = 900
_ENDS_CLOSED = re.compile(r"[。！？!?，,；;：:…~～）)】」』”\"\s]$|[\U0001F300-\U0001FAFF\u2600-\u27BF]$")


@dataclass
class Item:
    """One corpus item before it gets an id."""

    text: str
    labels: tuple[str, ...]
    subtype: str
    family: str
    tags: set[str] = field(default_factory=set)

    def record(self, item_id: str) -> dict[str, object]:
        """Return the JSON line of this item (docs/internals.md schema)."""
        tags = set(self.tags)
        tags.add(f"len:{length_band(self.text)}")
        if len(self.labels) > 1:
            tags.add("multi_label")
        return {
            "id": item_id,
            "text": self.text,
            "labels": sorted(self.labels),
            "subtype": self.subtype,
            "family": self.family,
            "tags": sorted(tags),
        }


def length_band(text: str) -> str:
    """Return `short` (< 150 chars), `medium` or `long` (>= 1,000 chars)."""
    n = len(text)
    return SHORT if n < SHORT_MAX else LONG if n >= LONG_MIN else MEDIUM


@dataclass(frozen=True)
class FillerPool:
    """Compliant material of one split for long articles."""

    families: Sequence[Family]
    buckets: Sequence[Bucket]

    def stream(self, rng: random.Random, renderer: Renderer) -> Iterator[str]:
        """Yield filler paragraphs for one article: one real source read in order, mixed with
        bodies of two compliant families, so an article keeps one voice."""
        news = [b for b in self.buckets if b.source != REVIEWS] or list(self.buckets)
        bucket = rng.choice(news) if news else None
        at = rng.randrange(len(bucket.paragraphs)) if bucket else 0
        fams = rng.sample(list(self.families), min(2, len(self.families)))
        used: set[str] = set()
        for _ in range(200):
            if bucket and (not fams or rng.random() < REAL_FILLER_RATE):
                paragraph = bucket.paragraphs[at % len(bucket.paragraphs)]
                at += 1
            elif fams:
                paragraph = renderer.body(rng.choice(fams))
            else:
                return
            if paragraph not in used:
                used.add(paragraph)
                yield paragraph


def _evade_some(paragraphs: list[str], targets: Sequence[int], rng: random.Random, tags: set[str]) -> None:
    applied: set[str] = set()
    for i in targets:
        new, kinds = evade(paragraphs[i], rng)
        paragraphs[i] = new
        applied.update(kinds)
    if applied:
        tags.add("evaded")
        tags.update(f"evasion:{k}" for k in applied)


def _long_article(
    core: str, pool: FillerPool, renderer: Renderer, rng: random.Random, head: Sequence[str] = ()
) -> list[str]:
    """Wrap `core` in filler up to a drawn length between LONG_MIN and LONG_MAX characters."""
    target = LONG_MIN + int((LONG_MAX - LONG_MIN - 200) * rng.random() ** 2.5)
    filler = list(head)
    size = len(core) + sum(len(p) + 1 for p in filler)
    skipped = 0
    for paragraph in pool.stream(rng, renderer):
        if size >= target or skipped > 30:
            break
        if size + len(paragraph) + 1 > LONG_MAX:
            skipped += 1
            continue
        filler.append(paragraph)
        size += len(paragraph) + 1
    index = len(filler) if rng.random() < LAST_PARAGRAPH_RATE else rng.randint(len(head), len(filler))
    return filler[:index] + [core] + filler[index:]


def join_inline(parts: Sequence[str], rng: random.Random) -> str:
    """Join template parts into one paragraph, adding a stop where a part ends without one."""
    out = ""
    for part in parts:
        if out and not _ENDS_CLOSED.search(out):
            out += rng.choice(("。", "！", "，", " ", "～"))
        out += part
    return out


def compose_violation(
    family: Family,
    band: str,
    rng: random.Random,
    slots: Mapping[str, Sequence[str]],
    pool: FillerPool,
    *,
    second: Family | None = None,
    evaded: bool = False,
) -> Item:
    """Compose one violating item.

    Args:
        family: the primary violation family (its subtype is the item's subtype).
        band: `short`, `medium` or `long` (the layout; the length tag is measured).
        rng: the item's random source.
        slots: shared slot vocabularies.
        pool: compliant filler of the same split, for long articles.
        second: a second violation family whose body joins the post (multi-label).
        evaded: apply evasion tricks to the violating paragraphs.

    Returns:
        The item; labels are the union of both families' labels.
    """
    renderer = Renderer(rng, slots)
    labels = set(family.labels) | (set(second.labels) if second else set())
    tags: set[str] = set()
    n_bodies = 1 if band != MEDIUM else rng.randint(2, 3)
    paragraphs = renderer.paragraphs(family, n_bodies)
    if second is not None:
        at = rng.randint(1, max(1, len(paragraphs) - (1 if len(paragraphs) > 2 else 0)))
        paragraphs.insert(at, renderer.body(second))
    if band == MEDIUM:
        targets = [i for i in range(len(paragraphs)) if i == 1 or rng.random() < 0.6]
        if evaded:
            _evade_some(paragraphs, targets, rng, tags)
        text = "\n".join(paragraphs)
    else:
        core = join_inline(paragraphs, rng)
        if evaded:
            core_list = [core]
            _evade_some(core_list, [0], rng, tags)
            core = core_list[0]
        if band == SHORT:
            text = core
        else:
            text = "\n".join(_long_article(core, pool, renderer, rng))
            tags.add("long")
    return Item(text, tuple(sorted(labels)), family.subtype, family.name, tags)


def compose_compliant(
    family: Family,
    band: str,
    rng: random.Random,
    slots: Mapping[str, Sequence[str]],
    pool: FillerPool,
    *,
    evaded: bool = False,
) -> Item:
    """Compose one compliant item from a compliant family (see `compose_violation`)."""
    renderer = Renderer(rng, slots)
    tags = {"hard_negative"} if family.hard_negative else set()
    n_bodies = 1 if band == SHORT else rng.randint(2, 3)
    paragraphs = renderer.paragraphs(family, n_bodies)
    if band == SHORT:
        paragraphs = [join_inline(paragraphs, rng)]
    elif band == LONG:
        body = paragraphs[1:]
        paragraphs = _long_article("\n".join(body), pool, renderer, rng, head=paragraphs[:1])
        tags.add("long")
    if evaded:
        targets = sorted(rng.sample(range(len(paragraphs)), min(len(paragraphs), rng.randint(1, 2))))
        _evade_some(paragraphs, targets, rng, tags)
    return Item("\n".join(paragraphs), (), family.subtype, family.name, tags)


def compose_real(bucket: Bucket, rng: random.Random, *, evaded: bool = False) -> Item:
    """Compose a compliant non-financial item from a run of real paragraphs."""
    start = rng.randrange(len(bucket.paragraphs))
    n = 1 if rng.random() < 0.6 else rng.randint(2, 3)
    paragraphs = list(bucket.paragraphs[start : start + n])
    while len(paragraphs) > 1 and sum(map(len, paragraphs)) > REAL_ITEM_MAX:
        paragraphs.pop()
    tags = {"real_text"}
    if evaded:
        _evade_some(paragraphs, [rng.randrange(len(paragraphs))], rng, tags)
    return Item("\n".join(paragraphs), (), "C-nonfin", bucket.family, tags)


def evade_item(item: Item, rng: random.Random) -> Item:
    """A copy of `item` with evasion tricks in one or two of its paragraphs (labels unchanged)."""
    paragraphs = item.text.split("\n")
    tags = set(item.tags)
    targets = sorted(rng.sample(range(len(paragraphs)), min(len(paragraphs), rng.randint(1, 2))))
    _evade_some(paragraphs, targets, rng, tags)
    return Item("\n".join(paragraphs), item.labels, item.subtype, item.family, tags)


def long_item(item: Item, pool: FillerPool, slots: Mapping[str, Sequence[str]], rng: random.Random) -> Item:
    """A copy of `item` placed among compliant filler as a long article (labels unchanged)."""
    paragraphs = _long_article(item.text, pool, Renderer(rng, slots), rng)
    return Item("\n".join(paragraphs), item.labels, item.subtype, item.family, set(item.tags) | {"long"})
