"""The review queue service on a real SQLite file: enqueue, leases, verdict rounds, appeals, audit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from serving.models import Base
from serving.review_rules import (
    APPEAL_PRIORITY,
    ClaimConflict,
    InvalidVerdict,
    LeaseLost,
    NotClaimable,
    SameModerator,
)
from tests.serving.queue_helpers import POST, Clock, add, open_queue, result

BLOCKY = {"fraudulent": 0.1, "misleading": 0.9, "unlicensed": 0.2}  # misleading >= block (0.8)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(tmp_path: Path, clock: Clock):
    q = open_queue(tmp_path / "data" / "q.db", clock)
    yield q
    q.close()


def test_first_start_creates_the_database_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "q.db"
    open_queue(path).close()
    open_queue(path).close()  # second start: migrations are a no-op
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]


def test_migrations_match_the_models(queue) -> None:
    with queue.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_enqueue_is_idempotent(queue) -> None:
    ids = {add(queue, "p1") for _ in range(5)}
    assert len(ids) == 1
    assert add(queue, "p1", POST + "（修改）") not in ids  # same id, new text: a new item
    assert add(queue, "p2") not in ids  # same text, another post
    items, total = queue.list()
    assert total == 3
    # The model's decision is audited once per item, not once per arrival.
    assert [e["action"] for e in queue.audit(ids.pop())] == ["model_decision"]


def test_enqueue_rejects_records_without_id_or_text(queue) -> None:
    with pytest.raises(ValueError, match="'id' and 'text'"):
        queue.enqueue({"text": POST}, result("x"))
    with pytest.raises(ValueError, match="'id' and 'text'"):
        queue.enqueue({"id": "x", "text": ""}, result("x"))


def test_claim_excludes_others_until_the_lease_expires(queue, clock: Clock) -> None:
    item = add(queue, "p1")
    assert queue.claim(item, "key:alice")["claimed_by"] == "key:alice"
    with pytest.raises(ClaimConflict, match="key:alice"):
        queue.claim(item, "key:bob")
    assert queue.claim_next("key:bob") is None
    with pytest.raises(LeaseLost):
        queue.decide(item, "key:bob", "approve")
    clock.advance(queue.lease.total_seconds() + 1)  # alice walks away
    assert queue.claim_next("key:bob")["id"] == item
    with pytest.raises(LeaseLost):  # alice's lease is gone: she cannot decide any more
        queue.decide(item, "key:alice", "approve")
    assert queue.decide(item, "key:bob", "approve").outcome == "final"


def test_claiming_again_renews_the_lease_and_next_resumes_it(queue, clock: Clock) -> None:
    item = add(queue, "p1")
    add(queue, "p2")
    first = queue.claim(item, "key:alice")["lease_until"]
    clock.advance(60)
    assert queue.claim(item, "key:alice")["lease_until"] > first
    assert queue.claim_next("key:alice")["id"] == item  # what she holds, not a second item


def test_release_returns_the_item(queue) -> None:
    item = add(queue, "p1")
    queue.claim(item, "key:alice")
    with pytest.raises(LeaseLost):
        queue.release(item, "key:bob")
    queue.release(item, "key:alice")
    assert queue.claim(item, "key:bob")["claimed_by"] == "key:bob"


def test_next_serves_appeals_then_oldest(queue, clock: Clock) -> None:
    old = add(queue, "old")
    clock.advance(10)
    young = add(queue, "young")
    queue.appeal(young, "pipeline:x", "please look again")
    assert queue.claim_next("key:a")["id"] == young
    assert queue.claim_next("key:b")["id"] == old


@pytest.mark.parametrize(
    ("action", "labels", "subtype", "message"),
    [
        ("maybe", [], None, "unknown verdict"),
        ("reject", [], None, "at least one label"),
        ("approve", ["misleading"], None, "send no labels"),
        ("reject", ["spam"], None, "unknown labels"),
        ("reject", ["fraudulent"], "M1", "sub-type 'M1'"),
        ("approve", [], "F1", "approved post"),
    ],
)
def test_bad_verdicts_are_refused(queue, action, labels, subtype, message) -> None:
    item = add(queue, "p1")
    queue.claim(item, "key:a")
    with pytest.raises(InvalidVerdict, match=message):
        queue.decide(item, "key:a", action, labels, subtype)


def test_a_verdict_is_final_and_audited(queue) -> None:
    item = add(queue, "p1")
    queue.claim(item, "key:a")
    outcome = queue.decide(item, "key:a", "reject", ["misleading", "fraudulent"], "M1", "保本承诺")
    assert (outcome.outcome, outcome.status) == ("final", "decided")
    got = queue.get(item)
    assert got["final"]["labels"] == ["fraudulent", "misleading"]
    with pytest.raises(NotClaimable):
        queue.claim(item, "key:b")
    events = queue.audit(item)
    assert [e["action"] for e in events] == ["model_decision", "claim", "verdict"]
    verdict = events[-1]
    assert verdict["actor"] == "key:a" and verdict["input_sha256"] == got["text_sha256"]
    assert verdict["data"]["model"]["thresholds"]["misleading"]["block"] == 0.8
    assert verdict["data"]["model"]["evidence"][0]["text"] == "保本保息"
    assert verdict["data"]["note"] == "保本承诺"


def test_clearing_a_block_level_score_needs_a_second_moderator(queue) -> None:
    item = add(queue, "p1", scores=BLOCKY, decision="block")
    queue.claim(item, "key:a")
    assert queue.decide(item, "key:a", "approve").outcome == "second_review"
    with pytest.raises(SameModerator):
        queue.claim(item, "key:a")
    assert queue.claim_next("key:a") is None  # nothing else for her
    nxt = queue.claim_next("key:b")
    assert (nxt["id"], nxt["round"]) == (item, 2)
    # Round 2 disagrees with round 1: a third moderator breaks the tie.
    assert queue.decide(item, "key:b", "reject", ["misleading"]).outcome == "another_round"
    with pytest.raises(SameModerator):
        queue.claim(item, "key:b")
    queue.claim(item, "key:c")
    outcome = queue.decide(item, "key:c", "reject", ["misleading"])
    assert (outcome.outcome, outcome.round) == ("final", 3)
    assert [v["outcome"] for v in queue.get(item)["verdicts"]] == ["second_review", "another_round", "final"]


def test_agreeing_with_a_block_level_score_is_final_at_once(queue) -> None:
    item = add(queue, "p1", scores=BLOCKY, decision="block")
    queue.claim(item, "key:a")
    assert queue.decide(item, "key:a", "reject", ["misleading"]).outcome == "final"


def test_appeal_reopens_a_decision_for_someone_new(queue) -> None:
    item = add(queue, "p1")
    queue.claim(item, "key:a")
    queue.decide(item, "key:a", "reject", ["misleading"])
    reopened = queue.appeal(item, "pipeline:k1", "我们有牌照")
    assert (reopened["status"], reopened["priority"], reopened["appeals"]) == ("queued", APPEAL_PRIORITY, 1)
    assert reopened["final"] is None
    with pytest.raises(SameModerator):
        queue.claim(item, "key:a")
    queue.claim(item, "key:b")
    assert queue.decide(item, "key:b", "approve").outcome == "final"
    appeal = [e for e in queue.audit(item) if e["action"] == "appeal"][0]
    assert appeal["data"]["reason"] == "我们有牌照"
    assert appeal["data"]["previous"]["verdict"]["labels"] == ["misleading"]


def test_appeal_of_a_blocked_post_that_was_never_queued(queue) -> None:
    record = {"id": "blocked-1", "text": POST}
    item = queue.appeal_post(record, result("blocked-1", BLOCKY, "block"), "pipeline:k1", "误判")
    assert (item["status"], item["priority"], item["model"]["decision"]) == (
        "queued",
        APPEAL_PRIORITY,
        "block",
    )
    assert queue.find_post("blocked-1") == [item["id"]]


def test_audit_log_is_append_only_in_the_database(queue, tmp_path: Path) -> None:
    add(queue, "p1")
    con = sqlite3.connect(tmp_path / "data" / "q.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE audit_events SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM audit_events")


def test_stats_report_depth_age_and_agreement(queue, clock: Clock) -> None:
    a, b, c = add(queue, "a"), add(queue, "b"), add(queue, "c")
    clock.advance(120)
    for item, action, labels in (
        (a, "reject", ["misleading"]),
        (b, "approve", []),
        (c, "reject", ["misleading", "unlicensed"]),
    ):
        queue.claim(item, "key:m")
        queue.decide(item, "key:m", action, labels)
    add(queue, "d")
    clock.advance(30)
    stats = queue.stats()
    assert stats["queue"]["depth"] == 1 and stats["queue"]["oldest_age_seconds"] == 30.0
    assert stats["decided"] == 3
    agreement = stats["agreement"]
    assert agreement["verdicts"] == 3
    assert agreement["decision"] == pytest.approx(2 / 3, abs=1e-4)  # b was approved
    assert agreement["labels"] == pytest.approx(1 / 3, abs=1e-4)  # only a matched exactly
    assert agreement["per_label"]["misleading"] == {
        "flagged_by_model": 3,
        "confirmed": 2,
        "added_by_moderators": 0,
    }
    assert agreement["per_label"]["unlicensed"]["added_by_moderators"] == 1


def test_list_filters(queue) -> None:
    a = add(queue, "a")
    add(queue, "b", scores={"fraudulent": 0.6, "misleading": 0.1, "unlicensed": 0.1})
    queue.claim(a, "key:m")
    assert [i["post_id"] for i in queue.list(label="fraudulent")[0]] == ["b"]
    assert [i["post_id"] for i in queue.list(claimed=True)[0]] == ["a"]
    assert queue.list(status="decided") == ([], 0)


def test_export_writes_corpus_lines(queue, tmp_path: Path) -> None:
    a, b, c = add(queue, "a"), add(queue, "b", POST + "二"), add(queue, "c", POST + "三")
    for item, action, labels, sub in ((a, "reject", ["misleading"], None), (b, "approve", [], "C-licensed")):
        queue.claim(item, "key:m")
        queue.decide(item, "key:m", action, labels, sub)
    out = tmp_path / "out" / "verdicts.jsonl"
    assert queue.export(out) == 2  # c is undecided
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {
            "id": f"review-{a}",
            "text": POST,
            "labels": ["misleading"],
            "subtype": "M1",
            "family": "review",
            "tags": ["review"],
        },
        {
            "id": f"review-{b}",
            "text": POST + "二",
            "labels": [],
            "subtype": "C-licensed",
            "family": "review",
            "tags": ["review"],
        },
    ]
    assert c not in {int(x["id"].split("-")[1]) for x in lines}
    # The file is a corpus the training code reads (explicit `datasets` schema), closing the loop.
    from training.data import load_corpus

    loaded = load_corpus(out)
    assert loaded["labels"] == [["misleading"], []] and loaded["family"] == ["review", "review"]
