"""Helpers shared by the review-queue tests: a settable clock, records and model results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from serving.queue import ReviewQueue

THRESHOLDS = {
    label: {"warn": 0.3, "flag": 0.5, "block": 0.8} for label in ("fraudulent", "misleading", "unlicensed")
}
POST = "本产品保本保息，稳赚不赔，年化收益高达18%，添加客服微信领取内部名额，名额有限先到先得。"


class Clock:
    """A clock the test moves by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def result(post_id: str, scores: dict[str, float] | None = None, decision: str = "review") -> dict[str, Any]:
    """A DESIGN.md result with lexicon evidence on the first four characters."""
    scores = scores or {"fraudulent": 0.1, "misleading": 0.7, "unlicensed": 0.2}
    labels = sorted(k for k, v in scores.items() if v >= 0.5)
    evidence = (
        [
            {
                "label": labels[0],
                "start": 3,
                "end": 7,
                "text": "保本保息",
                "source": "lexicon",
                "subtype": "M1",
                "phrase": "保本保息",
            }
        ]
        if labels
        else []
    )
    return {
        "id": post_id,
        "decision": decision,
        "labels": labels,
        "scores": scores,
        "evidence": evidence,
        "model_version": "test-1",
    }


def open_queue(path: Path, clock: Clock | None = None, **kwargs: Any) -> ReviewQueue:
    kwargs.setdefault("thresholds", THRESHOLDS)
    return ReviewQueue.open(f"sqlite:///{path}", clock=clock or Clock(), **kwargs)


def add(queue: ReviewQueue, post_id: str, text: str = POST, **kw: Any) -> int:
    item_id, _ = queue.enqueue({"id": post_id, "text": text}, result(post_id, **kw))
    return item_id
