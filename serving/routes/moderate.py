"""`POST /v1/moderate` and `POST /v1/moderate/batch`: classify posts, route `review` results."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request

from serving.auth import PipelineKey
from serving.errors import ApiError, error_responses
from serving.hooks import ReviewSinkError, route_for_review
from serving.routes import ApiRoute
from serving.schemas import MAX_BATCH_ITEMS, BatchRequest, BatchResult, ModerationRequest, ModerationResult

if TYPE_CHECKING:
    from classifier import Classifier

# 100 posts of 50,000 characters JSON-escaped as \uXXXX are 30 MB (serving.body_limit enforces it).
MAX_BATCH_BODY_BYTES = 32 << 20

router = APIRouter(prefix="/v1", tags=["moderation"], route_class=ApiRoute)


async def get_classifier(request: Request) -> Classifier:
    """The classifier loaded at startup (503 while it is still loading). `async`: no thread hop."""
    classifier = getattr(request.app.state, "classifier", None)
    if classifier is None:
        raise ApiError(
            503,
            "model_loading",
            "the model is still loading; retry in a few seconds",
            headers={"Retry-After": "2"},
        )
    return classifier


ClassifierDep = Annotated["Classifier", Depends(get_classifier)]


async def moderate_records(
    request: Request, classifier: Classifier, records: list[dict[str, Any]]
) -> list[dict]:
    """Classify `records` in a worker thread, hand `review` results to the review sink, count them.

    Raises:
        ReviewSinkError: the review sink failed (answered as 503).
    """
    state = request.app.state
    metrics = state.metrics

    def classify() -> list[dict[str, Any]]:
        start = time.perf_counter()
        results = classifier.classify_batch(records)
        metrics.inference.observe(time.perf_counter() - start)
        return results

    # The limiter keeps concurrent classifier calls at `inference_threads`: the ONNX session
    # releases the GIL, and more concurrent runs than cores only adds contention.
    results = await anyio.to_thread.run_sync(classify, limiter=state.inference_limiter)
    if len(results) != len(records):
        raise RuntimeError(f"classifier returned {len(results)} results for {len(records)} records")
    if any(r.get("decision") == "review" for r in results):
        try:
            submitted = await anyio.to_thread.run_sync(route_for_review, state.review_sink, records, results)
        except ReviewSinkError:
            metrics.review_errors.inc()
            raise
        metrics.review_submitted.inc(submitted)
    metrics.observe_results(results)
    request.state.log_extra = {
        "items": len(results),
        "decisions": dict(Counter(r["decision"] for r in results)),
        "model_version": results[0].get("model_version") if results else None,
    }
    return results


@router.post(
    "/moderate",
    response_model=ModerationResult,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
    summary="Moderate one post",
)
async def moderate(
    body: ModerationRequest, request: Request, _key: PipelineKey, classifier: ClassifierDep
) -> dict[str, Any]:
    """Classify one post and decide `pass` / `warn` / `review` / `block` (DESIGN.md).

    Needs a `pipeline` or `admin` key. Texts up to 50,000 characters are classified whole
    (long posts in overlapping windows); longer ones get 413 `text_too_long`.
    """
    (result,) = await moderate_records(request, classifier, [body.to_record()])
    return result


@router.post(
    "/moderate/batch",
    response_model=BatchResult,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
    summary=f"Moderate up to {MAX_BATCH_ITEMS} posts",
)
async def moderate_batch(
    body: BatchRequest, request: Request, _key: PipelineKey, classifier: ClassifierDep
) -> dict[str, Any]:
    """Classify 1 to 100 posts in one call; `items` in the response are in request order.

    Needs a `pipeline` or `admin` key. More than 100 items gets 422 `too_many_items`.
    """
    results = await moderate_records(request, classifier, [item.to_record() for item in body.items])
    return {"items": results}
