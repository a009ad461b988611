"""The review queue: enqueue, claim with leases, verdicts in rounds, appeals, similar-text memory.

How an item moves:

1. `enqueue` (the API's review hook): one item per (post id, text hash), however often the post
   arrives; the model's decision is written to the audit log.
2. `claim` / `claim_next`: a moderator takes a lease of `lease_seconds`. The claim is one
   conditional UPDATE (`WHERE id = ? AND revision = ? AND (claimed_by IS NULL OR lease_until < now)`)
   whose row count says who won, so two racing moderators cannot both win on SQLite or PostgreSQL.
   An expired lease is simply claimable again.
3. `decide`: `approve` (no violation) or `reject` (labels, sub-type, note). A verdict that clears a
   label the model scored at its `block` threshold sends the item to a second round, which a
   different moderator must decide; the verdict is final once two rounds agree (if they do not,
   another round follows, again by someone new).
4. `appeal`: the account owner contests a decision; the item returns to the queue with priority
   and must be decided afresh by moderators who did not decide it before.

Every verdict, appeal, claim and release is an append-only `AuditEvent`. Read-side views (lists,
stats, export) are in `serving.queue_views`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving import queue_views as views
from serving import similarity as sim
from serving.db import Database
from serving.models import DECIDED, QUEUED, AuditEvent, ReviewItem, Verdict
from serving.queue_reads import QueueReads
from serving.review_rules import (
    APPEAL_PRIORITY,
    MAX_NOTE_CHARS,
    SECOND_ROUND_PRIORITY,
    ClaimConflict,
    Clock,
    LeaseLost,
    NotClaimable,
    Outcome,
    SameModerator,
    check_verdict,
    text_sha256,
    utcnow,
)

log = logging.getLogger(__name__)


class ReviewQueue(QueueReads):
    """The review service over a `Database`; thread-safe (one session per call).

    Also the API's `ReviewSink`: `submit(record, result)` enqueues and returns the fields merged
    into the result (`review_id`, `review_status`, and `similar` when a near-duplicate was decided).
    """

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: int = 600,
        clock: Clock = utcnow,
        similarity_threshold: float = 0.7,
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self.similarity_threshold = similarity_threshold
        # The serving policy's thresholds, recorded with each model decision (set by the app).
        self.thresholds = {k: dict(v) for k, v in thresholds.items()} if thresholds else None

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> ReviewQueue:
        """Connect to `url`, migrate the schema, and return a queue. kwargs as `__init__`.

        Raises:
            serving.db.DatabaseError: a bad URL or a failed migration.
        """
        return cls(Database.connect(url), **kwargs)

    def close(self) -> None:
        self.db.close()

    # -- the API hook -------------------------------------------------------------------------
    def submit(self, record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
        """`ReviewSink.submit`: enqueue the post and report its item and any known verdict."""
        fingerprint = sim.fingerprint(str(record.get("text") or ""))
        item_id, _ = self.enqueue(record, result, fingerprint=fingerprint)
        extra: dict[str, Any] = {"review_id": item_id}
        with self.db.read() as s:
            item = s.get(ReviewItem, item_id)
            assert item is not None
            extra["review_status"] = item.status
            similar = views.verdict_ref(item, 1.0) if item.status == DECIDED else None
            if similar is None:
                similar = views.find_similar(s, fingerprint, self.similarity_threshold, exclude=item_id)
        if similar is not None:
            extra["similar"] = similar
        return extra

    # -- writes -------------------------------------------------------------------------------
    def enqueue(
        self,
        record: Mapping[str, Any],
        result: Mapping[str, Any],
        *,
        priority: int = 0,
        fingerprint: sim.Fingerprint | None = None,
    ) -> tuple[int, bool]:
        """Add a post (or find it: same `id` and text hash) and audit the model's decision.

        Args:
            record: the input record (`id` and `text` required).
            result: the model's result for it (DESIGN.md).
            priority: higher is served first.
            fingerprint: the text's `similarity.fingerprint`, when the caller has it already.

        Returns:
            (item id, whether it was created now).

        Raises:
            ValueError: `record` has no `id` or no `text`.
        """
        post_id, text = record.get("id"), record.get("text")
        if not post_id or not isinstance(text, str) or not text:
            raise ValueError("a review record needs a non-empty 'id' and 'text'")
        digest = text_sha256(text)
        fingerprint = fingerprint or sim.fingerprint(text)
        new = views.new_item(record, result, digest, self.thresholds, priority, self.clock())
        with self.db.write() as s:
            found = self._find(s, str(post_id), digest)
            if found is not None:
                if (found.model_version, found.model_decision) != (new.model_version, new.model_decision):
                    self._audit(
                        s, found, "model_decision", f"model:{new.model_version}", views.model_data(new)
                    )
                return found.id, False
            try:
                with s.begin_nested():  # a racing writer may insert the same post first (PostgreSQL)
                    s.add(new)
                    s.flush()
            except IntegrityError:
                found = self._find(s, str(post_id), digest)
                if found is None:
                    raise
                return found.id, False
            views.index_text(s, new.id, fingerprint)
            self._audit(s, new, "model_decision", f"model:{new.model_version}", views.model_data(new))
            return new.id, True

    def claim(self, item_id: int, moderator: str) -> dict[str, Any]:
        """Take (or renew) the lease on one item.

        Raises:
            ItemNotFound, NotClaimable (decided), SameModerator (decided an earlier round),
            ClaimConflict (someone else holds a live lease).
        """
        now = self.clock()
        with self.db.write() as s:
            item = self._get(s, item_id)
            if item.status != QUEUED:
                raise NotClaimable(f"item {item_id} is {item.status}; only queued items can be claimed")
            if moderator in item.excluded:
                raise SameModerator(f"item {item_id} needs a moderator who has not decided it before")
            if not self._try_claim(s, item, moderator, now):
                s.refresh(item)
                raise ClaimConflict(
                    f"item {item_id} is claimed by {item.claimed_by} until {item.lease_until}"
                )
            return views.item_dict(s, item, now)

    def claim_next(self, moderator: str, skip: Collection[int] = ()) -> dict[str, Any] | None:
        """Claim the next item for `moderator` (their live lease first, else by priority, then age).

        Args:
            moderator: who claims.
            skip: item ids not to offer (e.g. ones this moderator skipped a moment ago).

        Returns:
            The claimed item, or None when nothing is waiting for this moderator.
        """
        now = self.clock()
        with self.db.write() as s:
            held = s.scalars(
                select(ReviewItem)
                .where(
                    ReviewItem.status == QUEUED,
                    ReviewItem.claimed_by == moderator,
                    ReviewItem.lease_until >= now,
                )
                .limit(1)
            ).first()
            if held is not None:
                return views.item_dict(s, held, now)
            query = (
                select(ReviewItem)
                .where(
                    ReviewItem.status == QUEUED,
                    or_(ReviewItem.claimed_by.is_(None), ReviewItem.lease_until < now),
                )
                .order_by(ReviewItem.priority.desc(), ReviewItem.enqueued_at, ReviewItem.id)
            )
            offset = 0
            while True:
                page = s.scalars(query.offset(offset).limit(50)).all()
                if not page:
                    return None
                for item in page:
                    if item.id in skip or moderator in item.excluded:
                        continue
                    if self._try_claim(s, item, moderator, now):
                        return views.item_dict(s, item, now)
                offset += len(page)

    def release(self, item_id: int, moderator: str) -> None:
        """Give a claimed item back to the queue (skip).

        Raises:
            ItemNotFound; LeaseLost: `moderator` does not hold it.
        """
        now = self.clock()
        with self.db.write() as s:
            item = self._get(s, item_id)
            values = {"claimed_by": None, "lease_until": None, "updated_at": now}
            done = self._update_if_unchanged(s, item, values, ReviewItem.claimed_by == moderator)
            if not done:
                raise LeaseLost(f"item {item_id} is not claimed by {moderator}; nothing to release")
            self._audit(s, item, "release", moderator, {})

    def decide(
        self,
        item_id: int,
        moderator: str,
        action: str,
        labels: list[str] | None = None,
        subtype: str | None = None,
        note: str | None = None,
    ) -> Outcome:
        """Record `moderator`'s verdict on an item they hold.

        Args:
            action: `approve` (the post is fine; `labels` must be empty) or `reject` (a violation;
                `labels` names at least one of `LABELS`).
            subtype: optional sub-type code (F1-U7) of one of `labels` for `reject`, or a compliant
                kind (`C-...`) for `approve`; used by `review export`.
            note: free text, up to 2,000 characters.

        Returns:
            The outcome (`final`, `second_review`, `another_round`).

        Raises:
            InvalidVerdict, ItemNotFound, NotClaimable, SameModerator, LeaseLost (not claimed by
            `moderator`, or the lease expired: claim it again).
        """
        labels = check_verdict(action, labels, subtype, note)
        now = self.clock()
        with self.db.write() as s:
            item = self._get(s, item_id)
            rnd = item.round
            if item.status != QUEUED:
                raise NotClaimable(f"item {item_id} is already decided; appeal it to reopen it")
            if moderator in item.excluded:
                raise SameModerator(f"item {item_id} needs a moderator who has not decided it before")
            if item.claimed_by != moderator or item.lease_until is None or item.lease_until < now:
                raise LeaseLost(
                    f"item {item_id} is not claimed by {moderator} (or the lease lapsed); claim it"
                )
            previous = None
            if rnd > 1:  # the last verdict is the previous round's (an appeal restarts at round 1)
                last = select(Verdict).where(Verdict.item_id == item_id).order_by(Verdict.id.desc()).limit(1)
                previous = s.scalars(last).first()
            if previous is not None:
                agreed = (previous.action, sorted(previous.labels)) == (action, labels)
                outcome = "final" if agreed else "another_round"
            else:
                outcome = "second_review" if views.clears_block_label(item, labels) else "final"
            values: dict[str, Any] = dict(claimed_by=None, lease_until=None, updated_at=now)
            if outcome == "final":
                values.update(status=DECIDED, final_action=action, final_labels=labels, final_subtype=subtype)
                values.update(decided_at=now)
            else:
                values.update(round=rnd + 1, excluded=[*item.excluded, moderator])
                values.update(priority=max(item.priority, SECOND_ROUND_PRIORITY))
            if not self._update_if_unchanged(s, item, values, ReviewItem.claimed_by == moderator):
                raise LeaseLost(f"item {item_id} changed while deciding; claim it again")
            s.add(
                Verdict(
                    item_id=item_id,
                    round=rnd,
                    moderator=moderator,
                    action=action,
                    labels=labels,
                    subtype=subtype,
                    note=note,
                    outcome=outcome,
                    decided_at=now,
                )
            )
            data = dict(
                relabelled=action == "reject" and labels != sorted(item.model_labels),
                round=rnd,
                verdict=action,
                labels=labels,
                subtype=subtype,
                note=note,
                outcome=outcome,
                previous_verdict=previous.id if previous else None,
            )
            self._audit(s, item, "verdict", moderator, {**data, **views.model_data(item)})
            final = outcome == "final"
            return Outcome(item_id, outcome, DECIDED if final else QUEUED, rnd if final else rnd + 1)

    def appeal(self, item_id: int, appellant: str, reason: str = "") -> dict[str, Any]:
        """Reopen an item for an account owner's appeal: back to the queue, first in line.

        A decided item goes back to round 1 and can only be decided by moderators who have not
        decided it before; an item still queued just moves to the front.

        Raises:
            ItemNotFound.
        """
        now = self.clock()
        reason = (reason or "")[:MAX_NOTE_CHARS]
        with self.db.write() as s:
            item = self._get(s, item_id)
            values: dict[str, Any] = dict(
                priority=APPEAL_PRIORITY, appeals=ReviewItem.appeals + 1, updated_at=now
            )
            previous = {"status": item.status, "verdict": views.final_of(item)}
            if item.status == DECIDED:  # a fresh decision, by moderators who did not decide it before
                deciders = s.scalars(select(Verdict.moderator).where(Verdict.item_id == item_id)).all()
                values.update(status=QUEUED, round=1, excluded=sorted(set(deciders)), claimed_by=None)
                values.update(dict.fromkeys(("lease_until", "final_action", "final_labels", "final_subtype")))
                values.update(decided_at=None)
            stmt = update(ReviewItem).where(ReviewItem.id == item_id)
            s.execute(stmt.values(**values, revision=ReviewItem.revision + 1))
            self._audit(s, item, "appeal", appellant, {"reason": reason, "previous": previous})
            s.flush()
            s.refresh(item)
            return views.item_dict(s, item, now)

    def appeal_post(
        self, record: Mapping[str, Any], result: Mapping[str, Any], appellant: str, reason: str = ""
    ) -> dict[str, Any]:
        """Appeal a model decision on a post that was never queued (e.g. `block`): enqueue it, then appeal.

        Raises:
            ValueError: `record` lacks `id` or `text`.
        """
        item_id, _ = self.enqueue(record, result, priority=APPEAL_PRIORITY)
        return self.appeal(item_id, appellant, reason)

    # -- helpers ------------------------------------------------------------------------------
    def _try_claim(self, s: Session, item: ReviewItem, moderator: str, now: datetime) -> bool:
        # The one conditional UPDATE that decides a race: its row count says who won.
        free = or_(
            ReviewItem.claimed_by.is_(None), ReviewItem.lease_until < now, ReviewItem.claimed_by == moderator
        )
        values = {"claimed_by": moderator, "lease_until": now + self.lease, "updated_at": now}
        if not self._update_if_unchanged(s, item, values, ReviewItem.status == QUEUED, free):
            return False
        self._audit(s, item, "claim", moderator, {"lease_until": (now + self.lease).isoformat()})
        s.refresh(item)
        return True

    @staticmethod
    def _update_if_unchanged(s: Session, item: ReviewItem, values: dict[str, Any], *where: Any) -> bool:
        """UPDATE the item only if nobody changed it since it was read (same `revision`) and `where` holds."""
        conds = [ReviewItem.id == item.id, ReviewItem.revision == item.revision, *where]
        stmt = update(ReviewItem).where(*conds).values(**values, revision=ReviewItem.revision + 1)
        return s.execute(stmt.execution_options(synchronize_session=False)).rowcount == 1

    @staticmethod
    def _find(s: Session, post_id: str, digest: str) -> ReviewItem | None:
        return s.scalars(
            select(ReviewItem).where(ReviewItem.post_id == post_id, ReviewItem.text_sha256 == digest)
        ).first()

    def _audit(self, s: Session, item: ReviewItem, action: str, actor: str, data: dict[str, Any]) -> None:
        s.add(
            AuditEvent(
                item_id=item.id,
                at=self.clock(),
                actor=actor,
                action=action,
                input_sha256=item.text_sha256,
                model_version=item.model_version,
                data=data,
            )
        )
