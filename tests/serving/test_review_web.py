"""The moderator page over HTTP: sign-in, session cookie, CSRF, CSP, escaping, and a full verdict."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from serving.app import create_app
from serving.web import CSP, highlight
from tests.serving.conftest import KEYS, make_settings

HOSTILE = 'Hi <script>window.__pwned=1</script> 保本保息 <img src=x onerror="window.__pwned=2"> & "q"'


def evidence(text: str, phrase: str, label: str = "misleading") -> dict[str, Any]:
    start = text.index(phrase)
    return {
        "label": label,
        "start": start,
        "end": start + len(phrase),
        "text": phrase,
        "source": "lexicon",
        "subtype": "M1",
        "phrase": phrase,
    }


def test_highlight_escapes_every_piece() -> None:
    html = str(
        highlight(HOSTILE, [evidence(HOSTILE, "保本保息"), evidence(HOSTILE, "<script>", "fraudulent")])
    )
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;" in html
    assert '<mark class="ev ev-misleading" title="misleading 虚假/误导/不实">保本保息</mark>' in html
    assert '<mark class="ev ev-fraudulent"' in html


def test_highlight_splits_overlaps_and_ignores_bad_spans() -> None:
    text = "稳赚不赔保本保息"
    spans = [
        {"label": "misleading", "start": 0, "end": 6},
        {"label": "fraudulent", "start": 4, "end": 8},
        {"label": "misleading", "start": 5, "end": 99},
        {"label": "<b>", "start": 0, "end": 2},
        {"label": "misleading", "start": "0", "end": 2},
    ]
    html = str(highlight(text, spans))
    assert html.count("<mark") == 3
    assert (
        '<mark class="ev ev-fraudulent ev-misleading" '
        'title="fraudulent 欺诈, misleading 虚假/误导/不实">保本</mark>' in html
    )
    assert LexborHTMLParser(html).text() == text


def csrf(page: str) -> str:
    node = LexborHTMLParser(page).css_first('input[name="csrf"]')
    assert node is not None
    return node.attributes["value"] or ""


@pytest.fixture
def web(tmp_path: Path, classifier: Any) -> Iterator[TestClient]:
    with TestClient(
        create_app(make_settings(tmp_path), classifier=classifier), base_url="https://testserver"
    ) as c:
        yield c


def sign_in(c: TestClient, key: str = KEYS["moderator"]) -> None:
    token = csrf(c.get("/review/login").text)
    r = c.post("/review/login", data={"key": key, "csrf": token}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/review")


def test_pages_need_a_session_and_send_security_headers(web: TestClient) -> None:
    r = web.get("/review", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/review/login")
    r = web.get("/review/login")
    assert r.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP and "object-src 'none'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Secure", "Path=/review"):
        assert attribute.lower() in cookie.lower(), cookie
    js = web.get("/static/review.js")
    assert js.headers["content-type"].startswith("text/javascript") and "keydown" in js.text
    assert web.get("/static/../app.py").status_code == 404
    assert web.get("/static/secret.txt").status_code == 404


def test_sign_in_checks_the_key_and_the_csrf_token(web: TestClient) -> None:
    token = csrf(web.get("/review/login").text)
    assert web.post("/review/login", data={"key": KEYS["moderator"]}).status_code == 403
    assert web.post("/review/login", data={"key": KEYS["moderator"], "csrf": "forged"}).status_code == 403
    assert web.post("/review/login", data={"key": "wrong-key-0123456789", "csrf": token}).status_code == 401
    assert web.post("/review/login", data={"key": KEYS["pipeline"], "csrf": token}).status_code == 401
    r = web.post(
        "/review/login",
        data={"key": KEYS["moderator"], "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    sign_in(web)
    page = web.get("/review")
    assert page.status_code == 200 and "signed in as" in page.text
    assert csrf(page.text) != token  # a new session token after sign-in


def test_a_session_ends_when_its_key_is_removed(tmp_path: Path, classifier: Any, web: TestClient) -> None:
    sign_in(web)
    assert web.get("/review").status_code == 200
    # The server restarts with the moderator key removed (same session secret, same cookie).
    kept = ",".join(f"{role}:{key}" for role, key in KEYS.items() if role != "moderator")
    app = create_app(make_settings(tmp_path, api_keys=kept), classifier=classifier)
    with TestClient(app, base_url="https://testserver", cookies=dict(web.cookies)) as after:
        r = after.get("/review", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/review/login")
    # ... or with that key demoted to a pipeline key.
    demoted = kept.replace(f"pipeline:{KEYS['pipeline']}", f"pipeline:{KEYS['moderator']}")
    app = create_app(make_settings(tmp_path, api_keys=demoted), classifier=classifier)
    with TestClient(app, base_url="https://testserver", cookies=dict(web.cookies)) as after:
        assert after.get("/review", follow_redirects=False).status_code == 303
    assert web.get("/review").status_code == 200  # the original server still knows the key


def test_a_moderator_decides_an_item_in_the_page(web: TestClient) -> None:
    queue = web.app.state.review_sink  # type: ignore[attr-defined]
    result = {
        "id": "x1",
        "decision": "review",
        "labels": ["misleading"],
        "model_version": "m1",
        "scores": {"fraudulent": 0.1, "misleading": 0.7, "unlicensed": 0.1},
        "evidence": [evidence(HOSTILE, "保本保息")],
    }
    item_id, _ = queue.enqueue({"id": "x1", "text": HOSTILE, "title": "<b>title</b>"}, result)
    sign_in(web)
    token = csrf(web.get("/review").text)
    assert web.post("/review/next", data={}, follow_redirects=False).status_code == 403  # no token
    r = web.post("/review/next", data={"csrf": token}, follow_redirects=False)
    assert r.headers["location"] == f"/review/items/{item_id}"
    page = web.get(r.headers["location"]).text
    dom = LexborHTMLParser(page)
    assert dom.css("script") and all(
        s.attributes.get("src") == "/static/review.js" for s in dom.css("script")
    )
    assert not dom.css("img") and "&lt;b&gt;title&lt;/b&gt;" in page
    mark = dom.css_first("#post mark.ev-misleading")
    assert mark is not None and mark.text() == "保本保息"
    assert "M1" in dom.css_first("#subtype").text() and "广告法" in dom.css_first("#basis").text()
    r = web.post(
        f"/review/items/{item_id}/verdict",
        follow_redirects=False,
        data={
            "csrf": token,
            "action": "reject",
            "labels": ["misleading", "fraudulent"],
            "subtype": "M1",
            "note": "<i>note</i>",
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, "/review")
    assert "reject (final)" in web.get("/review").text
    got = queue.get(item_id)
    assert got["final"]["labels"] == ["fraudulent", "misleading"]
    assert got["verdicts"][0]["note"] == "<i>note</i>" and got["verdicts"][0]["moderator"].startswith("key:")
    assert "&lt;i&gt;note&lt;/i&gt;" in web.get(f"/review/items/{item_id}").text


def test_errors_come_back_to_the_page(web: TestClient) -> None:
    queue = web.app.state.review_sink  # type: ignore[attr-defined]
    item_id, _ = queue.enqueue(
        {"id": "x2", "text": "文本"},
        {"decision": "review", "labels": [], "scores": {}, "evidence": [], "model_version": "m"},
    )
    sign_in(web)
    token = csrf(web.get("/review").text)
    r = web.post(
        f"/review/items/{item_id}/verdict", data={"csrf": token, "action": "approve"}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/review/items/{item_id}")
    assert "is not claimed by" in web.get(r.headers["location"]).text  # the error, shown once
    assert "is not claimed by" not in web.get(r.headers["location"]).text
    assert web.get("/review/items/424242").status_code == 404
    assert web.get("/review/items/99999999999999999999999").status_code == 422


def test_skip_moves_on_to_the_next_item(web: TestClient) -> None:
    queue = web.app.state.review_sink  # type: ignore[attr-defined]
    res = {"decision": "review", "labels": [], "scores": {}, "evidence": [], "model_version": "m"}
    first, _ = queue.enqueue({"id": "s1", "text": "一"}, res)
    second, _ = queue.enqueue({"id": "s2", "text": "二"}, res)
    sign_in(web)
    token = csrf(web.get("/review").text)
    assert web.post("/review/next", data={"csrf": token}).url.path == f"/review/items/{first}"
    web.post(f"/review/items/{first}/skip", data={"csrf": token})
    assert web.post("/review/next", data={"csrf": token}).url.path == f"/review/items/{second}"
    assert queue.get(first)["claimed_by"] is None
