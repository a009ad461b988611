"""End to end in a real headless browser: Playwright drives Debian's chromium against uvicorn.

A moderator signs in, sees a queued post with its evidence highlighted, approves it with the
keyboard, and the verdict is in the database. A post full of script payloads runs nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serving.app import create_app
from tests.serving.conftest import KEYS, make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAYLOAD = (
    '注意<script>window.__pwned = "script"; alert(1)</script>保本保息，稳赚不赔'
    "<img src=x onerror=\"window.__pwned = 'img'; alert(2)\">"
    "<svg onload=\"window.__pwned = 'svg'\"></svg><a href=\"javascript:window.__pwned='a'\">点我</a>"
    '"><script>window.__pwned="attr"</script><iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium "
        "(apt-get install -y chromium; .ci/run installs it)",
    ),
]


def evidence(text: str, phrase: str) -> list[dict[str, Any]]:
    start = text.index(phrase)
    return [
        {
            "label": "misleading",
            "start": start,
            "end": start + len(phrase),
            "text": phrase,
            "source": "lexicon",
            "subtype": "M1",
            "phrase": phrase,
        }
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, classifier: Any) -> Iterator[tuple[str, Any]]:
    """A real uvicorn on 127.0.0.1 at an ephemeral port, serving the app in a thread."""
    import uvicorn

    # Production settings: the session cookie is Secure (chromium accepts that on http://127.0.0.1).
    settings = make_settings(tmp_path_factory.mktemp("web"))
    app = create_app(settings, classifier=classifier)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", app.state.review_sink
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: tuple[str, Any]) -> Iterator[Any]:
    context = browser.new_context(base_url=server[0])
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield page
    context.close()


def sign_in(page: Any) -> None:
    page.goto("/review")
    assert page.url.endswith("/review/login")
    page.fill("#key", KEYS["moderator"])
    page.click("#sign-in")
    page.wait_for_url("**/review")


def test_sign_in_see_evidence_and_approve(page: Any, server: tuple[str, Any]) -> None:
    _, queue = server
    text = "本产品保本保息，稳赚不赔，年化收益高达18%，添加客服微信领取内部名额。"
    result = {
        "id": "e2e-1",
        "decision": "review",
        "labels": ["misleading"],
        "model_version": "m1",
        "scores": {"fraudulent": 0.1, "misleading": 0.72, "unlicensed": 0.2},
        "evidence": evidence(text, "保本保息"),
    }
    item_id, _ = queue.enqueue({"id": "e2e-1", "text": text}, result)
    sign_in(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "promoguard_review")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: invisible to scripts
    page.keyboard.press("n")  # shortcut for "Next item"
    page.wait_for_url(f"**/review/items/{item_id}")
    mark = page.locator("#post mark.ev-misleading")
    assert mark.count() == 1 and mark.inner_text() == "保本保息"
    assert page.locator("#post").inner_text() == text
    assert "M1" in page.inner_text("#subtype") and "银发〔2019〕316号" in page.inner_text("#basis")
    page.keyboard.press("a")  # approve
    page.wait_for_url("**/review")
    assert "approve (final)" in page.inner_text("#notice")
    got = queue.get(item_id)
    assert got["status"] == "decided" and got["final"]["action"] == "approve"
    assert got["verdicts"][0]["moderator"].startswith("key:")

    # Relabel with the keyboard: l, then 2 (misleading off) and 3 (unlicensed on), then r.
    other, _ = queue.enqueue({"id": "e2e-2", "text": text + "再版"}, {**result, "id": "e2e-2"})
    page.keyboard.press("n")
    page.wait_for_url(f"**/review/items/{other}")
    for key in ("l", "2", "3"):
        page.keyboard.press(key)
    assert page.locator("#labels.relabelling").count() == 1
    page.select_option("#subtype-select", "U3")
    page.keyboard.press("r")
    page.wait_for_url("**/review")
    got = queue.get(other)
    assert (got["final"]["action"], got["final"]["labels"], got["final"]["subtype"]) == (
        "reject",
        ["unlicensed"],
        "U3",
    )
    assert queue.audit(other)[-1]["data"]["relabelled"] is True


def test_hostile_post_runs_nothing(page: Any, server: tuple[str, Any]) -> None:
    _, queue = server
    result = {
        "id": "evil",
        "decision": "review",
        "labels": ["misleading"],
        "model_version": "m1",
        "scores": {"fraudulent": 0.1, "misleading": 0.7, "unlicensed": 0.1},
        "evidence": evidence(PAYLOAD, "<script>window.__pwned"),
    }
    record = {
        "id": "evil<script>alert(3)</script>",
        "text": PAYLOAD,
        "title": PAYLOAD,
        "account": {"id": "gh", "name": "<img src=x onerror=alert(4)>"},
    }
    item_id, _ = queue.enqueue(record, result)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text))
    sign_in(page)  # the queue list shows the hostile preview and post id
    page.goto(f"/review/items/{item_id}")
    page.wait_for_load_state("load")
    time.sleep(0.3)  # let any image error or load handler fire
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.locator("#post script, #post img, #post svg, #post iframe, #post a").count() == 0
    assert page.locator("#post").inner_text() == PAYLOAD  # shown as text, character for character
    assert page.locator("#post mark").inner_text() == "<script>window.__pwned"
    # Defence in depth: even markup that reached the DOM could not run inline code (CSP).
    page.evaluate("""() => { document.body.insertAdjacentHTML('beforeend',
        '<img src="/nothing.png" onerror="window.__pwned = 42">'); }""")
    time.sleep(0.3)
    assert page.evaluate("window.__pwned") is None
    assert any("Content Security Policy" in v for v in violations), violations
    page.goto("/review")
    assert page.evaluate("window.__pwned") is None and page.dialogs == []  # type: ignore[attr-defined]
