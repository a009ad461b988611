"""Decisions follow thresholds; presets and config files change them as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.bundle import Thresholds
from classifier.policy import Policy, PolicyError, apply_preset

BASE = {
    "fraudulent": Thresholds(0.3, 0.5, 0.8),
    "misleading": Thresholds(0.4, 0.6, 0.9),
    "unlicensed": Thresholds(0.3, 0.5, 0.8),
}


def scores(f: float = 0.0, m: float = 0.0, u: float = 0.0) -> dict[str, float]:
    return {"fraudulent": f, "misleading": m, "unlicensed": u}


@pytest.mark.parametrize(
    ("s", "decision", "labels"),
    [
        (scores(), "pass", []),
        (scores(m=0.399), "pass", []),
        (scores(m=0.4), "warn", []),  # thresholds are inclusive
        (scores(m=0.599, f=0.29), "warn", []),
        (scores(m=0.6), "review", ["misleading"]),
        (scores(m=0.6, u=0.5), "review", ["misleading", "unlicensed"]),
        (scores(m=0.6, f=0.8), "block", ["fraudulent", "misleading"]),
        (scores(m=0.95), "block", ["misleading"]),
        (scores(f=0.79, m=0.89, u=0.79), "review", ["fraudulent", "misleading", "unlicensed"]),
    ],
)
def test_decisions_follow_thresholds(s: dict[str, float], decision: str, labels: list[str]) -> None:
    policy = Policy.build(BASE)
    assert policy.decide(s) == decision
    assert policy.labels(s) == labels


def test_per_label_thresholds_are_used() -> None:
    # 0.35 is below misleading's warn (0.4) but above fraudulent's (0.3).
    policy = Policy.build(BASE)
    assert policy.decide(scores(m=0.35)) == "pass"
    assert policy.decide(scores(f=0.35)) == "warn"


def test_presets() -> None:
    strict = apply_preset(BASE, "strict")["misleading"]
    assert (strict.warn, strict.flag, strict.block) == pytest.approx((0.3, 0.45, 0.9))
    lenient = apply_preset(BASE, "lenient")["misleading"]
    assert (lenient.warn, lenient.flag, lenient.block) == pytest.approx((0.65, 0.75, 0.9))
    assert apply_preset(BASE, "standard") == BASE
    s = scores(m=0.5)
    assert Policy.build(BASE, "strict").decide(s) == "review"
    assert Policy.build(BASE, "standard").decide(s) == "warn"
    assert Policy.build(BASE, "lenient").decide(s) == "pass"


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(PolicyError, match="'paranoid'.*strict, standard, lenient"):
        Policy.build(BASE, "paranoid")


def test_toml_config_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "policy.toml"
    cfg.write_text('preset = "strict"\n[thresholds.misleading]\nflag = 0.7\nblock = 0.95\n', encoding="utf-8")
    policy = Policy.build(BASE, "standard", cfg)
    t = policy.thresholds["misleading"]
    assert (t.warn, t.flag, t.block) == pytest.approx((0.3, 0.7, 0.95))
    assert policy.thresholds["fraudulent"].flag == pytest.approx(0.375)  # strict preset applied
    assert policy.name == "strict+config"
    assert policy.decide(scores(m=0.65)) == "warn"


def test_json_config_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "policy.json"
    cfg.write_text(json.dumps({"thresholds": {"unlicensed": {"warn": 0.1}}}), encoding="utf-8")
    policy = Policy.build(BASE, "standard", cfg)
    assert policy.decide(scores(u=0.15)) == "warn"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"thresholds": {"scam": {"flag": 0.5}}}, "unknown label 'scam'"),
        ({"thresholds": {"misleading": {"alert": 0.5}}}, r"thresholds.misleading.alert is not a level"),
        (
            {"thresholds": {"misleading": {"flag": "high"}}},
            r"thresholds.misleading.flag must be a number, got 'high'",
        ),
        ({"thresholds": {"misleading": {"flag": 0.95}}}, r"warn=0.4, flag=0.95, block=0.9"),
        ({"thresholds": {"misleading": {"block": 1.5}}}, r"block=1.5"),
        ({"thresholds": {"misleading": 0.5}}, r"thresholds.misleading must be a table"),
        ({"threshold": {}}, r"unknown keys \['threshold'\]"),
        ({"preset": 3}, "preset must be a string"),
    ],
)
def test_bad_config_values_are_named(config: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.build(BASE, "standard", config)


def test_unreadable_config_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        Policy.build(BASE, "standard", tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("thresholds = [", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.toml could not be read"):
        Policy.build(BASE, "standard", bad)
