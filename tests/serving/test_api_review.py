"""The review hook: `review` results go to the sink off the event loop; what it returns is merged."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from serving.app import create_app
from tests.serving.conftest import auth, make_settings

POST = "本产品保本保息，稳赚不赔，年化收益高达18%。"


class RecordingSink:
    """A thread-safe sink that remembers what it got and answers with a queue position."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], dict[str, Any], str]] = []
        self.lock = threading.Lock()
        self.closed = False

    def submit(self, record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            self.calls.append((record, result, threading.current_thread().name))
            return {"review_id": len(self.calls), "similar": {"verdict": "confirmed", "post_id": "older-1"}}

    def close(self) -> None:
        self.closed = True


def test_review_results_go_to_the_sink(tmp_path: Path, review_classifier: Any) -> None:
    sink = RecordingSink()
    with TestClient(create_app(make_settings(tmp_path), classifier=review_classifier, review_sink=sink)) as c:
        r = c.post("/v1/moderate", json={"id": "a", "text": POST, "title": "t"}, headers=auth("pipeline"))
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["decision"] == "review"
        assert result["review_id"] == 1
        assert result["similar"] == {"verdict": "confirmed", "post_id": "older-1"}

        r = c.post(
            "/v1/moderate/batch",
            json={"items": [{"text": POST}, {"id": "c", "text": "你好"}]},
            headers=auth("pipeline"),
        )
        items = r.json()["items"]
        assert [x["review_id"] for x in items] == [2, 3]
        metrics = c.get("/metrics", headers=auth("admin")).text
        assert "promoguard_review_submissions_total 3.0" in metrics
    assert sink.closed

    (record, first, thread), (generated, _, _), (third, _, _) = sink.calls
    assert record == {"id": "a", "text": POST, "title": "t"}
    assert first["decision"] == "review" and first["id"] == "a"
    # A generated id is filled into the record so the queue and the caller agree on it.
    assert generated["id"] == items[0]["id"] and third["id"] == "c"
    assert thread != threading.main_thread().name  # called in a worker thread, not on the event loop


def test_other_decisions_do_not_reach_the_sink(tmp_path: Path, pass_classifier: Any) -> None:
    sink = RecordingSink()
    with TestClient(create_app(make_settings(tmp_path), classifier=pass_classifier, review_sink=sink)) as c:
        r = c.post(
            "/v1/moderate/batch", json={"items": [{"text": POST}, {"text": "你好"}]}, headers=auth("pipeline")
        )
        assert [x["decision"] for x in r.json()["items"]] == ["pass", "pass"]
        assert "review_id" not in r.json()["items"][0]
    assert sink.calls == []


class FailingSink:
    def submit(self, record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
        raise ConnectionError("database is down")


class OverwritingSink:
    def submit(self, record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
        return {"decision": "pass"}


def test_a_failing_sink_gives_503_so_the_caller_retries(tmp_path: Path, review_classifier: Any) -> None:
    for sink in (FailingSink(), OverwritingSink()):
        with TestClient(
            create_app(make_settings(tmp_path), classifier=review_classifier, review_sink=sink)
        ) as c:
            r = c.post("/v1/moderate", json={"text": POST}, headers=auth("pipeline"))
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "review_queue_unavailable"
            assert r.headers["retry-after"]
            assert "promoguard_review_sink_errors_total 1.0" in c.get("/metrics", headers=auth("admin")).text
