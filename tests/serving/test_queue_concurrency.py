"""Races on a real SQLite file: claims from threads and processes, many concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from serving.queue import ReviewQueue
from serving.review_rules import ClaimConflict
from tests.serving.queue_helpers import POST, open_queue, result


def _race_claim(url: str, item_id: int, who: str, start: threading.Barrier, out: list[str]) -> None:
    queue = ReviewQueue.open(url)  # an engine (and connection) of its own, like another server
    try:
        start.wait()
        try:
            queue.claim(item_id, who)
            out.append(who)
        except ClaimConflict:
            pass
    finally:
        queue.close()


def test_racing_claims_from_threads_have_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = ReviewQueue.open(f"sqlite:///{path}")  # the real clock, as the racers use
    for round_no in range(10):
        item, _ = queue.enqueue({"id": f"post-{round_no}", "text": POST}, result(f"post-{round_no}"))
        winners: list[str] = []
        barrier = threading.Barrier(8)
        threads = [
            threading.Thread(
                target=_race_claim, args=(f"sqlite:///{path}", item, f"key:{i}", barrier, winners)
            )
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(winners) == 1, winners
        assert queue.get(item)["claimed_by"] == winners[0]
    queue.close()


def _process_claim(url: str, who: str, ready, go, item_id, results) -> None:  # type: ignore[no-untyped-def]
    queue = ReviewQueue.open(url)  # every process migrates the (possibly new) database on start
    ready.put(who)
    go.wait(60)
    try:
        queue.claim(item_id.value, who)
        results.put(("won", who))
    except ClaimConflict:
        results.put(("lost", who))
    finally:
        queue.close()


def test_racing_claims_from_processes_have_one_winner(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    url = f"sqlite:///{tmp_path / 'fresh' / 'q.db'}"
    ready, results, go, item_id = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("q", 0)
    # Four processes start together on a database that does not exist yet (migrations must not
    # collide), then race to claim one item.
    procs = [
        ctx.Process(target=_process_claim, args=(url, f"key:{i}", ready, go, item_id, results))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    assert sorted(ready.get(timeout=120) for _ in procs) == [f"key:{i}" for i in range(4)]
    queue = ReviewQueue.open(url)
    item_id.value, _ = queue.enqueue({"id": "p", "text": POST}, result("p"))
    go.set()
    for p in procs:
        p.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert [o for o, _ in outcomes].count("won") == 1, outcomes
    winner = next(who for o, who in outcomes if o == "won")
    assert queue.get(item_id.value)["claimed_by"] == winner
    queue.close()


def test_many_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    open_queue(path).close()
    writers, own, shared = 6, 25, 10
    errors: list[BaseException] = []
    decided_by: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(w: int) -> None:
        queue = ReviewQueue.open(f"sqlite:///{path}")
        try:
            for i in range(own):
                queue.enqueue({"id": f"w{w}-{i}", "text": f"{POST}{w}-{i}"}, result(f"w{w}-{i}"))
                if i < shared:  # every writer also sends the same shared posts
                    queue.enqueue({"id": f"shared-{i}", "text": POST}, result(f"shared-{i}"))
            while (item := queue.claim_next(f"key:{w}")) is not None:
                queue.decide(item["id"], f"key:{w}", "reject", ["misleading"])
                with lock:
                    decided_by.append((item["id"], f"key:{w}"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            queue.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    expected = writers * own + shared
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM review_items").fetchone()[0] == expected
    assert con.execute("SELECT count(*) FROM review_items WHERE status = 'decided'").fetchone()[0] == expected
    per_item = Counter(r[0] for r in con.execute("SELECT item_id FROM verdicts"))
    assert len(per_item) == expected and set(per_item.values()) == {1}
    assert len(decided_by) == expected and len({i for i, _ in decided_by}) == expected
    actions = Counter(r[0] for r in con.execute("SELECT action FROM audit_events"))
    assert actions == {"model_decision": expected, "claim": expected, "verdict": expected}
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
