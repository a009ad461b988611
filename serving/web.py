"""The moderator web page, `/review`: server-rendered Jinja2 and one small script, no build step.

Security, because post text is hostile input:

- Jinja2 autoescapes everything; the only markup built in Python is the highlighted post
  (`highlight`), assembled from escaped pieces.
- Every response carries a strict Content-Security-Policy (scripts only from our own `/static`,
  no inline script, no plugins, no framing), `nosniff` and `no-referrer`.
- Moderators sign in with their API key (role `moderator` or `admin`); the session is a signed
  cookie (itsdangerous), HttpOnly, SameSite=Strict, Secure outside development, scoped to `/review`;
  it names the key by id and ends as soon as that key is no longer configured with such a role.
- Every POST carries the session's CSRF token (checked in constant time) and, when the browser
  sends one, an `Origin` matching the host.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from classifier.taxonomy import COMPLIANT_KINDS, LABEL_ZH, LABELS, SUBTYPES
from serving.queue import ReviewQueue
from serving.review_rules import ReviewError

router = APIRouter(include_in_schema=False)

COOKIE = "promoguard_review"
SESSION_SECONDS = 8 * 3600
SKIP_MEMORY = 50  # items a moderator skipped, not served to them again this session
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_HERE = Path(__file__).parent
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
_env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(default=True))
_env.globals.update(LABELS=LABELS, LABEL_ZH=LABEL_ZH, SUBTYPES=SUBTYPES, COMPLIANT_KINDS=COMPLIANT_KINDS)


def highlight(text: str, evidence: list[dict[str, Any]]) -> Markup:
    """The post as HTML with evidence spans in `<mark>`; every piece of the text is escaped.

    Overlapping spans are split at every boundary, so each character is marked with every label
    whose evidence covers it. Spans with bad offsets or unknown labels are ignored.
    """
    spans = [
        (ev["start"], ev["end"], ev["label"])
        for ev in evidence
        if isinstance(ev.get("start"), int)
        and isinstance(ev.get("end"), int)
        and 0 <= ev["start"] < ev["end"] <= len(text)
        and ev.get("label") in LABELS
    ]
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[a:b])
        labels = sorted({label for s, e, label in spans if s <= a and e >= b})
        if labels:
            classes = " ".join(f"ev-{label}" for label in labels)
            title = ", ".join(f"{label} {LABEL_ZH[label]}" for label in labels)
            out.append(f'<mark class="ev {classes}" title="{escape(title)}">{piece}</mark>')
        else:
            out.append(str(piece))
    return Markup("".join(out))


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = request.app.state.settings.session_secret.get_secret_value()
    return URLSafeTimedSerializer(secret, salt="promoguard.review.session")


def _session(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(request).loads(raw, max_age=SESSION_SECONDS)
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                return _still_signed_in(request, data)
        except BadSignature:
            pass
    return {"csrf": secrets.token_urlsafe(32)}


def _still_signed_in(request: Request, session: dict[str, Any]) -> dict[str, Any]:
    """The session, signed out if its key was removed or lost its moderator role since sign-in."""
    uid = session.get("uid")
    if not isinstance(uid, str):
        return session
    principal = request.app.state.keyring.by_key_id(uid.removeprefix("key:"))
    if principal is None or principal.role not in ("moderator", "admin"):
        return {"csrf": secrets.token_urlsafe(32)}
    return {**session, "role": principal.role}


def _secure(request: Request, response: Response, session: dict[str, Any] | None = None) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if session is not None:
        response.set_cookie(
            COOKIE,
            _serializer(request).dumps(session),
            max_age=SESSION_SECONDS,
            path="/review",
            httponly=True,
            samesite="strict",
            secure=not request.app.state.settings.is_development,
        )
    return response


def _page(
    request: Request, template: str, session: dict[str, Any], status: int = 200, **ctx: Any
) -> Response:
    html = _env.get_template(template).render(csrf=session["csrf"], user=session.get("uid"), **ctx)
    return _secure(request, HTMLResponse(html, status_code=status), session)


def _redirect(request: Request, url: str, session: dict[str, Any] | None = None) -> Response:
    return _secure(request, RedirectResponse(url, status_code=303), session)


async def _checked_form(request: Request, session: dict[str, Any]) -> dict[str, Any] | None:
    """The POSTed form if its CSRF token and origin check out, else None."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        return None
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session["csrf"].encode()):
        return None
    return {k: form.getlist(k) if k == "labels" else form.get(k) for k in form}


def _queue(request: Request) -> ReviewQueue | None:
    sink = getattr(request.app.state, "review_sink", None)
    return sink if isinstance(sink, ReviewQueue) else None


def _forbidden(request: Request, session: dict[str, Any]) -> Response:
    return _page(
        request,
        "error.html",
        session,
        403,
        message="The form expired or came from another site. Reload the page and try again.",
    )


