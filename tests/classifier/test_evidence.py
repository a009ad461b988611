"""Lexicon hits (exact + jieba boundaries + negation) and the account.licensed rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.evidence import Lexicon, LexiconError, apply_account_rule
from classifier.normalize import normalize

LEXICON = """\
# comment lines and blank lines are allowed

保本 2000 M1
保本保息 2000 M1
稳赚不赔 2000 M1
第一 2000 M3
日赚 2000 F1
加V 2000 F2
+V 2000 F2
荐股 2000 U1
USDT 2000 U4
不保本 2000 NEGATION
警惕 2000 NEGATION
骗局 2000 NEGATION
非保本浮动收益 2000 DISCLOSURE
"""


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory: pytest.TempPathFactory) -> Lexicon:
    path = tmp_path_factory.mktemp("lex") / "lexicon.txt"
    path.write_text(LEXICON, encoding="utf-8")
    return Lexicon.load(path)


def found(lexicon: Lexicon, text: str) -> list[tuple[str, str, bool]]:
    return [(h.text, h.entry.code, h.negated) for h in lexicon.find(normalize(text)) if h.entry.label]


def test_offsets_point_into_the_original_text(lexicon: Lexicon) -> None:
    raw = "前言……本產品保*本*保*息，穩賺不賠！"
    hits = [h for h in lexicon.find(normalize(raw)) if h.entry.label]
    assert [(raw[h.start : h.end], h.entry.code) for h in hits] == [("保*本*保*息", "M1"), ("穩賺不賠", "M1")]
    assert all(h.text == raw[h.start : h.end] for h in hits)
    assert hits[0].as_evidence() == {
        "label": "misleading", "start": hits[0].start, "end": hits[0].end, "text": "保*本*保*息",
        "source": "lexicon", "subtype": "M1", "phrase": "保本保息",
    }  # fmt: skip


def test_longer_phrase_wins_over_a_phrase_inside_it(lexicon: Lexicon) -> None:
    assert found(lexicon, "保本保息") == [("保本保息", "M1", False)]


def test_jieba_words_are_not_cut_through(lexicon: Lexicon) -> None:
    assert found(lexicon, "确保本金安全") == []  # 确保|本金, not 保本
    assert found(lexicon, "我第一次来") == []  # 第一次 is one word
    assert found(lexicon, "全国排名第一") == [("第一", "M3", False)]


def test_evasion_codes_in_the_lexicon_match_their_spellings(lexicon: Lexicon) -> None:
    # 加V and +V both normalise to 加微信; one hit, not two.
    assert found(lexicon, "请加薇信") == [("加薇信", "F2", False)]
    assert found(lexicon, "买usdt") == [("usdt", "U4", False)]


@pytest.mark.parametrize(
    "text",
    ["本产品不保本", "警惕“保本”骗局", '警惕"保本"理财', "所谓保本都是骗局", "非保本浮动收益型产品"],
)
def test_negated_and_disclosed_phrases_are_not_claims(lexicon: Lexicon, text: str) -> None:
    hits = found(lexicon, text)
    assert hits and all(negated for _, _, negated in hits)


def test_negation_stops_at_the_sentence_end(lexicon: Lexicon) -> None:
    assert found(lexicon, "警惕诈骗。本产品保本") == [("保本", "M1", False)]


def test_a_negated_claim_reaches_only_its_own_clause(lexicon: Lexicon) -> None:
    assert found(lexicon, "本产品不保本，但稳赚不赔") == [("保本", "M1", True), ("稳赚不赔", "M1", False)]
    # a warning still covers the whole sentence
    assert found(lexicon, "警惕高息诱惑，稳赚不赔都是假的") == [("稳赚不赔", "M1", True)]


def test_lexicon_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "lex.txt"
    bad.write_text("保本 2000 M1\n稳赚 M1\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"lex.txt line 2: expected 'phrase freq code'"):
        Lexicon.load(bad)
    bad.write_text("保本 2000 Z9\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"line 1: unknown code 'Z9'"):
        Lexicon.load(bad)


class TestAccountRule:
    def test_licensed_caps_unlicensed_below_flag(self, lexicon: Lexicon) -> None:
        scores, extra = apply_account_rule(
            {"unlicensed": 0.9, "misleading": 0.9}, True, [], flag=0.5, warn=0.3
        )
        assert scores["unlicensed"] < 0.5 and scores["unlicensed"] >= 0.3
        assert scores["misleading"] == 0.9 and extra == []

    def test_licensed_does_not_cover_crypto(self, lexicon: Lexicon) -> None:
        hits = lexicon.find(normalize("平台支持USDT交易"))
        scores, _ = apply_account_rule({"unlicensed": 0.9}, True, hits, flag=0.5, warn=0.3)
        assert scores["unlicensed"] == 0.9

    def test_licensed_leaves_low_scores_alone(self) -> None:
        assert apply_account_rule({"unlicensed": 0.2}, True, [], flag=0.5, warn=0.3)[0] == {"unlicensed": 0.2}

    def test_unlicensed_account_adds_evidence_only_at_warn(self) -> None:
        scores, extra = apply_account_rule({"unlicensed": 0.35}, False, [], flag=0.5, warn=0.3)
        assert scores == {"unlicensed": 0.35}
        assert extra == [
            {"label": "unlicensed", "start": 0, "end": 0, "text": "", "source": "account",
             "detail": "account.licensed is false"}
        ]  # fmt: skip
        assert apply_account_rule({"unlicensed": 0.2}, False, [], flag=0.5, warn=0.3) == (
            {"unlicensed": 0.2},
            [],
        )

    def test_unknown_account_changes_nothing(self) -> None:
        assert apply_account_rule({"unlicensed": 0.9}, None, [], flag=0.5, warn=0.3) == (
            {"unlicensed": 0.9},
            [],
        )
