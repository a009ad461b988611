"""Text normalisation with an offset map back to the caller's text.

The model, the tokenizer and the lexicon all see normalised text; evidence offsets must point
into the original. `normalize(text)` returns a `Normalized` whose `.text` is what the model
sees and whose `.to_original(start, end)` maps a span of it back to the original text.

Steps, in order (see TAXONOMY.md "Evasions the model must see through"):

1. Per character: drop zero-width and other invisible characters; NFKC (full-width letters,
   digits and punctuation become ASCII, circled letters become letters); lowercase;
   traditional → simplified Chinese with OpenCC ``t2s`` *character by character*; a few emoji
   that stand for words (💰 → 钱, 📈 → 涨, 🐧 → qq). Per character (not per phrase) so that
   a span of the original always normalises to the same text on its own, and so the result is
   idempotent. Each output character maps to the original character it came from.
2. Evasion codes (`EVASIONS`, a small documented table: 薇信/V信/vx/+v → 微信, 扣扣 → qq,
   加裙 → 加群, 稳攥 → 稳赚, ...). A replacement of a different length maps every output
   character to the whole matched original span.
3. Separators: runs of spaces and decorative symbols inserted next to CJK characters
   (``稳*赚*不*赔``, ``保 本``, ``保-本``, ``稳🔥赚``) are removed; other whitespace runs
   collapse to one space (or one newline when the run holds a line break). Sentence
   punctuation (``，。！？、；：“”``, which NFKC turns into ASCII where it has a full-width
   form) is never removed.
4. Evasion codes again, for codes that were split by separators (``薇 信``).

Bump `NORMALIZER_VERSION` whenever any of this changes: bundles record the version they were
trained with and `Classifier` refuses a bundle trained with another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from opencc import OpenCC

NORMALIZER_VERSION = "pg-norm-1"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"

# Characters with no visible glyph that evaders insert inside words: zero-width space/joiners,
# direction marks, word joiner, soft hyphen, BOM, variation selectors, tag characters.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff]"
)

# Single characters (after NFKC) that stand for a word. Kept to unambiguous ones.
EMOJI_WORDS: dict[str, str] = {
    "💰": "钱", "💴": "钱", "💵": "钱", "💶": "钱", "💷": "钱", "💸": "钱", "🤑": "赚钱",
    "📈": "涨", "🐧": "qq",
}  # fmt: skip


@dataclass(frozen=True)
class Evasion:
    """One evasion code: a regular expression (on lowercased text) and its replacement."""

    pattern: str
    replacement: str
    note: str
    context: tuple[int, int] = (0, 0)  # characters before/after the match its look-arounds need


# The evasion table (TAXONOMY.md). Patterns run on lowercased, simplified text. Latin codes
# are only replaced when they stand alone (not inside a longer Latin word), and ambiguous
# characters (裙, 米, v) only in the contexts that make them a code.
EVASIONS: tuple[Evasion, ...] = (
    Evasion(r"[薇威徽嶶]信", "微信", "微信 homophones 薇信/威信/徽信"),
    Evasion(r"(?<![a-z])v信", "微信", "V信"),
    Evasion(r"(?<![a-z])(?:vx|wx|weixin)(?![a-z])", "微信", "vx/wx/weixin for 微信"),
    Evasion(r"\+ ?v(?![a-z])", "加微信", "+V / + v for 加微信"),
    Evasion(r"(?<=[加扫私找])v(?![a-z])", "微信", "加v/私v", (1, 0)),
    Evasion(r"扣扣", "qq", "扣扣 for QQ"),
    Evasion(r"(?<=[加进入拉q])裙(?!子)|裙(?=号|聊|主)", "群", "裙 for 群 in contact context", (1, 1)),
    Evasion(r"稳攥|稳挣", "稳赚", "稳赚 homophones"),
    Evasion(r"包攥", "包赚", "包赚 homophone"),
    Evasion(r"保夲", "保本", "夲 variant of 本"),
    Evasion(r"(?<=[赚搞挣])米", "钱", "米 for 钱 after 赚/搞/挣", (1, 0)),
    Evasion(r"(?<![a-z])gp(?![a-z])", "股票", "pinyin initials gp = 股票"),
    Evasion(r"(?<![a-z])dk(?![a-z])", "贷款", "pinyin initials dk = 贷款"),
    Evasion(r"(?<![a-z])zx(?![a-z])", "征信", "pinyin initials zx = 征信"),
)

_EVASION_RE = re.compile("|".join(f"(?:{e.pattern})" for e in EVASIONS))
# Resolve a match to its table entry: the first pattern that matches the same text in place.
_EVASION_RES = tuple(re.compile(e.pattern) for e in EVASIONS)

# Separators evaders put between characters: horizontal space and decorative symbols/emoji.
# Not ',' '!' '?' ':' ';' '(' ')' '.' '/' '%' '"' "'" (sentence punctuation and numbers).
_SEP = (
    " \t*\\-_~|#+=^&@`<>\\\\\u00b7\u2022\u2027\u2219\u22c5\u30fb"
    "\u2190-\u21ff\u2500-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
)
_SEP_RE = re.compile(
    f"(?P<sep>(?<=[{_CJK}])[{_SEP}]+(?=[{_CJK}a-z0-9])"  # CJK on the left
    f"|(?<=[a-z0-9])[{_SEP}]+(?=[{_CJK}]))"  # CJK on the right
    r"|(?P<ws>\s{2,}|[\t\r\f\v\u0085\u2028\u2029])"  # other whitespace collapses
)

# Cheap pre-checks (one character-class scan) that let most posts skip the passes above:
# every evasion match contains one of these characters; every separator run is one of these.
_EVASION_HINT = re.compile("[信vxw扣裙攥挣夲米gdz]")
_SEP_HINT = re.compile(f"[{_SEP}\\s]")

_t2s = OpenCC("t2s")


@lru_cache(maxsize=65536)
def _norm_char(ch: str) -> str:
    """Normalise one character (step 1), iterated to a fixed point so the result is idempotent."""
    out = ch
    for _ in range(4):
        prev = out
        out = _INVISIBLE.sub("", out)
        out = unicodedata.normalize("NFKC", out).lower()
        out = "".join(EMOJI_WORDS.get(c, c) for c in out)
        out = _t2s.convert(out) if out and not out.isascii() else out
        out = _INVISIBLE.sub("", out)
        if out == prev:
            break
    return out


@dataclass(frozen=True)
class Normalized:
    """Normalised text and, for every normalised character, the original span it came from.

    Attributes:
        text: the normalised text (what the tokenizer and lexicon see).
        original: the caller's text.
        starts, ends: `original[starts[i]:ends[i]]` produced `text[i]`; both non-decreasing.
    """

    text: str
    original: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.text)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span `text[start:end]` to a span of the original text.

        Args:
            start, end: 0 <= start <= end <= len(text).

        Returns:
            (orig_start, orig_end), the smallest span of `original` that produced the span.
            An empty span maps to an empty span at the corresponding position.

        Raises:
            ValueError: the span is out of range.
        """
        n = len(self.text)
        if not 0 <= start <= end <= n:
            raise ValueError(f"span ({start}, {end}) is out of range for normalised text of length {n}")
        if start == end:
            pos = self.starts[start] if start < n else (self.ends[-1] if n else len(self.original))
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def _substitute(
    text: str,
    starts: list[int],
    ends: list[int],
    pattern: re.Pattern[str],
    replace: Callable[[re.Match[str]], tuple[str, tuple[int, int]]],
) -> tuple[str, list[int], list[int]]:
    """Apply `pattern.sub` and carry the offset map along; `replace(match)` gives the replacement
    and how many characters before and after the match its pattern looked at.

    A replaced character maps to the whole match (vx -> 微信: each to "vx", not v -> 微), widened
    by those neighbours (加v -> 加微信: 微信 maps to "加v", since "v" alone stays "v").
    """
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        a, b = m.span()
        if a == b:
            continue
        rep, (before, after) = replace(m)
        pieces.append(text[pos:a])
        new_starts += starts[pos:a]
        new_ends += ends[pos:a]
        if rep == text[a:b]:
            new_starts += starts[a:b]
            new_ends += ends[a:b]
        else:
            new_starts += [starts[max(a - before, 0)]] * len(rep)
            new_ends += [ends[min(b - 1 + after, len(ends) - 1)]] * len(rep)
        pieces.append(rep)
        pos = b
    if pos == 0:
        return text, starts, ends
    pieces.append(text[pos:])
    new_starts += starts[pos:]
    new_ends += ends[pos:]
    return "".join(pieces), new_starts, new_ends


