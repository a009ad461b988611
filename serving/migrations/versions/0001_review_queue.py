"""Review queue: items, verdicts, the append-only audit log, the similar-text index.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "audit_events is append-only"


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.String(256), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("account", sa.JSON),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("model_decision", sa.String(16), nullable=False),
        sa.Column("model_labels", sa.JSON, nullable=False),
        sa.Column("model_labels_key", sa.String(64), nullable=False),
        sa.Column("model_subtype", sa.String(16)),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("thresholds", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("excluded", sa.JSON, nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("enqueued_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("appeals", sa.Integer, nullable=False),
        sa.Column("final_action", sa.String(16)),
        sa.Column("final_labels", sa.JSON),
        sa.Column("final_subtype", sa.String(16)),
        sa.Column("decided_at", UTCDateTime),
        sa.UniqueConstraint("post_id", "text_sha256", name="uq_review_items_post"),
    )
    op.create_index("ix_review_items_queue", "review_items", ["status", "priority", "enqueued_at"])
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("moderator", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("subtype", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decided_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_verdicts_item", "verdicts", ["item_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id")),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_events_item", "audit_events", ["item_id"])
    op.create_table(
        "similarity_bands",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("band", sa.Integer, nullable=False),
        sa.Column("key", sa.String(16), nullable=False),
    )
    op.create_index("ix_similarity_bands_key", "similarity_bands", ["band", "key"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    # The audit log is evidence for regulators: the database itself refuses to change it.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for when in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{when.lower()} BEFORE {when} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    for table in ("similarity_bands", "audit_events", "verdicts", "review_items"):
        op.drop_table(table)
