"""The review queue's tables (SQLAlchemy 2 ORM). The schema itself is created by the Alembic
migrations in `serving/migrations/`; these classes must match them.

- `ReviewItem`: one post waiting for, or given, a moderator's verdict. Unique on
  (`post_id`, `text_sha256`), so the same post is one item however often it arrives.
- `Verdict`: one moderator decision on an item (one row per round).
- `AuditEvent`: append-only log of every decision, the model's included (database triggers refuse
  UPDATE and DELETE).
- `SimilarityBand`: MinHash band keys of every item's text, the index behind similar-text memory.

Times are stored as naive UTC (`UTCDateTime`) so that SQLite, which has no time zones, compares
them correctly as text, and handed back time-zone aware.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Item status. `queued`: waiting for a moderator (round 1, a second round, or an appeal);
# `decided`: the verdict is final.
QUEUED = "queued"
DECIDED = "decided"
STATUSES = (QUEUED, DECIDED)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, stored as naive UTC, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; pass an aware datetime (UTC)")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class ReviewItem(Base):
    """A post in the review queue, with the model's result it arrived with."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("post_id", "text_sha256", name="uq_review_items_post"),
        Index("ix_review_items_queue", "status", "priority", "enqueued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[str] = mapped_column(String(256))
    text_sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    account: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The model's result.
    model_version: Mapped[str] = mapped_column(String(128))
    model_decision: Mapped[str] = mapped_column(String(16))
    model_labels: Mapped[list[str]] = mapped_column(JSON)
    # ",misleading,unlicensed," so that a label filter is a portable LIKE.
    model_labels_key: Mapped[str] = mapped_column(String(64))
    model_subtype: Mapped[str | None] = mapped_column(String(16))
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    thresholds: Mapped[dict[str, dict[str, float]] | None] = mapped_column(JSON)
    # Queue state.
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped on every change of state; a claim is a conditional UPDATE on it.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Moderators who may not decide the current round (they decided an earlier one).
    excluded: Mapped[list[str]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    appeals: Mapped[int] = mapped_column(Integer, default=0)
    # The final verdict, once `status` is `decided`.
    final_action: Mapped[str | None] = mapped_column(String(16))
    final_labels: Mapped[list[str] | None] = mapped_column(JSON)
    final_subtype: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Verdict(Base):
    """One moderator decision: `approve` (no violation) or `reject` (violation, with labels)."""

    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_item", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"))
    round: Mapped[int] = mapped_column(Integer)
    moderator: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    labels: Mapped[list[str]] = mapped_column(JSON)
    subtype: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # What the verdict meant for the item: `final`, `second_review`, `another_round`.
    outcome: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One entry of the append-only audit log. `data` holds everything needed to replay it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_item", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    input_sha256: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class SimilarityBand(Base):
    """One MinHash band key of one item's text (see `serving.similarity`)."""

    __tablename__ = "similarity_bands"
    __table_args__ = (Index("ix_similarity_bands_key", "band", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"))
    band: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(16))


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(mapper: Any, connection: Any, target: AuditEvent) -> None:
    # The database refuses it too (triggers in the migration); this names the mistake earlier.
    raise PermissionError(f"audit event {target.id} is append-only; record a new event instead")