def _evasion_replacement(m: re.Match[str]) -> tuple[str, tuple[int, int]]:
    # The combined regex finds the leftmost match; re-run each entry at that position (with
    # the full string, so look-behinds still see their context) to learn which one it was.
    for entry, regex in zip(EVASIONS, _EVASION_RES, strict=True):
        hit = regex.match(m.string, m.start())
        if hit is not None and hit.end() == m.end():
            return entry.replacement, entry.context
    return m.group(0), (0, 0)


def _evade(text: str, starts: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    return _substitute(text, starts, ends, _EVASION_RE, _evasion_replacement)


def _separator_replacement(m: re.Match[str]) -> tuple[str, tuple[int, int]]:
    if m.group("sep") is not None:
        return "", (0, 0)
    run = m.group("ws")
    return ("\n" if any(c in run for c in "\n\r\u0085\u2028\u2029") else " "), (0, 0)


def normalize(text: str) -> Normalized:
    """Normalise `text` for the model and lexicon, keeping a map back to `text`.

    Args:
        text: the caller's text (any Unicode).

    Returns:
        A `Normalized` with `.text` and `.to_original(start, end)`.

    Raises:
        TypeError: `text` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() needs a str, got {type(text).__name__}")
    mapped = list(map(_norm_char, text))
    n = len(text)
    if list(map(len, mapped)).count(1) == n:  # the common case: one character in, one out
        norm = "".join(mapped)
        starts, ends = list(range(n)), list(range(1, n + 1))
    else:
        pieces: list[str] = []
        starts, ends = [], []
        for i, out in enumerate(mapped):
            if out:
                pieces.append(out)
                starts += [i] * len(out)
                ends += [i + 1] * len(out)
        norm = "".join(pieces)
    if _EVASION_HINT.search(norm):
        norm, starts, ends = _evade(norm, starts, ends)
    # Separator removal can join a code split apart, and evasion replacement can put a CJK
    # character next to a separator run; two rounds reach a fixed point for the table above.
    for _ in range(3):
        if not _SEP_HINT.search(norm):
            break
        before = norm
        norm, starts, ends = _substitute(norm, starts, ends, _SEP_RE, _separator_replacement)
        if _EVASION_HINT.search(norm):
            norm, starts, ends = _evade(norm, starts, ends)
        if norm == before:
            break
    return Normalized(norm, text, tuple(starts), tuple(ends))


def normalize_many(texts: Sequence[str]) -> list[Normalized]:
    """`normalize` over a sequence (convenience for training and batch inference)."""
    return [normalize(t) for t in texts]
