"""Evidence: red-flag lexicon hits, the model's best window, and the `account.licensed` rule.

Lexicon (`lexicon.txt` in the bundle, jieba user-dictionary format ``phrase freq code``):
``code`` is a sub-type code (F1..U7), ``DISCLOSURE`` (risk disclosures) or ``NEGATION``
(不保本, 警惕, 骗局 ...). Phrases are normalised with `classifier.normalize` when loaded and
matched on normalised text, so traditional, full-width and evasion-coded spellings match too.

A phrase occurrence is a hit when:

1. it occurs verbatim in the normalised text (exact matching, so no hit is lost to
   segmentation), and
2. for short phrases (`JIEBA_MAX_LEN` = 2 characters or fewer, where accidental matches
   happen), jieba does not cut through it: no jieba word (segmented with the lexicon as user
   dictionary, in a private `jieba.Tokenizer`, on the text around the hit) starts before it and
   ends inside it, or starts inside it and ends after it, unless that word is itself a lexicon
   phrase. So 保本 is not found in 确保本金 (确保|本金) and 第一 not in 第一次, and
3. it is not negated: it does not overlap a NEGATION or DISCLOSURE phrase (不保本, 非保本浮动收益),
   it does not directly follow 不/非/未/没, and no NEGATION phrase ends within
   `NEGATION_BEFORE` characters before it or starts within `NEGATION_AFTER` characters after
   it in the same sentence (警惕"保本"骗局), or the same clause for a negated claim such as
   不保本. Negated hits are kept on the result object for inspection but never reported as
   evidence.

Lexicon hits explain a decision; they never change a score (the calibrated model decides). A
result shows the hits of labels at or above their `warn` threshold.

`account.licensed` rule (DESIGN.md: "evidence for or against unlicensed"):

- ``licensed = true``: the `unlicensed` score is capped just below its `flag` threshold (so the
  label is never set and the post at most warns on that label), unless a hit of a sub-type no
  licence covers in mainland China (`NO_LICENCE_CODES`: U4 crypto, U5 offshore forex/配资, U6
  private funds sold to the public) is present.
- ``licensed = false``: changes no score by itself; when `unlicensed` reaches `warn` an evidence
  item with ``source: "account"`` (empty span) says the account is not licensed.
- absent or null: no effect.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .normalize import Normalized, normalize
from .taxonomy import SUBTYPES

log = logging.getLogger(__name__)

DISCLOSURE = "DISCLOSURE"
NEGATION = "NEGATION"
NO_LICENCE_CODES = frozenset({"U4", "U5", "U6"})
NEGATION_BEFORE = 12
NEGATION_AFTER = 8
JIEBA_CONTEXT = 8
JIEBA_MAX_LEN = 2
_PREFIX_NEGATORS = frozenset("不非未没")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
# A cue that negates a claim itself (不保本, 不承诺, 并非) reaches only its own clause: in
# "本产品不保本，但稳赚不赔" the second claim stands. Warnings (警惕, 骗局) keep the sentence.
_CLAUSE_END = re.compile(r"[。！？!?；;\n，,]")


class LexiconError(ValueError):
    """The lexicon file is malformed (the message names the file and line)."""


@dataclass(frozen=True)
class Entry:
    phrase: str  # normalised
    code: str
    label: str | None  # None for DISCLOSURE / NEGATION


@dataclass(frozen=True)
class Hit:
    """One phrase occurrence. `nstart`/`nend` index the normalised text, `start`/`end` the original."""

    entry: Entry
    nstart: int
    nend: int
    start: int
    end: int
    text: str
    negated: bool = False

    def as_evidence(self) -> dict[str, Any]:
        return {
            "label": self.entry.label,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "source": "lexicon",
            "subtype": self.entry.code,
            "phrase": self.entry.phrase,
        }


class Lexicon:
    """Red-flag phrases, matched exactly on normalised text and checked with jieba."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: dict[str, list[Entry]] = {}
        for e in entries:
            same = self.entries.setdefault(e.phrase, [])
            # Two spellings may normalise to one phrase (加V, +V -> 加微信): keep one per code.
            if e.phrase and all(o.code != e.code for o in same):
                same.append(e)
        self.entries = {k: v for k, v in self.entries.items() if k and v}
        phrases = sorted(self.entries, key=len, reverse=True)
        # A look-ahead group finds a match at every position (overlapping), longest first.
        self._regex = re.compile("(?=(" + _trie_pattern(phrases) + "))") if phrases else None
        self._jieba: Any = None

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """Read a jieba user dictionary of ``phrase freq code`` lines.

        Raises:
            LexiconError: a line has no code, a bad frequency or an unknown code.
        """
        p = Path(path)
        entries = []
        for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3 or not parts[1].isdigit():
                raise LexiconError(f"{p} line {lineno}: expected 'phrase freq code', got {line!r}")
            phrase, _, code = parts
            if code in SUBTYPES:
                label: str | None = SUBTYPES[code].label
            elif code in (DISCLOSURE, NEGATION):
                label = None
            else:
                raise LexiconError(
                    f"{p} line {lineno}: unknown code {code!r}; use a sub-type code (F1..U7), "
                    f"{DISCLOSURE} or {NEGATION}"
                )
            entries.append(Entry(normalize(phrase).text, code, label))
        return cls(entries)

    def warm_up(self) -> None:
        """Load jieba's dictionary now (about a second) rather than on the first hit."""
        if self.entries:
            self.segmenter()

    def segmenter(self) -> Any:
        """The private `jieba.Tokenizer`, with the lexicon's phrases as words (loaded once)."""
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            for phrase, entries in self.entries.items():
                tk.add_word(phrase, freq=2000, tag=entries[0].code)
            self._jieba = tk
        return self._jieba

    def _cuts_through(self, text: str, hits: list[tuple[int, int]]) -> set[tuple[int, int]]:
        """The hit spans that a jieba word (not itself a lexicon phrase) cuts through.

        jieba runs on the text around each group of nearby hits (`JIEBA_CONTEXT` characters
        either side), not on the whole post: segmentation near a phrase depends on its
        neighbourhood, and whole-article segmentation would dominate the cost of a scan.
        """
        bad: set[tuple[int, int]] = set()
        groups: list[list[tuple[int, int]]] = []
        for span in sorted(hits):
            if groups and span[0] - JIEBA_CONTEXT <= max(e for _, e in groups[-1]) + JIEBA_CONTEXT:
                groups[-1].append(span)
            else:
                groups.append([span])
        cut = self.segmenter().cut
        for group in groups:
            lo = max(0, group[0][0] - JIEBA_CONTEXT)
            hi = min(len(text), max(e for _, e in group) + JIEBA_CONTEXT)
            words = []
            pos = lo
            for w in cut(text[lo:hi], HMM=False):
                words.append((pos, pos + len(w), w))
                pos += len(w)
            for a, b in group:
                for ws, we, w in words:
                    if we <= a or ws >= b:
                        continue
                    if ((ws < a < we) or (ws < b < we)) and w not in self.entries:
                        bad.add((a, b))
                        break
        return bad

    def find(self, norm: Normalized, labels: Collection[str] | None = None) -> list[Hit]:
        """Phrase hits in `norm.text` (negated ones flagged), sorted by position.

        Args:
            norm: the output of `normalize` for the caller's text.
            labels: only hits of these labels (plus the NEGATION/DISCLOSURE phrases that may
                negate them); None for all. Lets a caller skip work for labels it won't show.

        Returns:
            Hits with offsets into both the normalised and the original text.
        """
        if self._regex is None or (labels is not None and not labels):
            return []
        text = norm.text
        spans = [(m.start(), m.start() + len(m.group(1))) for m in self._regex.finditer(text)]
        if labels is not None:
            spans = [
                (a, b) for a, b in spans
                if any(e.label is None or e.label in labels for e in self.entries[text[a:b]])
            ]  # fmt: skip
        if not any(e.label for a, b in spans for e in self.entries[text[a:b]]):
            return []
        # Phrases of three or more characters are specific enough; jieba arbitrates short ones
        # (保本 in 确保本金, 第一 in 第一次), which is also where segmentation costs least.
        bad = self._cuts_through(text, [(a, b) for a, b in spans if b - a <= JIEBA_MAX_LEN])
        raw: list[tuple[int, int, Entry]] = [
            (a, b, e)
            for a, b in spans
            if (a, b) not in bad
            for e in self.entries[text[a:b]]
            if labels is None or e.label is None or e.label in labels
        ]
        cues = [(a, b) for a, b, e in raw if e.code == NEGATION]
        shields = [(a, b) for a, b, e in raw if e.code in (NEGATION, DISCLOSURE)]
        hits = []
        for a, b, e in raw:
            negated = False
            if e.label is not None:
                negated = self._negated(text, a, b, cues, shields)
            oa, ob = norm.to_original(a, b)
            hits.append(Hit(e, a, b, oa, ob, norm.original[oa:ob], negated))
        return _drop_contained(hits)

    @staticmethod
    def _negated(
        text: str, a: int, b: int, cues: list[tuple[int, int]], shields: list[tuple[int, int]]
    ) -> bool:
        if any(sa < b and a < sb and (sa, sb) != (a, b) for sa, sb in shields):
            return True
        if a > 0 and text[a - 1] in _PREFIX_NEGATORS:
            return True
        for ca, cb in cues:
            scope = (
                _CLAUSE_END if text[ca] in _PREFIX_NEGATORS or text[ca : ca + 2] == "并非" else _SENTENCE_END
            )
            if a - NEGATION_BEFORE <= cb <= a and not scope.search(text, cb, a):
                return True
            if b <= ca <= b + NEGATION_AFTER and not scope.search(text, b, ca):
                return True
        return False


