"""The WordPiece tokenizer: special ids, CJK characters, Latin pieces, emoji, offsets."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from classifier.windows import SPECIAL_TOKENS, make_windows, special_id
from training.tokenizer import build_tokenizer, load_tokenizer_from_checkpoint, tokenizer_from_vocab, unk_rate


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return build_tokenizer(["加vx领取内部消息，USDT稳赚，MT4外汇跟单 gp 荐股 usdt vx"] * 5, latin_vocab=200)


def test_special_tokens_at_ids_0_to_4(tok):
    assert [special_id(tok, t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]


def test_chinese_is_one_token_per_character_and_common_text_has_no_unk(tok):
    text = "年化收益率高达百分之三十，保本保息，稳赚不赔，欢迎咨询客服经理。"
    enc = tok.encode(text, add_special_tokens=False)
    assert enc.tokens == [c for c in text]
    # Real characters from jieba's dictionary are covered, including less common ones.
    assert unk_rate(tok, ["鳄鱼的眼泪", "貔貅招财", "饕餮盛宴", "耄耋老人"]) == 0.0


def test_latin_words_digits_and_emoji(tok):
    enc = tok.encode("加VX：abc，USDT 挖矿 MT4 gp 300%🚀🚀", add_special_tokens=False)
    assert "vx" in enc.tokens and "usdt" in enc.tokens and "mt4" in enc.tokens and "gp" in enc.tokens
    assert enc.tokens.count("🚀") == 2
    assert "[UNK]" not in tok.encode("赚钱😭abc1×3 ￥2", add_special_tokens=False).tokens


def test_offsets_point_into_the_input(tok):
    text = "稳赚不赔 VX: abc123 🚀"
    enc = tok.encode(text, add_special_tokens=False)
    for token, (start, end) in zip(enc.tokens, enc.offsets, strict=True):
        assert text[start:end].lower().replace("##", "") == token.replace("##", "")


def test_windows_use_cls_and_sep(tok):
    windows = make_windows(tok, "稳赚不赔" * 100, window=64, stride=48)
    assert len(windows) > 1
    assert all(w.input_ids[0] == 2 and w.input_ids[-1] == 3 and len(w.input_ids) <= 64 for w in windows)


def test_checkpoint_tokenizer_from_vocab_txt(tmp_path):
    vocab = [
        "[PAD]",
        *(f"[unused{i}]" for i in range(99)),
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "稳",
        "赚",
        "a",
    ]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = load_tokenizer_from_checkpoint(tmp_path)
    assert special_id(tok, "[CLS]") == 101
    assert tok.encode("稳赚A", add_special_tokens=False).ids == [104, 105, 106]
    with pytest.raises(FileNotFoundError, match="neither tokenizer.json nor vocab.txt"):
        load_tokenizer_from_checkpoint(tmp_path / "missing")


def test_vocab_without_special_tokens_is_refused():
    with pytest.raises(ValueError, match=r"lacks \['\[UNK\]', '\[CLS\]', '\[SEP\]'\]"):
        tokenizer_from_vocab(["a", "b"])


def test_pinned_latin_pieces_make_the_build_reproducible():
    from training.tokenizer import pinned_latin_pieces

    pieces = pinned_latin_pieces()
    assert pieces and "##00" in pieces
    texts = ["加vx领取内部消息 usdt mt4"] * 3
    first = build_tokenizer(texts, latin_pieces=pieces).to_str()
    assert build_tokenizer(texts, latin_pieces=pieces).to_str() == first


def test_extend_appends_domain_tokens_and_keeps_old_ids():
    from training.tokenizer import extend_tokenizer

    base = build_tokenizer(latin_vocab=0, latin_pieces=["##00"])
    assert base.encode("usdt", add_special_tokens=False).tokens != ["usdt"]
    extended, added = extend_tokenizer(base, ["⭐打卡⭐", "勍勍"], words=["usdt", "vx", "a"])
    assert added == ["⭐", "勍", "usdt", "vx"]
    assert extended.get_vocab_size() == base.get_vocab_size() + 4
    text = "稳赚不赔，年化收益30%"
    assert extended.encode(text).ids == base.encode(text).ids
    assert extended.encode("加vx usdt⭐", add_special_tokens=False).tokens == ["加", "vx", "usdt", "⭐"]
    same, none = extend_tokenizer(extended, ["⭐⭐"], words=["usdt"])
    assert same is extended and none == []
