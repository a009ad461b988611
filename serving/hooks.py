"""The hook point between moderation and the review queue.

Every result whose decision is `review` is handed to the app's `ReviewSink` (in a worker thread,
never on the event loop) together with the record it came from. The sink may return extra fields
that are merged into the result the caller sees, e.g. `{"review_id": 17}` or a verdict already
given on a near-duplicate post. The default sink does nothing; the review queue (issue 6)
provides a database-backed one.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

RESERVED_FIELDS = frozenset({"id", "decision", "labels", "scores", "evidence", "model_version"})


@runtime_checkable
class ReviewSink(Protocol):
    """Receives results that need a moderator."""

    def submit(self, record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
        """Enqueue one post for review.

        Called from a worker thread, possibly from several at once, so implementations must be
        thread-safe (e.g. one database session per call). Must be idempotent on `record["id"]`:
        a caller that retries after an error sends the same post again.

        Args:
            record: the input record as sent (DESIGN.md), with `id` filled in from the result.
            result: the result dict (DESIGN.md), decision `review`.

        Returns:
            Extra fields to merge into the result, or None. Keys of the DESIGN.md result
            (`id`, `decision`, ...) may not be overwritten.

        Raises:
            Exception: anything; the API answers 503 `review_queue_unavailable` so the caller
                retries rather than publishing a post nobody will review.
        """
        ...


class NoopReviewSink:
    """The default: accepts everything, stores nothing, adds nothing."""

    def submit(self, record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        return None


class ReviewSinkError(RuntimeError):
    """The review sink failed; the request cannot be completed safely."""


def route_for_review(sink: ReviewSink, records: list[dict[str, Any]], results: list[dict[str, Any]]) -> int:
    """Submit every `review` result to `sink` and merge what it returns into the result, in place.

    Blocking: call it in a worker thread.

    Args:
        sink: the app's review sink.
        records: input records, parallel to `results`.
        results: classifier results; updated in place.

    Returns:
        How many results were submitted.

    Raises:
        ReviewSinkError: the sink raised, or returned something other than a dict or None.
    """
    submitted = 0
    for record, result in zip(records, results, strict=True):
        if result.get("decision") != "review":
            continue
        try:
            extra = sink.submit({**record, "id": result["id"]}, result)
        except Exception as exc:
            log.exception("review sink failed for post id=%s", result.get("id"))
            raise ReviewSinkError(f"review queue unavailable: {type(exc).__name__}") from exc
        submitted += 1
        if extra is None:
            continue
        if not isinstance(extra, dict):
            raise ReviewSinkError(f"review sink returned {type(extra).__name__}; expected a dict or None")
        clash = RESERVED_FIELDS & extra.keys()
        if clash:
            raise ReviewSinkError(f"review sink tried to overwrite result fields {sorted(clash)}")
        result.update(extra)
    return submitted
