"""Evasions: the tricks posts use to slip past keyword filters (TAXONOMY.md, "Evasions").

Each trick is a function `(text, rng) -> text` that returns the text unchanged when it does not
apply. `evade` applies one or two tricks to a paragraph and reports which ones changed it;
labels never change. The same tricks are applied to some compliant items so that odd characters
alone never mean "violation".
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable

from training.corpus.numerals import chinese_number, percent_words

HOMOPHONES: dict[str, tuple[str, ...]] = {
    "稳赚": ("稳攥", "稳钻", "温赚"),
    "微信": ("薇信", "V信", "威信", "徽信", "卫星"),
    "保本": ("宝本", "饱本", "保苯"),
    "收益": ("收溢", "收亿"),
    "赚钱": ("攥钱", "赚前", "赚qian"),
    "贷款": ("带款", "贷kuan", "代款"),
    "股票": ("股漂", "古票"),
    "理财": ("理才", "里财"),
    "投资": ("投姿", "投孜"),
    "利息": ("利xi", "利昔"),
    "征信": ("正信", "征xin"),
    "返利": ("反利", "返粒"),
    "佣金": ("拥金", "佣斤"),
    "兼职": ("兼只", "兼zhi"),
    "充值": ("冲值", "充直"),
    "提现": ("提限", "提xian"),
    "高息": ("高西", "高xi"),
    "日赚": ("日攥", "日钻"),
    "老师": ("老湿", "老狮", "lao师"),
    "导师": ("道师", "导湿"),
    "加微": ("加威", "加薇"),
    "私聊": ("私撩", "私了"),
    "保证金": ("保正金", "保政金"),
    "下款": ("下kuan", "下欵"),
    "刷单": ("刷dan", "唰单"),
    "分红": ("分洪", "分hong"),
    "稳定": ("稳锭",),
    "赚": ("攥", "钻"),
    "钱": ("前", "qian"),
    "利润": ("利闰",),
    "放款": ("放kuan", "放欵"),
    "借钱": ("借qian", "借前"),
    "拉人": ("啦人",),
    "本金": ("本斤", "苯金"),
    "操盘": ("操pan", "糙盘"),
    "翻倍": ("翻贝", "番倍"),
    "无风险": ("无风线", "无疯险"),
    "零风险": ("〇风险", "零疯险"),
}

PINYIN: dict[str, str] = {
    "保本": "bb",
    "赚钱": "zq",
    "理财": "lc",
    "收益": "sy",
    "利息": "lx",
    "返利": "fl",
    "佣金": "yj",
    "兼职": "jz",
    "投资": "tz",
    "老师": "ls",
    "稳赚": "wz",
    "保息": "bx",
    "提现": "tx",
    "充值": "cz",
    "口子": "kz",
    "私募": "sm",
    "外汇": "wh",
    "合约": "hy",
    "杠杆": "gg",
    "配资": "pz",
    "期货": "qh",
    "刷单": "sd",
    "分红": "fh",
    "下款": "xk",
    "放款": "fk",
    "本金": "bj",
    "带单": "dd",
    "喊单": "hd",
    "做单": "zd",
    "保险": "bx",
    "退保": "tb",
    "网贷": "wd",
    "逾期": "yq",
    "黑户": "hh",
    "额度": "ed",
}

TOPIC_CODES: dict[str, tuple[str, ...]] = {
    "股票": ("gp", "GP", "股p"),
    "基金": ("jj", "JJ"),
    "USDT": ("u", "U", "泰达"),
    "贷款": ("dk", "DK"),
    "征信": ("zx", "ZX"),
    "钱": ("米", "💴"),
    "信用卡": ("xyk", "卡卡"),
    "比特币": ("btc", "大饼"),
    "以太坊": ("姨太", "eth"),
    "期货": ("qh",),
    "外汇": ("wh", "FX"),
    "虚拟币": ("币子", "xnb"),
    "返佣": ("fy",),
    "网贷": ("wd",),
    "牛股": ("牛g", "nb股"),
    "人民币": ("rmb", "米"),
}

CONTACTS: dict[str, tuple[str, ...]] = {
    "微信": ("vx", "VX", "+V", "V", "薇", "绿泡泡", "wx"),
    "QQ": ("🐧", "扣扣", "企鹅", "Q"),
    "群": ("裙", "羣", "qun"),
    "加我": ("+我", "扣我", "加wo"),
    "联系": ("联xi", "lian系"),
    "电话": ("Dian话", "☎"),
    "私信": ("私❤", "si信"),
    "扫码": ("扫ma", "扫🐴"),
    "添加": ("+",),
}

EMOJI_WORDS: dict[str, tuple[str, ...]] = {
    "钱": ("💰",),
    "涨": ("📈",),
    "跌": ("📉",),
    "火爆": ("🔥",),
    "红包": ("🧧",),
    "手机": ("📱",),
    "电话": ("📞",),
    "股票": ("📈",),
    "银行": ("🏦",),
    "美元": ("💵",),
    "礼物": ("🎁",),
    "时间": ("⏰",),
    "暴涨": ("🚀",),
    "黄金": ("🥇",),
    "房子": ("🏠",),
    "汽车": ("🚗",),
    "第一": ("🥇",),
    "发财": ("🤑",),
    "赚": ("💰",),
    "收益": ("💹",),
    "群": ("👥",),
    "恭喜": ("🎉",),
    "加油": ("💪",),
    "好": ("👍",),
}
DECOR_EMOJI = ("🔥", "💰", "✅", "‼️", "👉", "⭐", "💎", "🚀", "📈", "🎉", "❗", "💯", "👇", "🧧")
SEPARATORS = ("*", "·", " ", "-", "/", "|", "_", "~", ".", "丶", "\u200b", "、", "✦", "💰")

CJK = re.compile(r"[\u4e00-\u9fff]{2,5}")
# Numbers standing alone: not inside contact ids like jx8866 or phone numbers like 138-0013.
NUMBER = re.compile(
    r"(?<![A-Za-z0-9.\-@:])(\d{1,8}(?:\.\d+)?)(%|万|元|块|天|日|倍|个点)?(?![A-Za-z0-9\-:：年.])"
)


def _replace_words(text: str, table: dict[str, tuple[str, ...]], rng: random.Random, p: float) -> str:
    # Longest keys first so 保证金 wins over 保本-style prefixes; one pass, no re-replacement.
    keys = sorted((k for k in table if k in text), key=lambda k: (-len(k), k))
    if not keys:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in keys))
    return pattern.sub(lambda m: rng.choice(table[m.group(0)]) if rng.random() < p else m.group(0), text)


def homophone(text: str, rng: random.Random) -> str:
    return _replace_words(text, HOMOPHONES, rng, 0.8)


def pinyin(text: str, rng: random.Random) -> str:
    return _replace_words(text, {k: (v, v.upper()) for k, v in PINYIN.items()}, rng, 0.85)


def topic_code(text: str, rng: random.Random) -> str:
    return _replace_words(text, TOPIC_CODES, rng, 0.85)


def contact(text: str, rng: random.Random) -> str:
    return _replace_words(text, CONTACTS, rng, 0.9)


def emoji(text: str, rng: random.Random) -> str:
    out = _replace_words(text, EMOJI_WORDS, rng, 0.6)
    # Decorated posts also scatter emoji at sentence ends.
    parts = re.split(r"(?<=[。！!？?，])", out)
    return "".join(p + (rng.choice(DECOR_EMOJI) if p and rng.random() < 0.3 else "") for p in parts)


def separator(text: str, rng: random.Random) -> str:
    runs = list(CJK.finditer(text))
    if not runs:
        return text
    chosen = sorted(rng.sample(runs, min(len(runs), rng.randint(1, 4))), key=lambda m: m.start())
    sep = rng.choice(SEPARATORS)
    out, last = [], 0
    for m in chosen:
        out.append(text[last : m.start()])
        out.append(sep.join(m.group(0)))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _s2t() -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC("s2t").convert


def traditional(text: str, rng: random.Random) -> str:
    return _s2t()(text)


def fullwidth(text: str, rng: random.Random) -> str:
    def conv(c: str) -> str:
        if c.isascii() and (c.isalnum() or c in "%+:.@-") and rng.random() < 0.9:
            return chr(ord(c) + 0xFEE0)
        return c

    return "".join(conv(c) for c in text)


def numerals(text: str, rng: random.Random) -> str:
    def conv(m: re.Match[str]) -> str:
        num, unit = m.group(1), m.group(2) or ""
        if unit == "%":
            return percent_words(num, rng)
        if "." in num and unit != "万":
            return m.group(0)
        if len(num.partition(".")[0]) > 8:
            return m.group(0)
        return chinese_number(num, rng) + unit

    return NUMBER.sub(conv, text)


EVASIONS: dict[str, Callable[[str, random.Random], str]] = {
    "homophone": homophone,
    "separator": separator,
    "pinyin": pinyin,
    "emoji": emoji,
    "traditional": traditional,
    "fullwidth": fullwidth,
    "numerals": numerals,
    "contact": contact,
    "topic_code": topic_code,
}
# Tricks that almost always change a Chinese paragraph; used when the drawn ones do not apply.
FALLBACKS = ("separator", "traditional", "emoji")


def evade(text: str, rng: random.Random, n_tricks: int | None = None) -> tuple[str, list[str]]:
    """Apply one or two evasion tricks that change `text`.

    Args:
        text: one paragraph.
        rng: the item's random source.
        n_tricks: how many tricks; 1 or 2 at random by default.

    Returns:
        The evaded text and the sorted names of the tricks that changed it (may be empty
        only for text with nothing any trick applies to).
    """
    want = n_tricks or (1 if rng.random() < 0.65 else 2)
    order = list(EVASIONS)
    rng.shuffle(order)
    applied: list[str] = []
    for name in order + [f for f in FALLBACKS]:
        if len(applied) >= want:
            break
        if name in applied:
            continue
        new = EVASIONS[name](text, rng)
        if new != text:
            text = new
            applied.append(name)
    return text, sorted(applied)
