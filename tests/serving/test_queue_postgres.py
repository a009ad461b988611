"""The review queue on PostgreSQL: migrations, racing claims, racing enqueues, many writers.

Uses `PROMOGUARD_TEST_POSTGRES_URL` when set; otherwise starts a throwaway cluster with the
`initdb`/`pg_ctl` found on PATH (as the `postgres` user when run as root); skips when neither exists.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.queue import ReviewQueue
from serving.review_rules import ClaimConflict
from tests.serving.queue_helpers import POST, THRESHOLDS, result

pytest.importorskip("psycopg", reason="needs the psycopg driver (pip install 'psycopg[binary]')")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    if os.environ.get("PROMOGUARD_TEST_POSTGRES_URL"):
        yield os.environ["PROMOGUARD_TEST_POSTGRES_URL"]
        return
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("no PostgreSQL: set PROMOGUARD_TEST_POSTGRES_URL or put initdb/pg_ctl on PATH")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root needs runuser to start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    subprocess.run(
        _as_postgres(["initdb", "-D", str(data), "-U", "postgres", "-A", "trust"]), check=True, **quiet
    )
    opts = f"-c listen_addresses='' -k {root} -c fsync=off"
    subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-o", opts, "-w", "start"]), check=True, **quiet)
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={root}"
    finally:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), **quiet)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def url(server_url: str) -> Iterator[str]:
    """A fresh database per test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield server_url.replace("@/postgres", f"@/{name}")


def test_migrations_and_the_append_only_audit_log(url: str) -> None:
    import psycopg

    queue = ReviewQueue.open(url, thresholds=THRESHOLDS)
    ReviewQueue.open(url).close()  # second start: a no-op
    item, _ = queue.enqueue({"id": "p", "text": POST}, result("p"))
    queue.claim(item, "key:a")
    assert queue.decide(item, "key:a", "reject", ["misleading"]).outcome == "final"
    dsn = queue.db.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE audit_events SET actor = 'x'")
    queue.close()


def test_racing_enqueues_and_claims_on_postgres(url: str) -> None:
    ReviewQueue.open(url).close()
    ids: list[int] = []
    winners: list[str] = []
    start = threading.Barrier(8)

    def enqueue_then_claim(who: str) -> None:
        queue = ReviewQueue.open(url)
        try:
            start.wait()
            item, _ = queue.enqueue({"id": "same", "text": POST}, result("same"))
            ids.append(item)
            start.wait()
            try:
                queue.claim(item, who)
                winners.append(who)
            except ClaimConflict:
                pass
        finally:
            queue.close()

    threads = [threading.Thread(target=enqueue_then_claim, args=(f"key:{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(set(ids)) == 1 and len(ids) == 8
    assert len(winners) == 1


def test_many_writers_on_postgres(url: str) -> None:
    ReviewQueue.open(url).close()
    errors: list[BaseException] = []

    def work(w: int) -> None:
        queue = ReviewQueue.open(url)
        try:
            for i in range(15):
                queue.enqueue({"id": f"w{w}-{i}", "text": f"{POST}{w}-{i}"}, result(f"w{w}-{i}"))
            while (item := queue.claim_next(f"key:{w}")) is not None:
                queue.decide(item["id"], f"key:{w}", "approve")
        except BaseException as exc:
            errors.append(exc)
        finally:
            queue.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    queue = ReviewQueue.open(url)
    stats = queue.stats()
    assert (stats["queue"]["depth"], stats["decided"], stats["agreement"]["verdicts"]) == (0, 75, 75)
    queue.close()


def test_similar_text_on_postgres(url: str) -> None:
    queue = ReviewQueue.open(url)
    first = queue.submit({"id": "a", "text": POST * 2}, result("a"))
    queue.claim(first["review_id"], "key:a")
    queue.decide(first["review_id"], "key:a", "reject", ["misleading"])
    again = queue.submit({"id": "b", "text": POST * 2 + "限时"}, result("b"))
    assert again["similar"]["item_id"] == first["review_id"]
    queue.close()
