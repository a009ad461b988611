"""The library of parts the corpus generator composes posts from. We write these ourselves.

Each module in this package (`fraud_*.py`, `misleading_*.py`, `unlicensed_*.py`,
`compliant_*.py`) defines `FAMILIES: list[Family]`; `slots.py` defines the shared slot
vocabularies. The generator (`training/corpus/generate.py`) imports every module here.

A family is one way of writing one kind of post (one "template family"): splits are made by
family, so a family's phrasing never crosses from train into test. Templates use `{slot}`
placeholders; a slot is filled from `Family.slots` first, then from `slots.SLOTS`.

A post is composed as: one opening, one to three bodies (distinct), zero or one call to action
(a violation family normally ends with one; see `cta_rate`), separated as short or
multi-paragraph text by the generator. Long articles (1,000-3,000 chars) wrap one violating
paragraph in compliant filler.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    """One template family.

    Attributes:
        name: unique id, `<code>-<slug>` e.g. "F1-daily-dividend" or "C-antifraud-quote-scam".
        subtype: a sub-type code (F1..U7) or a compliant kind (C-...), see classifier.taxonomy.
        labels: sorted labels; empty for compliant. Multi-label families follow TAXONOMY.md's
            combination rules (fee-first loan -> fraudulent + unlicensed, ...).
        openings, bodies, ctas: template strings with {slot} placeholders.
        slots: family-specific slot values, used before the shared ones.
        hard_negative: compliant text that uses violation vocabulary (anti-fraud quotes,
            negations, non-financial 返利/最低价, licensed ads with disclosures).
        cta_rate: probability that a post of this family ends with a call to action.
    """

    name: str
    subtype: str
    labels: tuple[str, ...]
    openings: tuple[str, ...]
    bodies: tuple[str, ...]
    ctas: tuple[str, ...] = ()
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hard_negative: bool = False
    cta_rate: float = 0.9


def family(
    name: str,
    labels: tuple[str, ...],
    openings: tuple[str, ...],
    bodies: tuple[str, ...],
    ctas: tuple[str, ...] = (),
    slots: dict[str, tuple[str, ...]] | None = None,
    cta_rate: float = 0.9,
    *,
    hard_negative: bool = False,
) -> Family:
    """A `Family` whose subtype is read from its name (`F3-...` -> F3, `C-news-...` -> C-news)."""
    parts = name.split("-")
    subtype = "-".join(parts[:2]) if parts[0] == "C" else parts[0]
    return Family(name=name, subtype=subtype, labels=labels, openings=openings, bodies=bodies, ctas=ctas,
                  slots=slots or {}, hard_negative=hard_negative, cta_rate=cta_rate)  # fmt: skip
