"""Hand-written posts (`corpora/written/*.jsonl`): schema errors, split by author, build integration."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifier.taxonomy import SUBTYPES
from training.corpus import store
from training.corpus.generate import build_corpus
from training.corpus.splits import DEV, TEST, TRAIN
from training.corpus.written import WrittenError, load_written, written_roles

from .test_corpus import check_record, read_all, tiny_buckets, tiny_families

AUTHORS = ("ann", "bo", "cai", "dee", "eve")


def write_posts(folder: Path) -> None:
    """Five authors, each one violating post per sub-type (F codes only) and one hard negative."""
    folder.mkdir(parents=True, exist_ok=True)
    for a in AUTHORS:
        lines = []
        for code in ("F1", "F4", "M1", "U3"):
            label = SUBTYPES[code].label
            labels = sorted({label, "unlicensed"}) if code == "F1" else [label]
            lines.append(
                {
                    "text": f"{a}写的{code}帖子：跟着我投五千，每月稳稳拿回四百，拉两个人再加一成。",
                    "labels": labels,
                    "subtype": code,
                }
            )
        lines.append(
            {
                "text": f"{a}提醒：凡是承诺保本高收益的都要警惕，理财非存款。",
                "labels": [],
                "subtype": "C-antifraud",
                "hard_negative": True,
            }
        )
        (folder / f"{a}.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", encoding="utf-8"
        )


def test_roles_hold_out_one_author_per_subtype_for_test_and_two_for_dev(tmp_path: Path) -> None:
    write_posts(tmp_path)
    posts = load_written(tmp_path)
    assert len(posts) == 25 and {p.author for p in posts} == set(AUTHORS)
    roles = written_roles(posts, seed=3)
    by_subtype: dict[str, list[str]] = defaultdict(list)
    for post in posts:
        by_subtype[post.subtype].append(roles[post.family])
    for subtype, got in by_subtype.items():
        assert sorted(got) == sorted([TEST, DEV, DEV, TRAIN, TRAIN]), subtype
    assert written_roles(posts, seed=3) == roles


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "x", "labels": ["fraudulent"], "subtype": "M1"}, "needs the label 'misleading'"),
        ({"text": "x", "labels": ["misleading"], "subtype": "C-news"}, "must have no labels"),
        ({"text": "x", "labels": ["scam"], "subtype": "F1"}, "'labels' must be a list"),
        ({"text": " ", "labels": [], "subtype": "C-news"}, "non-empty string"),
        ({"text": "x", "labels": [], "subtype": "Z9"}, "unknown sub-type"),
        ({"text": "x", "labels": ["fraudulent"], "subtype": "F1", "hard_negative": True}, "hard_negative"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, record: dict, message: str) -> None:
    good = {"text": "正常的一条", "labels": [], "subtype": "C-nonfin"}
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(WrittenError, match=message) as info:
        load_written(tmp_path)
    assert f"{path}:2" in str(info.value)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(WrittenError, match=r"w\.jsonl:1: not a JSON line"):
        load_written(tmp_path)


def test_build_adds_written_posts_without_leaking_authors(tmp_path: Path) -> None:
    out = tmp_path / "corpora"
    write_posts(tmp_path / "written")
    posts = load_written(tmp_path / "written")
    result = build_corpus(7, out, scale=0.02, families=tiny_families(), buckets=tiny_buckets(), written=posts)
    data = read_all(out / "splits")
    written = {split: [r for r in records if "written" in r["tags"]] for split, records in data.items()}
    for records in data.values():
        for record in records:
            check_record(record)
    families = {split: {r["family"] for r in rs} for split, rs in written.items()}
    assert families[TRAIN] and families[TEST] and families[DEV] and not written["challenge"]
    assert not families[TRAIN] & (families[TEST] | families[DEV])
    train = written[TRAIN]
    # In train every post, violating or compliant, also comes evaded (so evasion alone is no
    # sign of a violation); hard negatives keep their tag.
    for violating, n in ((True, 8), (False, 2)):
        mine = [r for r in train if bool(r["labels"]) == violating]
        as_written = [r for r in mine if not {"evaded", "long"} & set(r["tags"])]
        assert sum("evaded" in r["tags"] for r in mine) == len(as_written) == n
    assert any("long" in r["tags"] for r in train)
    assert any("hard_negative" in r["tags"] and "evaded" in r["tags"] for r in train if not r["labels"])
    manifest = store.read_manifest(out / "splits")
    assert sum(manifest["written_posts"].values()) == 25
    assert manifest["corpus_hash"] == result.corpus_hash
    again = build_corpus(7, tmp_path / "again", scale=0.02, families=tiny_families(), buckets=tiny_buckets(),
                         written=posts)  # fmt: skip
    assert again.corpus_hash == result.corpus_hash
    assert build_corpus(7, tmp_path / "none", scale=0.02, families=tiny_families(), buckets=tiny_buckets(),
                        written=[]).corpus_hash != result.corpus_hash  # fmt: skip


def test_cli_reports_a_bad_written_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from promoguard.cli import app
    from training.corpus import generate

    (tmp_path / "written").mkdir()
    (tmp_path / "written" / "bad.jsonl").write_text('{"text": "x", "labels": [], "subtype": "F1"}\n')
    monkeypatch.setattr(generate, "WRITTEN_DIR", tmp_path / "written")
    result = CliRunner().invoke(app, ["corpus", "build", "--scale", "0.005", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "hand-written posts error" in result.output and "bad.jsonl:1" in result.output