def _not_ready(request: Request, session: dict[str, Any]) -> Response:
    """The answer for a page that needs a signed-in moderator and the queue, when one is missing."""
    if not session.get("uid"):
        return _redirect(request, "/review/login", session)
    return _page(request, "error.html", session, 503, message="This server runs without the review queue.")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    response = FileResponse(_HERE / "static" / name, media_type=STATIC_FILES[name])
    response.headers.update({**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"})
    return response


@router.get("/review/login")
async def login_page(request: Request) -> Response:
    session = _session(request)
    if session.get("uid"):
        return _redirect(request, "/review", session)
    return _page(request, "login.html", session)


@router.post("/review/login")
async def login(request: Request) -> Response:
    session = _session(request)
    form = await _checked_form(request, session)
    if form is None:
        return _forbidden(request, session)
    principal = request.app.state.keyring.lookup(str(form.get("key") or "").strip())
    if principal is None or principal.role not in ("moderator", "admin"):
        return _page(request, "login.html", session, 401, error="That key is not a moderator or admin key.")
    # A fresh session (and CSRF token) on sign-in, so a token seen before sign-in is worthless after.
    fresh = {"csrf": secrets.token_urlsafe(32), "uid": f"key:{principal.key_id}", "role": principal.role}
    return _redirect(request, "/review", fresh)


@router.post("/review/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    if await _checked_form(request, session) is None:
        return _forbidden(request, session)
    return _redirect(request, "/review/login", {"csrf": secrets.token_urlsafe(32)})


@router.get("/review")
async def queue_page(request: Request) -> Response:
    session = _session(request)
    queue = _queue(request)
    if not session.get("uid") or queue is None:
        return _not_ready(request, session)
    items, total = await run_in_threadpool(queue.list, status="queued", limit=100)
    stats = await run_in_threadpool(queue.stats)
    notice = session.pop("notice", "")  # one-time messages travel in the signed session, not the URL
    return _page(request, "queue.html", session, items=items, total=total, stats=stats, notice=notice)


ItemId = Annotated[int, PathParam(ge=1, le=2**62)]


@router.get("/review/items/{item_id}")
async def item_page(request: Request, item_id: ItemId) -> Response:
    session = _session(request)
    queue = _queue(request)
    if not session.get("uid") or queue is None:
        return _not_ready(request, session)
    try:
        item = await run_in_threadpool(queue.get, item_id)
    except ReviewError as exc:
        return _page(request, "error.html", session, exc.status, message=exc.message)
    code = item["model"]["subtype"]
    return _page(
        request,
        "item.html",
        session,
        item=item,
        highlighted=highlight(item["text"], item["model"]["evidence"]),
        subtype=SUBTYPES.get(code) if code else None,
        mine=item["claimed_by"] == session["uid"],
        error=session.pop("error", ""),
    )


@router.post("/review/next")
async def next_item(request: Request) -> Response:
    return await _act(request, None, "next")


@router.post("/review/items/{item_id}/{action}")
async def item_action(request: Request, item_id: ItemId, action: str) -> Response:
    return await _act(request, item_id, action)


async def _act(request: Request, item_id: int | None, action: str) -> Response:
    session = _session(request)
    if not session.get("uid"):
        return _redirect(request, "/review/login", session)
    form = await _checked_form(request, session)
    if form is None:
        return _forbidden(request, session)
    queue = _queue(request)
    if queue is None or action not in ("next", "claim", "skip", "verdict"):
        return _page(request, "error.html", session, 404, message="No such page.")
    uid = session["uid"]
    try:
        if action == "next":
            skipped = set(session.get("skipped", []))
            item = await run_in_threadpool(queue.claim_next, uid, skipped)
            if item is None:
                return _redirect(request, "/review", {**session, "notice": "Nothing is waiting for you."})
            return _redirect(request, f"/review/items/{item['id']}", session)
        assert item_id is not None
        if action == "claim":
            await run_in_threadpool(queue.claim, item_id, uid)
            return _redirect(request, f"/review/items/{item_id}", session)
        if action == "skip":
            await run_in_threadpool(queue.release, item_id, uid)
            # Remembered for this session so that "next" moves on instead of serving it again.
            skipped = [*session.get("skipped", []), item_id][-SKIP_MEMORY:]
            notice = f"Skipped item {item_id}."
            return _redirect(request, "/review", {**session, "notice": notice, "skipped": skipped})
        verdict = str(form.get("action") or "")
        labels = [x for x in form.get("labels") or [] if isinstance(x, str)] if verdict == "reject" else []
        # The sub-type menu lists both kinds; keep the one that fits the verdict.
        subtype = str(form.get("subtype") or "") or None
        if verdict == "approve" and subtype not in COMPLIANT_KINDS:
            subtype = None
        note = str(form.get("note") or "").strip() or None
        outcome = await run_in_threadpool(queue.decide, item_id, uid, verdict, labels, subtype, note)
        said = "final" if outcome.outcome == "final" else "sent to another moderator"
        return _redirect(request, "/review", {**session, "notice": f"Item {item_id}: {verdict} ({said})."})
    except ReviewError as exc:
        if item_id is None:
            return _page(request, "error.html", session, exc.status, message=exc.message)
        return _redirect(request, f"/review/items/{item_id}", {**session, "error": exc.message})
