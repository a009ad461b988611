"""Discover, validate and render the template families in `training/corpus/parts/`.

A family's templates use `{slot}` placeholders, filled from `Family.slots` first and then from
`parts.slots.SLOTS`. Slot values may themselves contain placeholders (one family can define
`{offer}` as "{rate}的{product}"); resolution recurses a few levels.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import random
import re
from collections.abc import Iterable, Mapping, Sequence

from classifier.taxonomy import COMPLIANT_KINDS, LABELS, SUBTYPES
from training.corpus.parts import Family

logger = logging.getLogger(__name__)

PARTS_PACKAGE = "training.corpus.parts"
SLOT_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_DEPTH = 4

# Entity-like slots keep one value within a post, so "{institution}" named twice is one bank.
BOUND_SLOTS = frozenset(
    {
        "institution",
        "company",
        "platform",
        "app",
        "product",
        "contact",
        "person",
        "stock",
        "coin",
        "city",
        "audience",
        "goods",
    }
)


class FamilyError(ValueError):
    """A template family breaks the parts format; the message names the family and the fix."""


def shared_slots() -> dict[str, tuple[str, ...]]:
    """Return the shared slot vocabularies of `training/corpus/parts/slots.py`."""
    from training.corpus.parts.slots import SLOTS

    return SLOTS


def discover_families(package: str = PARTS_PACKAGE) -> list[Family]:
    """Import every module of the parts package (except `slots`) and collect its `FAMILIES`.

    Args:
        package: dotted package name to scan.

    Returns:
        All families, sorted by name.

    Raises:
        FamilyError: a module defines no `FAMILIES` list, or the families do not validate.
    """
    pkg = importlib.import_module(package)
    families: list[Family] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name == "slots" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        found = getattr(module, "FAMILIES", None)
        if not isinstance(found, (list, tuple)):
            raise FamilyError(f"{package}.{info.name} defines no FAMILIES list; add `FAMILIES: list[Family]`")
        families.extend(found)
        logger.debug("%s: %d families", info.name, len(found))
    families.sort(key=lambda f: f.name)
    validate_families(families, shared_slots())
    return families


def _check_templates(family: Family, slots: Mapping[str, Sequence[str]]) -> None:
    def check(text: str, where: str, depth: int) -> None:
        for name in SLOT_RE.findall(text):
            values = family.slots.get(name, slots.get(name))
            if values is None:
                raise FamilyError(
                    f"family {family.name!r}: slot {{{name}}} in {where} is defined neither in the "
                    f"family's slots nor in parts/slots.py; add it to Family.slots or fix the name"
                )
            if not values:
                raise FamilyError(f"family {family.name!r}: slot {{{name}}} has no values")
            if depth >= MAX_DEPTH:
                raise FamilyError(f"family {family.name!r}: slot {{{name}}} nests deeper than {MAX_DEPTH}")
            for value in values:
                check(value, f"slot {{{name}}}", depth + 1)

    for kind in ("openings", "bodies", "ctas"):
        for template in getattr(family, kind):
            if not isinstance(template, str) or not template.strip():
                raise FamilyError(f"family {family.name!r}: empty or non-string template in {kind}")
            check(template, kind, 0)


def validate_families(families: Iterable[Family], slots: Mapping[str, Sequence[str]]) -> None:
    """Check names, codes, labels and slots of every family.

    Args:
        families: the families to check.
        slots: the shared slot vocabularies.

    Raises:
        FamilyError: the first problem found, naming the family and what to change.
    """
    seen: set[str] = set()
    for family in families:
        if not isinstance(family, Family):
            raise FamilyError(f"{family!r} is not a training.corpus.parts.Family")
        if family.name in seen:
            raise FamilyError(f"family name {family.name!r} is used twice; family names must be unique")
        seen.add(family.name)
        labels = tuple(family.labels)
        if list(labels) != sorted(set(labels)) or not set(labels) <= set(LABELS):
            raise FamilyError(
                f"family {family.name!r}: labels {labels!r} must be a sorted subset of {LABELS}"
            )
        if family.subtype in SUBTYPES:
            label = SUBTYPES[family.subtype].label
            if label not in labels:
                raise FamilyError(
                    f"family {family.name!r}: subtype {family.subtype} means {label!r}, "
                    f"but labels are {labels!r}"
                )
            if family.hard_negative:
                raise FamilyError(f"family {family.name!r}: a violation family cannot be a hard negative")
        elif family.subtype in COMPLIANT_KINDS:
            if labels:
                raise FamilyError(f"family {family.name!r}: compliant kind {family.subtype} needs labels ()")
        else:
            raise FamilyError(
                f"family {family.name!r}: unknown subtype {family.subtype!r}; use one of "
                f"{sorted(SUBTYPES)} or {sorted(COMPLIANT_KINDS)}"
            )
        if not family.name.startswith(family.subtype):
            raise FamilyError(f"family {family.name!r}: name must start with its subtype {family.subtype!r}")
        if not family.openings or not family.bodies:
            raise FamilyError(f"family {family.name!r}: needs at least one opening and one body")
        if not 0.0 <= family.cta_rate <= 1.0:
            raise FamilyError(f"family {family.name!r}: cta_rate {family.cta_rate} is not in [0, 1]")
        _check_templates(family, slots)


class Renderer:
    """Fill templates for one post, keeping entity slots consistent within the post.

    Args:
        rng: the post's random source.
        slots: shared slot vocabularies.
    """

    def __init__(self, rng: random.Random, slots: Mapping[str, Sequence[str]]) -> None:
        self.rng = rng
        self.slots = slots
        self.bound: dict[str, str] = {}

    def fill(self, template: str, family: Family, depth: int = 0) -> str:
        """Return `template` with every `{slot}` replaced."""

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in BOUND_SLOTS and name in self.bound:
                return self.bound[name]
            values = family.slots.get(name) or self.slots[name]
            value = self.rng.choice(values)
            if depth < MAX_DEPTH and "{" in value:
                value = self.fill(value, family, depth + 1)
            if name in BOUND_SLOTS:
                self.bound[name] = value
            return value

        return SLOT_RE.sub(sub, template)

    def paragraphs(self, family: Family, n_bodies: int, cta: bool | None = None) -> list[str]:
        """Render an opening, `n_bodies` distinct bodies and maybe a call to action.

        Args:
            family: the family to render.
            n_bodies: how many bodies (capped at the number the family has).
            cta: force the call to action on or off; None draws it with `family.cta_rate`.

        Returns:
            The rendered paragraphs, in order.
        """
        out = [self.fill(self.rng.choice(family.openings), family)]
        bodies = self.rng.sample(list(family.bodies), min(n_bodies, len(family.bodies)))
        out.extend(self.fill(b, family) for b in bodies)
        if cta is None:
            cta = self.rng.random() < family.cta_rate
        if cta and family.ctas:
            out.append(self.fill(self.rng.choice(family.ctas), family))
        return out

    def body(self, family: Family) -> str:
        """Render one body of `family` (used as filler or as a second violation)."""
        return self.fill(self.rng.choice(family.bodies), family)
