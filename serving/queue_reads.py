"""Read operations of the review queue (`ReviewQueue` inherits them): item, list, stats, audit, export.

Each call is one read-only session; the shaping of results lives in `serving.queue_views`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving import queue_views as views
from serving.db import Database
from serving.models import ReviewItem
from serving.review_rules import Clock, ItemNotFound


class QueueReads:
    """Reads over `self.db`; needs `db`, `clock` and `similarity_threshold` from the subclass."""

    db: Database
    clock: Clock
    similarity_threshold: float

    def get(self, item_id: int) -> dict[str, Any]:
        """One item with its text, evidence, verdicts and the closest decided near-duplicate.

        Raises:
            ItemNotFound.
        """
        with self.db.read() as s:
            item = self._get(s, item_id)
            out = views.item_dict(s, item, self.clock())
            out["similar"] = views.find_similar(s, item.text, self.similarity_threshold, exclude=item_id)
            return out

    def list(self, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """Items matching `filters` (see `queue_views.list_items`) and how many match in all."""
        with self.db.read() as s:
            return views.list_items(s, self.clock(), **filters)

    def find_post(self, post_id: str) -> list[int]:
        """Ids of the items of a post (one per distinct text), oldest first."""
        with self.db.read() as s:
            return list(
                s.scalars(select(ReviewItem.id).where(ReviewItem.post_id == post_id).order_by(ReviewItem.id))
            )

    def stats(self) -> dict[str, Any]:
        """Queue depth, age of the oldest item, agreement of moderators with the model."""
        with self.db.read() as s:
            return views.stats(s, self.clock())

    def audit(self, item_id: int) -> list[dict[str, Any]]:
        """The item's audit trail, oldest first.

        Raises:
            ItemNotFound.
        """
        with self.db.read() as s:
            self._get(s, item_id)
            return views.audit_trail(s, item_id)

    def export(self, out: str | Path) -> int:
        """Write decided items to `out` as corpus lines; returns how many."""
        return views.export_verdicts(self.db, out)

    @staticmethod
    def _get(s: Session, item_id: int) -> ReviewItem:
        item = s.get(ReviewItem, item_id)
        if item is None:
            raise ItemNotFound(f"no review item {item_id}; list items with GET /v1/review/items")
        return item
