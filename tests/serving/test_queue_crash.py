"""Crash safety: a process killed with SIGKILL while writing verdicts loses no committed verdict,
and the database it leaves behind is consistent."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Enqueue, claim and decide posts as fast as possible; print each item id after its commit.
WORKER = """
import sys
from serving.queue import ReviewQueue
from tests.serving.queue_helpers import POST, result
queue = ReviewQueue.open(sys.argv[1])
prefix = sys.argv[2]
i = 0
while True:
    post_id = f"{prefix}-{i}"
    item, _ = queue.enqueue({"id": post_id, "text": f"{POST}{post_id}" * 20}, result(post_id))
    queue.claim(item, "key:worker")
    queue.decide(item, "key:worker", "reject", ["misleading"], "M1", "note " * 50)
    print(item, flush=True)  # only after decide() returned, i.e. after COMMIT
    i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_write_loses_no_committed_verdict(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    url = f"sqlite:///{path}"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    committed: set[int] = set()
    for run, wanted in enumerate((15, 30, 45)):  # kill at a different point each time
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, url, f"run{run}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        assert proc.stdout is not None
        seen = 0
        deadline = time.monotonic() + 60
        while seen < wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed.add(int(line))
            seen += 1
        os.kill(proc.pid, signal.SIGKILL)  # it is in the middle of its next transaction
        proc.wait(10)
        assert seen == wanted, f"worker printed {seen} ids before exiting (rc={proc.returncode})"

    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    decided = {r[0] for r in con.execute("SELECT id FROM review_items WHERE status = 'decided'")}
    assert committed <= decided, f"lost committed verdicts: {sorted(committed - decided)}"
    # Every decided item has exactly one verdict and one verdict audit event; nothing half-written.
    verdicts = dict(con.execute("SELECT item_id, count(*) FROM verdicts GROUP BY item_id").fetchall())
    audits = dict(
        con.execute(
            "SELECT item_id, count(*) FROM audit_events WHERE action = 'verdict' GROUP BY item_id"
        ).fetchall()
    )
    assert set(verdicts) == decided and set(verdicts.values()) == {1}
    assert audits == verdicts
    # A queued item left by a kill is claimable again once its lease lapses; nothing else remains.
    queued = con.execute("SELECT count(*) FROM review_items WHERE status = 'queued'").fetchone()[0]
    assert queued <= 3
