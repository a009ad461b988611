"""The review queue's JSON API through a real HTTP client, the moderation hook, and `review export`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving.app import create_app
from tests.serving.conftest import make_settings

KEYS = {
    "pipeline": "pipeline-key-0123456789abcdef",
    "alice": "moderator-alice-0123456789abcdef",
    "bob": "moderator-bob-0123456789abcdef00",
    "admin": "admin-key-0123456789abcdef0123",
}
POST = "本产品保本保息，稳赚不赔，年化收益高达18%，添加客服微信领取内部名额，名额有限先到先得，错过再等一年。"


def h(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


@pytest.fixture
def client(tmp_path: Path, review_classifier: Any) -> Iterator[TestClient]:
    keys = (
        f"pipeline:{KEYS['pipeline']},moderator:{KEYS['alice']},moderator:{KEYS['bob']},admin:{KEYS['admin']}"
    )
    settings = make_settings(tmp_path, api_keys=keys, review_lease_seconds=60)
    with TestClient(create_app(settings, classifier=review_classifier)) as c:
        yield c


def moderate(c: TestClient, post_id: str, text: str = POST) -> dict[str, Any]:
    r = c.post("/v1/moderate", json={"id": post_id, "text": text}, headers=h("pipeline"))
    assert r.status_code == 200, r.text
    return r.json()


def test_review_results_are_queued_and_worked(client: TestClient, tmp_path: Path) -> None:
    res = moderate(client, "p1")
    assert res["decision"] == "review" and res["review_status"] == "queued"
    item_id = res["review_id"]
    assert moderate(client, "p1")["review_id"] == item_id  # a retry is the same item

    assert client.get("/v1/review/items").status_code == 401
    assert client.get("/v1/review/items", headers=h("pipeline")).json()["error"]["code"] == "forbidden_role"
    listing = client.get("/v1/review/items", params={"status": "queued"}, headers=h("alice")).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == item_id

    detail = client.get(f"/v1/review/items/{item_id}", headers=h("alice")).json()
    assert detail["text"] == POST and detail["model"]["thresholds"]  # the serving policy's thresholds

    assert client.post(f"/v1/review/items/{item_id}/claim", headers=h("alice")).status_code == 200
    r = client.post(f"/v1/review/items/{item_id}/claim", headers=h("bob"))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "claimed_by_other")
    r = client.post(f"/v1/review/items/{item_id}/verdict", json={"action": "approve"}, headers=h("bob"))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "lease_not_held")
    r = client.post(
        f"/v1/review/items/{item_id}/verdict",
        json={"action": "reject", "labels": ["spam"]},
        headers=h("alice"),
    )
    assert r.status_code == 422
    r = client.post(
        f"/v1/review/items/{item_id}/verdict",
        json={"action": "reject", "labels": ["fraudulent"], "subtype": "M1"},
        headers=h("alice"),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_verdict")
    r = client.post(
        f"/v1/review/items/{item_id}/verdict",
        json={"action": "reject", "labels": ["misleading"], "subtype": "M1", "note": "保本"},
        headers=h("alice"),
    )
    assert r.status_code == 200 and r.json() == {
        "item_id": item_id,
        "outcome": "final",
        "status": "decided",
        "round": 1,
    }

    # A near-duplicate arriving later carries the verdict and a link to it.
    dup = moderate(client, "p2", POST.replace("18%", "24%") + "限时优惠！")
    assert dup["similar"]["item_id"] == item_id and dup["similar"]["verdict"] == "reject"
    assert dup["similar"]["labels"] == ["misleading"]

    nxt = client.post("/v1/review/next", headers=h("bob"))
    assert nxt.status_code == 200 and nxt.json()["id"] == dup["review_id"]
    assert client.post(f"/v1/review/items/{dup['review_id']}/release", headers=h("bob")).status_code == 204
    assert client.post(f"/v1/review/items/{dup['review_id']}/release", headers=h("bob")).status_code == 409

    stats = client.get("/v1/review/stats", headers=h("admin")).json()
    assert stats["queue"]["depth"] == 1 and stats["decided"] == 1 and stats["agreement"]["verdicts"] == 1

    audit = client.get(f"/v1/review/items/{item_id}/audit", headers=h("alice")).json()
    assert [e["action"] for e in audit] == ["model_decision", "claim", "verdict"]
    assert audit[-1]["actor"].startswith("key:") and audit[-1]["data"]["labels"] == ["misleading"]

    # The loop: export the verdicts in corpus format.
    from promoguard.cli import app

    out = tmp_path / "verdicts.jsonl"
    run = CliRunner().invoke(
        app, ["review", "export", "-o", str(out), "--database-url", f"sqlite:///{tmp_path / 'promoguard.db'}"]
    )
    assert run.exit_code == 0, run.output
    (line,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert line == {
        "id": f"review-{item_id}",
        "text": POST,
        "labels": ["misleading"],
        "subtype": "M1",
        "family": "review",
        "tags": ["review"],
    }


def test_appeals(client: TestClient) -> None:
    item_id = moderate(client, "p1")["review_id"]
    client.post(f"/v1/review/items/{item_id}/claim", headers=h("alice"))
    client.post(f"/v1/review/items/{item_id}/verdict", json={"action": "approve"}, headers=h("alice"))

    assert client.post("/v1/review/appeals", json={"item_id": item_id}, headers=h("alice")).status_code == 403
    r = client.post("/v1/review/appeals", json={"item_id": item_id, "post_id": "p1"}, headers=h("pipeline"))
    assert r.status_code == 422
    r = client.post(
        "/v1/review/appeals", json={"post_id": "p1", "reason": "举报人申诉"}, headers=h("pipeline")
    )
    assert r.status_code == 202, r.text
    assert (r.json()["status"], r.json()["appeals"]) == ("queued", 1)
    r = client.post("/v1/review/appeals", json={"post_id": "nope"}, headers=h("pipeline"))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "item_not_found")
    # alice decided it before: the appeal goes to someone else.
    assert client.post("/v1/review/next", headers=h("alice")).status_code == 204
    assert client.post("/v1/review/next", headers=h("bob")).json()["id"] == item_id

    # A blocked post (never queued) appealed with its record and result.
    blocked = {
        "id": "b1",
        "decision": "block",
        "labels": ["fraudulent"],
        "scores": {"fraudulent": 0.99, "misleading": 0.1, "unlicensed": 0.1},
        "evidence": [],
        "model_version": "m1",
    }
    r = client.post(
        "/v1/review/appeals",
        json={"record": {"id": "b1", "text": POST + "！"}, "result": blocked, "reason": "误判"},
        headers=h("pipeline"),
    )
    assert r.status_code == 202, r.text
    assert r.json()["model"]["decision"] == "block" and r.json()["priority"] > 0
    # No post id in the record nor the result: a 422, not a server error.
    r = client.post(
        "/v1/review/appeals",
        json={"record": {"text": POST}, "result": {**blocked, "id": ""}},
        headers=h("pipeline"),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request"), r.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/v1/review/items/999999", 404),
        ("get", "/v1/review/items/0", 422),
        ("get", "/v1/review/items/abc", 422),
        ("get", "/v1/review/items?limit=0", 422),
        ("get", "/v1/review/items?status=lost", 422),
        ("post", "/v1/review/items/999999/claim", 404),
    ],
)
def test_bad_requests_get_clear_errors(client: TestClient, method: str, path: str, status: int) -> None:
    r = getattr(client, method)(path, headers=h("alice"))
    assert r.status_code == status and "message" in r.json()["error"]


def test_routes_answer_503_without_the_queue(tmp_path: Path, review_classifier: Any) -> None:
    class Sink:
        def submit(self, record: dict[str, Any], result: dict[str, Any]) -> None:
            return None

    settings = make_settings(tmp_path, api_keys=f"moderator:{KEYS['alice']}")
    with TestClient(create_app(settings, classifier=review_classifier, review_sink=Sink())) as c:
        r = c.get("/v1/review/stats", headers=h("alice"))
        assert (r.status_code, r.json()["error"]["code"]) == (503, "review_queue_unavailable")
