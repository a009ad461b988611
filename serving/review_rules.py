"""Rules of the review queue that need no database: verdict checks, errors, outcomes.

Errors carry the API's error `code` and HTTP `status`, so routes and the web page turn them into
responses without a table of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from classifier.taxonomy import COMPLIANT_KINDS, LABELS, SUBTYPES

ACTIONS = ("approve", "reject")
SECOND_ROUND_PRIORITY = 5
APPEAL_PRIORITY = 10
MAX_NOTE_CHARS = 2000
Clock = Callable[[], datetime]


class ReviewError(Exception):
    """A queue operation was refused; `code` is the API's error code, `status` its HTTP status."""

    code = "review_error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ItemNotFound(ReviewError):
    code, status = "item_not_found", 404


class ClaimConflict(ReviewError):
    code, status = "claimed_by_other", 409


class NotClaimable(ReviewError):
    code, status = "not_claimable", 409


class LeaseLost(ReviewError):
    code, status = "lease_not_held", 409


class SameModerator(ReviewError):
    code, status = "needs_another_moderator", 403


class InvalidVerdict(ReviewError):
    code, status = "invalid_verdict", 422


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What a verdict did: `final`, `second_review` or `another_round`, and the item's new state."""

    item_id: int
    outcome: str
    status: str
    round: int


def check_verdict(action: str, labels: list[str] | None, subtype: str | None, note: str | None) -> list[str]:
    """The verdict's labels, sorted and de-duplicated.

    Raises:
        InvalidVerdict: an unknown action or label, labels that do not fit the action, a sub-type
            that does not fit the labels, or a note over `MAX_NOTE_CHARS`.
    """
    if action not in ACTIONS:
        raise InvalidVerdict(f"unknown verdict {action!r}; use 'approve' or 'reject'")
    labels = sorted(set(labels or []))
    unknown = [x for x in labels if x not in LABELS]
    if unknown:
        raise InvalidVerdict(f"unknown labels {unknown}; use {', '.join(LABELS)}")
    if action == "approve" and labels:
        raise InvalidVerdict("an 'approve' verdict says the post is fine; send no labels, or use 'reject'")
    if action == "reject" and not labels:
        raise InvalidVerdict("a 'reject' verdict needs at least one label: " + ", ".join(LABELS))
    if subtype is not None:
        if action == "reject" and (subtype not in SUBTYPES or SUBTYPES[subtype].label not in labels):
            raise InvalidVerdict(
                f"sub-type {subtype!r} is not a code (F1-F8, M1-M8, U1-U7) of the labels {labels}"
            )
        if action == "approve" and subtype not in COMPLIANT_KINDS:
            raise InvalidVerdict(
                f"sub-type {subtype!r} of an approved post must be one of {sorted(COMPLIANT_KINDS)}"
            )
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidVerdict(f"note has {len(note)} characters; at most {MAX_NOTE_CHARS}")
    return labels
