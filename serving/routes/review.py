"""`/v1/review/...`: the review queue's JSON API for moderators, and appeals for the pipeline.

Moderator routes need a `moderator` (or `admin`) key; a moderator is identified by their key
(`key:<id>`, the key's non-secret id), so give each moderator a key of their own. Appeals come
from the platform on behalf of an account owner and need a `pipeline` (or `admin`) key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from serving.auth import ModeratorKey, PipelineKey, Principal
from serving.errors import ApiError, error_responses
from serving.queue import ReviewQueue
from serving.review_rules import MAX_NOTE_CHARS, ReviewError
from serving.routes import ApiRoute
from serving.schemas import MAX_ID_CHARS, Decision, Label, ModerationRequest, ModerationResult

router = APIRouter(prefix="/v1/review", tags=["review queue"], route_class=ApiRoute)
T = TypeVar("T")
ItemId = Annotated[
    int, Path(ge=1, le=2**62, description="Review item id (`review_id` in a moderation result).")
]


def get_queue(request: Request) -> ReviewQueue:
    """The app's review queue (503 when the app runs with another review sink, or not started)."""
    sink = getattr(request.app.state, "review_sink", None)
    if not isinstance(sink, ReviewQueue):
        raise ApiError(503, "review_queue_unavailable", "this server runs without the review queue")
    return sink


QueueDep = Annotated[ReviewQueue, Depends(get_queue)]


def moderator_id(principal: Principal) -> str:
    """How a moderator appears in verdicts and the audit log."""
    return f"key:{principal.key_id}"


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except ReviewError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class VerdictBody(_Body):
    """A moderator's verdict on an item they have claimed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"action": "reject", "labels": ["misleading"], "subtype": "M1", "note": "保本承诺"}]
        }
    )

    action: Literal["approve", "reject"] = Field(
        description="`approve`: the post is fine; `reject`: a violation."
    )
    labels: list[Label] = Field(
        default_factory=list, max_length=3, description="Violated labels (reject only)."
    )
    subtype: Annotated[str, Field(max_length=16)] | None = Field(
        None, description="Sub-type code of one of `labels` (F1-U7), or a compliant kind (C-...) for approve."
    )
    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS)] | None = None


class AppealBody(_Body):
    """An account owner's appeal: name a queue item (`item_id` or `post_id`), or send the post and
    the model's result for a post that was never queued (e.g. blocked)."""

    item_id: Annotated[int, Field(ge=1, le=2**62)] | None = None
    post_id: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)] | None = None
    record: ModerationRequest | None = None
    result: ModerationResult | None = None
    reason: Annotated[str, Field(max_length=MAX_NOTE_CHARS)] = ""

    @model_validator(mode="after")
    def _one_target(self) -> AppealBody:
        given = [self.item_id is not None, self.post_id is not None, self.record is not None]
        if sum(given) != 1 or (self.record is None) != (self.result is None):
            raise ValueError("give exactly one of item_id, post_id, or record together with result")
        return self


class ItemList(BaseModel):
    items: list[dict[str, Any]]
    total: int = Field(description="Items matching the filters, of which `items` is one page.")


class VerdictOutcome(BaseModel):
    item_id: int
    outcome: Literal["final", "second_review", "another_round"]
    status: Literal["queued", "decided"]
    round: int


_ERRORS = error_responses(401, 403, 404, 409, 422, 503)