def _trie_pattern(phrases: Iterable[str]) -> str:
    """One regex for many phrases, factored by shared prefixes (longest match first).

    `re` tries alternatives one by one at every position; a prefix trie turns ~600 flat
    alternatives into a few per character, several times faster on long posts.
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict[str, Any]) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Longest match first: try to continue, and stop here only if this node ends a phrase.
        return f"(?:{body})?" if end else body

    return build(trie)


def _drop_contained(hits: list[Hit]) -> list[Hit]:
    """Drop a labelled hit inside a longer hit of the same label (保本 inside 保本保息)."""
    inside: set[tuple[str | None, int, int]] = set()
    by_label: dict[str | None, set[tuple[int, int]]] = {}
    for h in hits:
        by_label.setdefault(h.entry.label, set()).add((h.nstart, h.nend))
    for label, spans in by_label.items():
        max_end = -1
        # Start ascending, end descending: an earlier span reaching as far contains this one.
        for start, end in sorted(spans, key=lambda se: (se[0], -se[1])):
            if end <= max_end:
                inside.add((label, start, end))
            max_end = max(max_end, end)
    out = [h for h in hits if (h.entry.label, h.nstart, h.nend) not in inside]
    return sorted(out, key=lambda h: (h.start, h.end, h.entry.code))


def apply_account_rule(
    scores: dict[str, float],
    licensed: bool | None,
    hits: Iterable[Hit],
    flag: float,
    warn: float,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Apply the `account.licensed` rule (module docstring) to the `unlicensed` score.

    Args:
        scores: label -> score (not modified).
        licensed: `account.licensed` from the record, or None.
        hits: the post's lexicon hits (negated ones are ignored).
        flag, warn: the `unlicensed` thresholds in force.

    Returns:
        The adjusted scores and any evidence items the rule adds.
    """
    out = dict(scores)
    extra: list[dict[str, Any]] = []
    score = out.get("unlicensed")
    if score is None or licensed is None:
        return out, extra
    if licensed is True:
        strong = any(h.entry.code in NO_LICENCE_CODES and not h.negated for h in hits)
        if score >= flag and not strong:
            out["unlicensed"] = max(min(score, flag - 1e-3), 0.0)
    elif score >= warn:
        extra.append(
            {"label": "unlicensed", "start": 0, "end": 0, "text": "", "source": "account",
             "detail": "account.licensed is false"}
        )  # fmt: skip
    return out, extra


def evidence_for(hits: Iterable[Hit], labels: Mapping[str, bool]) -> list[dict[str, Any]]:
    """Evidence items for non-negated hits whose label is in `labels` (label -> include)."""
    return [h.as_evidence() for h in hits if not h.negated and h.entry.label and labels.get(h.entry.label)]
