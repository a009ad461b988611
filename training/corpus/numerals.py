"""Write numbers the way posts do in Chinese (5000 -> 五千, 15% -> 一成五 / 百分之十五)."""

from __future__ import annotations

import random

DIGITS = "零一二三四五六七八九"
UNITS = ("", "十", "百", "千")


def _below_10000(n: int) -> str:
    out, zero = [], False
    for power in (3, 2, 1, 0):
        d = (n // 10**power) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[d] + UNITS[power])
    text = "".join(out) or "零"
    return text[1:] if text.startswith("一十") else text


def int_to_chinese(n: int) -> str:
    """Return the Chinese reading of a non-negative integer below 10^8 (10500 -> 一万零五百)."""
    if n < 10000:
        return _below_10000(n)
    if n >= 10**8:
        raise ValueError(f"{n} is too large to write in Chinese here; pass a number below 10^8")
    high, low = divmod(n, 10000)
    head = _below_10000(high) + "万"
    if not low:
        return head
    return head + ("零" if low < 1000 else "") + _below_10000(low)


def chinese_number(num: str, rng: random.Random) -> str:
    """Write a decimal string in Chinese, sometimes with 两 for 2 and 点 for the decimal point."""
    whole, _, frac = num.partition(".")
    text = int_to_chinese(int(whole))
    if frac:
        text += "点" + "".join(DIGITS[int(d)] for d in frac)
    if text.startswith("二") and len(text) > 1 and text[1] in "千万百" and rng.random() < 0.5:
        text = "两" + text[1:]
    return text


def percent_words(num: str, rng: random.Random) -> str:
    """Write a percentage as 百分之X, X成Y or X个点."""
    value = float(num)
    choice = rng.random()
    if value.is_integer() and 10 <= value < 100 and choice < 0.4:
        tens, ones = divmod(int(value), 10)
        head = "两" if tens == 2 and rng.random() < 0.5 else DIGITS[tens]
        return head + "成" + (DIGITS[ones] if ones else "")
    if choice < 0.7:
        return "百分之" + chinese_number(num, rng)
    return chinese_number(num, rng) + "个点"