@router.get("/items", response_model=ItemList, responses=_ERRORS, summary="List and filter review items")
def list_items(
    queue: QueueDep,
    _key: ModeratorKey,
    status: Literal["queued", "decided"] | None = None,
    label: Label | None = None,
    decision: Annotated[Decision | None, Query(description="The model's decision.")] = None,
    appealed: bool | None = None,
    claimed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """Items in queue order (priority, then age), with a text preview; filters combine with AND."""
    items, total = queue.list(
        status=status,
        label=label,
        decision=decision,
        appealed=appealed,
        claimed=claimed,
        limit=limit,
        offset=offset,
    )
    return {"items": items, "total": total}


@router.get("/items/{item_id}", responses=_ERRORS, summary="One item with text, evidence and verdicts")
def get_item(item_id: ItemId, queue: QueueDep, _key: ModeratorKey) -> dict[str, Any]:
    """The item, the model's result, every verdict so far, and the closest decided near-duplicate."""
    return _call(queue.get, item_id)


@router.get("/items/{item_id}/audit", responses=_ERRORS, summary="The item's audit trail")
def get_audit(item_id: ItemId, queue: QueueDep, _key: ModeratorKey) -> list[dict[str, Any]]:
    """Every event (model decision, claims, verdicts, appeals), oldest first, as recorded."""
    return _call(queue.audit, item_id)


@router.post("/items/{item_id}/claim", responses=_ERRORS, summary="Claim an item (take its lease)")
def claim(item_id: ItemId, queue: QueueDep, key: ModeratorKey) -> dict[str, Any]:
    """Hold the item for `review_lease_seconds`; claiming your own item again renews the lease.
    409 `claimed_by_other` while someone else's lease holds."""
    return _call(queue.claim, item_id, moderator_id(key))


@router.post(
    "/next", responses={204: {"description": "nothing waiting"}, **_ERRORS}, summary="Claim the next item"
)
def claim_next(queue: QueueDep, key: ModeratorKey) -> Any:
    """Your current item if you hold one, else the first waiting item you may decide
    (appeals, then second rounds, then oldest first). 204 when the queue is empty for you."""
    item = _call(queue.claim_next, moderator_id(key))
    return item if item is not None else Response(status_code=204)


@router.post(
    "/items/{item_id}/release", status_code=204, responses=_ERRORS, summary="Give an item back (skip)"
)
def release(item_id: ItemId, queue: QueueDep, key: ModeratorKey) -> Response:
    """Return an item you hold to the queue without deciding it."""
    _call(queue.release, item_id, moderator_id(key))
    return Response(status_code=204)


@router.post(
    "/items/{item_id}/verdict", response_model=VerdictOutcome, responses=_ERRORS, summary="Decide an item"
)
def verdict(item_id: ItemId, body: VerdictBody, queue: QueueDep, key: ModeratorKey) -> Any:
    """Approve or reject an item you hold. Clearing a label the model scored at `block` sends the
    item to a second round for another moderator (`second_review`); it is final once two agree."""
    return _call(
        queue.decide, item_id, moderator_id(key), body.action, list(body.labels), body.subtype, body.note
    )


@router.post("/appeals", status_code=202, responses=_ERRORS, summary="Appeal a decision")
def appeal(body: AppealBody, queue: QueueDep, key: PipelineKey) -> dict[str, Any]:
    """Reopen a decision for an account owner: the item goes back to the queue ahead of the rest,
    to be decided by moderators who did not decide it before."""
    appellant = f"{key.role}:{key.key_id}"
    if body.record is not None and body.result is not None:
        record = body.record.to_record()
        record["id"] = record.get("id") or body.result.id
        if not record["id"]:
            raise ApiError(
                422, "invalid_request", "an appeal with record and result needs a post id in either"
            )
        return _call(queue.appeal_post, record, body.result.model_dump(), appellant, body.reason)
    item_id = body.item_id
    if item_id is None:
        items = _call(queue.find_post, str(body.post_id))
        if not items:
            raise ApiError(
                404, "item_not_found", f"no review item for post {body.post_id!r}; send record and result"
            )
        item_id = items[-1]
    return _call(queue.appeal, item_id, appellant, body.reason)


@router.get("/stats", responses=_ERRORS, summary="Queue depth, age, agreement with the model")
def stats(queue: QueueDep, _key: ModeratorKey) -> dict[str, Any]:
    """Depth (claimed/unclaimed, by round, appealed), age of the oldest waiting item, items decided,
    and how often moderators agree with the model (decision, exact labels, per label)."""
    return queue.stats()
