"""Cut tokenised text into overlapping windows; training and inference share this."""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

# Our own tokenizers put these at ids 0..4; a user's Hugging Face checkpoint may not
# (bert-base-chinese has [CLS]=101), so ids are always looked up in the tokenizer.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def special_id(tokenizer: Tokenizer, token: str) -> int:
    """The id of a special token, or ValueError naming the token the tokenizer lacks."""
    idx = tokenizer.token_to_id(token)
    if idx is None:
        raise ValueError(f"tokenizer has no {token} token; PromoGuard needs a BERT-style vocabulary")
    return idx


@dataclass(frozen=True)
class Window:
    """One model input: [CLS] + content tokens + [SEP], and the characters it covers.

    `char_start`/`char_end` index the text given to `make_windows` (the normalised text).
    """

    input_ids: list[int]
    char_start: int
    char_end: int


def make_windows(tokenizer: Tokenizer, text: str, window: int, stride: int) -> list[Window]:
    """Tokenise `text` and cut it into windows of at most `window` ids (specials included).

    Successive windows start `stride` content tokens apart, so they overlap by
    `window - 2 - stride` tokens. Empty text gives one window of [CLS][SEP].

    Raises:
        ValueError: `window` < 3 or `stride` not in 1..window-2.
    """
    body = window - 2
    if body < 1 or not 1 <= stride <= body:
        raise ValueError(
            f"need window >= 3 and 1 <= stride <= window-2, got window={window}, stride={stride}"
        )
    cls_id, sep_id = special_id(tokenizer, "[CLS]"), special_id(tokenizer, "[SEP]")
    enc = tokenizer.encode(text, add_special_tokens=False)
    ids, offsets = enc.ids, enc.offsets
    if not ids:
        return [Window([cls_id, sep_id], 0, 0)]
    windows = []
    start = 0
    while True:
        end = min(start + body, len(ids))
        windows.append(Window([cls_id, *ids[start:end], sep_id], offsets[start][0], offsets[end - 1][1]))
        if end >= len(ids):
            return windows
        start += stride
