"""The moderation API over a real HTTP client: results, bad input, limits, batches, ops routes."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier.taxonomy import LABELS
from serving.app import create_app
from serving.logs import JsonFormatter
from serving.schemas import MAX_BATCH_ITEMS, MAX_TEXT_CHARS
from tests.serving.conftest import auth, make_settings

POST = "本产品保本保息，稳赚不赔，年化收益高达18%，名额有限，添加客服微信领取内部理财名额。"
JSON = {"content-type": "application/json"}


def check_result(result: dict[str, Any], text: str, version: str) -> None:
    """A DESIGN.md result for `text`."""
    assert set(result) >= {"id", "decision", "labels", "scores", "evidence", "model_version"}
    assert result["decision"] in {"pass", "warn", "review", "block"}
    assert set(result["scores"]) == set(LABELS)
    assert all(0.0 <= s <= 1.0 for s in result["scores"].values())
    assert set(result["labels"]) <= set(LABELS)
    assert result["model_version"] == version
    for ev in result["evidence"]:
        assert 0 <= ev["start"] <= ev["end"] <= len(text)
        assert ev["text"] == text[ev["start"] : ev["end"]]


def test_moderate_one_post(client: TestClient, classifier: Any) -> None:
    record = {
        "id": "post-1",
        "text": POST,
        "title": "理财",
        "account": {"id": "gh_1", "name": "x", "licensed": False},
    }
    r = client.post("/v1/moderate", json=record, headers=auth("pipeline"))
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["id"] == "post-1"
    check_result(result, POST, classifier.bundle.version)
    # The API adds nothing to and takes nothing from the classifier's own answer.
    (direct,) = classifier.classify_batch([record])
    assert result["decision"] == direct["decision"]
    assert result["scores"] == pytest.approx(direct["scores"], abs=1e-6)
    assert r.headers["x-request-id"]


def test_id_is_generated_when_missing(client: TestClient) -> None:
    r = client.post("/v1/moderate", json={"text": POST}, headers=auth("pipeline"))
    assert r.status_code == 200
    assert isinstance(r.json()["id"], str) and r.json()["id"]


def test_batch_keeps_request_order(client: TestClient, classifier: Any) -> None:
    texts = [POST, "今天天气很好，我们去公园散步。", POST * 3, "投资有风险，理财非存款。", "长" * 600]
    items = [{"id": f"p{i}", "text": t} for i, t in reversed(list(enumerate(texts)))]
    r = client.post("/v1/moderate/batch", json={"items": items}, headers=auth("pipeline"))
    assert r.status_code == 200, r.text
    results = r.json()["items"]
    assert [x["id"] for x in results] == [x["id"] for x in items]
    direct = classifier.classify_batch(items)
    for item, result, expected in zip(items, results, direct, strict=True):
        check_result(result, item["text"], classifier.bundle.version)
        assert result["scores"] == pytest.approx(expected["scores"], abs=1e-6)
        # Alone, a post scores nearly the same: dynamic int8 quantisation scales activations per
        # batch, so batch-mates shift scores slightly (~1e-3), far less than posts differ.
        single = client.post("/v1/moderate", json=item, headers=auth("pipeline")).json()
        assert result["scores"] == pytest.approx(single["scores"], abs=0.01)


def test_concurrent_requests_get_their_own_results(client: TestClient) -> None:
    texts = [f"第{i}篇：{POST[i % len(POST) :]}今天天气很好。" for i in range(24)]
    expected = {
        t: client.post("/v1/moderate", json={"id": t, "text": t}, headers=auth("pipeline")).json()
        for t in texts
    }

    def call(text: str) -> dict[str, Any]:
        r = client.post("/v1/moderate", json={"id": text, "text": text}, headers=auth("pipeline"))
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, texts * 2))
    for text, result in zip(texts * 2, results, strict=True):
        assert result["id"] == text
        assert result["scores"] == pytest.approx(expected[text]["scores"], abs=1e-6)


def test_batch_of_max_items_is_accepted(client: TestClient) -> None:
    items = [{"id": str(i), "text": f"第{i}篇：{POST}"} for i in range(MAX_BATCH_ITEMS)]
    r = client.post("/v1/moderate/batch", json={"items": items}, headers=auth("pipeline"))
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["items"]] == [str(i) for i in range(MAX_BATCH_ITEMS)]


@pytest.mark.parametrize("chars", [20_000, MAX_TEXT_CHARS])
def test_long_text_is_classified_whole(client: TestClient, classifier: Any, chars: int) -> None:
    text = (POST + "今天天气很好。") * (chars // len(POST + "今天天气很好。") + 1)
    text = text[:chars]
    r = client.post("/v1/moderate", json={"id": "long", "text": text}, headers=auth("pipeline"))
    assert r.status_code == 200, r.text
    result = r.json()
    check_result(result, text, classifier.bundle.version)
    (direct,) = classifier.classify_batch([{"id": "long", "text": text}])
    assert result["scores"] == pytest.approx(direct["scores"], abs=1e-6)


def _body(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


BAD_INPUTS = [
    # (name, path, body, content-type, status, error code)
    ("not json", "/v1/moderate", b'{"text": ', "application/json", 400, "invalid_json"),
    ("garbage", "/v1/moderate", b"hello", "application/json", 400, "invalid_json"),
    ("invalid utf-8", "/v1/moderate", b'{"text": "\xff\xfe\xfa"}', "application/json", 400, "invalid_utf8"),
    (
        "latin-1 body",
        "/v1/moderate",
        '{"text": "café"}'.encode("latin-1"),
        "application/json",
        400,
        "invalid_utf8",
    ),
    (
        "form body",
        "/v1/moderate",
        b"text=hello",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
    ),
    ("text/plain", "/v1/moderate", _body({"text": POST}), "text/plain", 415, "unsupported_media_type"),
    ("empty body", "/v1/moderate", b"", "application/json", 422, "invalid_request"),
    ("array", "/v1/moderate", b"[]", "application/json", 422, "invalid_request"),
    ("null", "/v1/moderate", b"null", "application/json", 422, "invalid_request"),
    ("no text", "/v1/moderate", _body({"id": "a"}), "application/json", 422, "invalid_request"),
    ("empty text", "/v1/moderate", _body({"text": ""}), "application/json", 422, "invalid_request"),
    ("blank text", "/v1/moderate", _body({"text": " \n\t "}), "application/json", 422, "invalid_request"),
    ("text is a number", "/v1/moderate", _body({"text": 5}), "application/json", 422, "invalid_request"),
    ("text is a list", "/v1/moderate", _body({"text": ["a"]}), "application/json", 422, "invalid_request"),
    (
        "id is a number",
        "/v1/moderate",
        _body({"id": 7, "text": POST}),
        "application/json",
        422,
        "invalid_request",
    ),
    ("empty id", "/v1/moderate", _body({"id": "", "text": POST}), "application/json", 422, "invalid_request"),
    (
        "licensed a string",
        "/v1/moderate",
        _body({"text": POST, "account": {"licensed": "yes"}}),
        "application/json",
        422,
        "invalid_request",
    ),
    (
        "account a string",
        "/v1/moderate",
        _body({"text": POST, "account": "gh_1"}),
        "application/json",
        422,
        "invalid_request",
    ),
    (
        "lone surrogate",
        "/v1/moderate",
        b'{"text": "ab\\ud800cd"}',
        "application/json",
        422,
        "invalid_request",
    ),
    (
        "text too long",
        "/v1/moderate",
        _body({"text": "长" * (MAX_TEXT_CHARS + 1)}),
        "application/json",
        413,
        "text_too_long",
    ),
    (
        "body too large",
        "/v1/moderate",
        _body({"text": "a" * 2_000_000}),
        "application/json",
        413,
        "body_too_large",
    ),
    (
        "batch not a list",
        "/v1/moderate/batch",
        _body({"items": {"text": POST}}),
        "application/json",
        422,
        "invalid_request",
    ),
    ("batch empty", "/v1/moderate/batch", _body({"items": []}), "application/json", 422, "invalid_request"),
    (
        "batch too many",
        "/v1/moderate/batch",
        _body({"items": [{"text": "x"}] * (MAX_BATCH_ITEMS + 1)}),
        "application/json",
        422,
        "too_many_items",
    ),
    (
        "batch item bad",
        "/v1/moderate/batch",
        _body({"items": [{"text": POST}, {"text": ""}]}),
        "application/json",
        422,
        "invalid_request",
    ),
    (
        "batch item too long",
        "/v1/moderate/batch",
        _body({"items": [{"text": POST}, {"text": "长" * (MAX_TEXT_CHARS + 1)}]}),
        "application/json",
        413,
        "text_too_long",
    ),
    (
        "batch body too large",
        "/v1/moderate/batch",
        _body({"items": [{"text": "a" * 400_000}] * 90}),
        "application/json",
        413,
        "body_too_large",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "code"),
    [b[1:] for b in BAD_INPUTS],
    ids=[b[0] for b in BAD_INPUTS],
)
def test_bad_input_gets_a_clear_4xx(
    client: TestClient, path: str, body: bytes, content_type: str, status: int, code: str
) -> None:
    r = client.post(path, content=body, headers={**auth("pipeline"), "content-type": content_type})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 20
    assert "Traceback" not in r.text
    assert "长长长长" not in r.text and "aaaa" not in r.text  # never echoes the post


def test_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks():  # no Content-Length: the limit is counted as the body arrives
        yield b'{"text": "'
        for _ in range(20):
            yield b"a" * 100_000
        yield b'"}'

    r = client.post("/v1/moderate", content=chunks(), headers={**auth("pipeline"), **JSON})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    r = client.post(
        "/v1/moderate", json={"text": POST, "url": "https://mp.weixin.qq.com/s/x"}, headers=auth("pipeline")
    )
    assert r.status_code == 200


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/v1/nope", headers=auth("admin")).json()["error"]["code"] == "not_found"
    r = client.get("/v1/moderate", headers=auth("admin"))
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_health_and_readiness(client: TestClient, classifier: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "model_version": classifier.bundle.version}


def test_not_ready_before_the_model_loads(tmp_path: Path, classifier: Any) -> None:
    app = create_app(make_settings(tmp_path), classifier=classifier)
    plain = TestClient(app)  # no `with`: lifespan not run, model not loaded
    assert plain.get("/healthz").status_code == 200
    r = plain.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "loading"
    r = plain.post("/v1/moderate", json={"text": POST}, headers=auth("pipeline"))
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_loading"


def test_metrics_count_requests_and_decisions(client: TestClient) -> None:
    client.post("/v1/moderate", json={"text": POST}, headers=auth("pipeline"))
    client.post(
        "/v1/moderate/batch", json={"items": [{"text": POST}, {"text": "你好"}]}, headers=auth("pipeline")
    )
    client.post("/v1/moderate", content=b"{", headers={**auth("pipeline"), **JSON})
    r = client.get("/metrics", headers=auth("pipeline"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'promoguard_http_requests_total{method="POST",route="/v1/moderate",status="200"} 1.0' in text
    assert 'promoguard_http_requests_total{method="POST",route="/v1/moderate",status="400"} 1.0' in text
    assert 'promoguard_http_requests_total{method="POST",route="/v1/moderate/batch",status="200"} 1.0' in text
    assert (
        'promoguard_http_request_duration_seconds_bucket{le="0.008",method="POST",route="/v1/moderate"}'
        in text
    )
    assert "promoguard_moderated_posts_total 3.0" in text
    decisions = [line for line in text.splitlines() if line.startswith("promoguard_decisions_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in decisions) == 3.0
    assert "promoguard_inference_duration_seconds_count 2.0" in text
    assert "promoguard_model_info{version=" in text


def test_two_apps_keep_separate_metrics(tmp_path: Path, classifier: Any) -> None:
    with (
        TestClient(create_app(make_settings(tmp_path), classifier=classifier)) as a,
        TestClient(create_app(make_settings(tmp_path), classifier=classifier)) as b,
    ):
        a.post("/v1/moderate", json={"text": POST}, headers=auth("pipeline"))
        assert "promoguard_moderated_posts_total 1.0" in a.get("/metrics", headers=auth("admin")).text
        assert "promoguard_moderated_posts_total 0.0" in b.get("/metrics", headers=auth("admin")).text


def test_logs_are_json_and_carry_no_post_text(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    marker = "独一无二的帖子标记" * 3
    with caplog.at_level(logging.DEBUG):
        client.post(
            "/v1/moderate",
            json={"id": "log-1", "text": POST + marker, "title": marker},
            headers=auth("pipeline"),
        )
        client.post("/v1/moderate", json={"text": marker * 3000}, headers=auth("pipeline"))
    formatter = JsonFormatter()
    lines = [formatter.format(rec) for rec in caplog.records]
    access = [json.loads(line) for line in lines if json.loads(line)["logger"] == "serving.access"]
    assert access and access[0]["route"] == "/v1/moderate" and access[0]["status"] == 200
    assert access[0]["role"] == "pipeline" and access[0]["items"] == 1 and "duration_ms" in access[0]
    assert all(marker[:9] not in line for line in lines)


def test_openapi_documents_routes_and_security(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/v1/moderate", "/v1/moderate/batch", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    ok = schema["paths"]["/v1/moderate"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/ModerationResult")
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert client.get("/docs").status_code == 200


def test_docs_can_be_turned_off(tmp_path: Path, classifier: Any) -> None:
    with TestClient(create_app(make_settings(tmp_path, docs_enabled=False), classifier=classifier)) as c:
        assert c.get("/openapi.json").status_code == 404
        assert c.get("/docs").status_code == 404
