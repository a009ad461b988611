"""Read side of the review queue: item views, listing, stats, audit trail, similar-text lookup and
the export of verdicts as corpus lines. `serving.queue` writes; this module reads and shapes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from classifier.taxonomy import LABELS, SUBTYPES
from serving import similarity as sim
from serving.db import Database
from serving.models import DECIDED, QUEUED, AuditEvent, ReviewItem, SimilarityBand, Verdict

PREVIEW_CHARS = 160


def model_subtype(result: Mapping[str, Any]) -> str | None:
    """The sub-type code the evidence gives for the result's highest-scoring flagged label."""
    labels = list(result.get("labels") or [])
    scores = result.get("scores") or {}
    ranked = sorted(labels, key=lambda x: -float(scores.get(x, 0.0)))
    codes = [(ev.get("label"), ev.get("subtype")) for ev in result.get("evidence") or [] if ev.get("subtype")]
    for label in ranked:
        for ev_label, code in codes:
            if ev_label == label and code in SUBTYPES:
                return code
    return None


def new_item(
    record: Mapping[str, Any],
    result: Mapping[str, Any],
    digest: str,
    thresholds: Mapping[str, Any] | None,
    priority: int,
    now: datetime,
) -> ReviewItem:
    """An unsaved `ReviewItem` for a record and the model's result."""
    labels = sorted(str(x) for x in result.get("labels") or [])
    account = record.get("account")
    return ReviewItem(
        post_id=str(record["id"]),
        text_sha256=digest,
        text=record["text"],
        title=record.get("title"),
        account=dict(account) if isinstance(account, Mapping) else None,
        model_version=str(result.get("model_version") or "unknown"),
        model_decision=str(result.get("decision") or "review"),
        model_labels=labels,
        model_labels_key="," + ",".join(labels) + ",",
        model_subtype=model_subtype(result),
        scores={k: float(v) for k, v in (result.get("scores") or {}).items()},
        evidence=[dict(ev) for ev in result.get("evidence") or []],
        thresholds=dict(result.get("thresholds") or thresholds or {}) or None,
        status=QUEUED,
        priority=priority,
        round=1,
        revision=0,
        excluded=[],
        enqueued_at=now,
        updated_at=now,
        appeals=0,
    )


def model_data(item: ReviewItem) -> dict[str, Any]:
    """The model's decision as the audit log records it (enough to replay it)."""
    return {
        "model": {
            "version": item.model_version,
            "decision": item.model_decision,
            "labels": item.model_labels,
            "subtype": item.model_subtype,
            "scores": item.scores,
            "evidence": item.evidence,
            "thresholds": item.thresholds,
        },
        "post": {
            "id": item.post_id,
            "sha256": item.text_sha256,
            "chars": len(item.text),
            "account": item.account,
        },
    }


def clears_block_label(item: ReviewItem, verdict_labels: list[str]) -> bool:
    """True when the verdict drops a label the model scored at or above its `block` threshold."""
    if item.thresholds:
        return any(
            label not in verdict_labels and score >= float(item.thresholds[label]["block"])
            for label, score in item.scores.items()
            if label in item.thresholds and "block" in item.thresholds[label]
        )
    # Thresholds unknown: the model's own decision tells whether something reached `block`.
    return item.model_decision == "block" and not verdict_labels


def final_of(item: ReviewItem) -> dict[str, Any] | None:
    if item.status != DECIDED:
        return None
    return {
        "action": item.final_action,
        "labels": item.final_labels,
        "subtype": item.final_subtype,
        "decided_at": _iso(item.decided_at),
    }


def verdict_ref(item: ReviewItem, similarity: float) -> dict[str, Any]:
    """The `similar` field of a result: a decided item's verdict and a link to it."""
    return {
        "item_id": item.id,
        "post_id": item.post_id,
        "verdict": item.final_action,
        "labels": item.final_labels or [],
        "subtype": item.final_subtype,
        "similarity": round(similarity, 4),
        "decided_at": _iso(item.decided_at),
        "link": f"/v1/review/items/{item.id}",
    }


def index_text(s: Session, item_id: int, fp: sim.Fingerprint) -> None:
    """Store the MinHash band keys of an item's text (one multi-row INSERT)."""
    if fp.indexable:
        rows = [{"item_id": item_id, "band": band, "key": key} for band, key in fp.keys]
        s.execute(insert(SimilarityBand), rows)


def find_similar(
    s: Session,
    text: str | sim.Fingerprint,
    threshold: float,
    *,
    exclude: int | None = None,
    max_candidates: int = 10,
) -> dict[str, Any] | None:
    """The decided item most similar to `text` at Jaccard >= `threshold`, as `verdict_ref`, or None.

    Candidates share at least one band key; the `max_candidates` sharing the most bands (the
    best MinHash estimates) are checked with the exact Jaccard similarity.
    """
    fp = text if isinstance(text, sim.Fingerprint) else sim.fingerprint(text)
    if not fp.indexable:
        return None
    match = or_(*(and_(SimilarityBand.band == b, SimilarityBand.key == k) for b, k in fp.keys))
    hits = func.count().label("hits")
    query = (
        select(ReviewItem, hits)
        .join(SimilarityBand, SimilarityBand.item_id == ReviewItem.id)
        .where(match, ReviewItem.status == DECIDED)
        .group_by(ReviewItem.id)
        .order_by(hits.desc(), ReviewItem.decided_at.desc())
        .limit(max_candidates)
    )
    if exclude is not None:
        query = query.where(ReviewItem.id != exclude)
    best: tuple[float, ReviewItem] | None = None
    for item, _ in s.execute(query):
        score = sim.jaccard(set(fp.shingles), sim.shingles(item.text))
        if score >= threshold and (best is None or score > best[0]):
            best = (score, item)
    return verdict_ref(best[1], best[0]) if best else None


def item_dict(s: Session, item: ReviewItem, now: datetime, *, detail: bool = True) -> dict[str, Any]:
    """An item as the API returns it; `detail` adds the full text, evidence and verdict history."""
    out: dict[str, Any] = {
        "id": item.id,
        "post_id": item.post_id,
        "text_sha256": item.text_sha256,
        "title": item.title,
        "status": item.status,
        "priority": item.priority,
        "round": item.round,
        "appeals": item.appeals,
        "claimed_by": item.claimed_by if _live(item, now) else None,
        "lease_until": _iso(item.lease_until) if _live(item, now) else None,
        "enqueued_at": _iso(item.enqueued_at),
        "age_seconds": round((now - item.enqueued_at).total_seconds(), 3),
        "model": {
            "version": item.model_version,
            "decision": item.model_decision,
            "labels": item.model_labels,
            "subtype": item.model_subtype,
            "scores": item.scores,
        },
        "final": final_of(item),
        "excluded_moderators": item.excluded,
    }
    if detail:
        out["text"] = item.text
        out["account"] = item.account
        out["model"]["evidence"] = item.evidence
        out["model"]["thresholds"] = item.thresholds
        verdicts = s.scalars(select(Verdict).where(Verdict.item_id == item.id).order_by(Verdict.id)).all()
        out["verdicts"] = [
            {
                "round": v.round,
                "moderator": v.moderator,
                "action": v.action,
                "labels": v.labels,
                "subtype": v.subtype,
                "note": v.note,
                "outcome": v.outcome,
                "decided_at": _iso(v.decided_at),
            }
            for v in verdicts
        ]
    else:
        out["preview"] = item.text[:PREVIEW_CHARS]
    return out


def list_items(
    s: Session,
    now: datetime,
    *,
    status: str | None = None,
    label: str | None = None,
    decision: str | None = None,
    appealed: bool | None = None,
    claimed: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Items matching every given filter, in queue order (priority, then age), and the total count."""
    conds = []
    if status is not None:
        conds.append(ReviewItem.status == status)
    if label is not None:
        conds.append(ReviewItem.model_labels_key.like(f"%,{label},%"))
    if decision is not None:
        conds.append(ReviewItem.model_decision == decision)
    if appealed is not None:
        conds.append(ReviewItem.appeals > 0 if appealed else ReviewItem.appeals == 0)
    if claimed is not None:
        live = and_(ReviewItem.claimed_by.is_not(None), ReviewItem.lease_until >= now)
        conds.append(live if claimed else ~live)
    total = s.scalar(select(func.count()).select_from(ReviewItem).where(*conds)) or 0
    rows = s.scalars(
        select(ReviewItem)
        .where(*conds)
        .order_by(ReviewItem.status.desc(), ReviewItem.priority.desc(), ReviewItem.enqueued_at, ReviewItem.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [item_dict(s, r, now, detail=False) for r in rows], total


def stats(s: Session, now: datetime) -> dict[str, Any]:
    """Queue depth and age, throughput, and how often moderators agree with the model."""
    queued = ReviewItem.status == QUEUED
    depth = s.scalar(select(func.count()).where(queued)) or 0
    claimed = s.scalar(select(func.count()).where(queued, ReviewItem.lease_until >= now)) or 0
    oldest = s.scalar(select(func.min(ReviewItem.enqueued_at)).where(queued))
    by_round = dict(
        s.execute(select(ReviewItem.round, func.count()).where(queued).group_by(ReviewItem.round)).all()
    )
    appealed = s.scalar(select(func.count()).where(queued, ReviewItem.appeals > 0)) or 0
    decided = s.scalar(select(func.count()).where(ReviewItem.status == DECIDED)) or 0
    rows = s.execute(
        select(Verdict.action, Verdict.labels, ReviewItem.model_labels).join(
            ReviewItem, ReviewItem.id == Verdict.item_id
        )
    ).all()
    n = len(rows)
    same_decision = sum((action == "reject") == bool(model) for action, _, model in rows)
    same_labels = sum(sorted(labels) == sorted(model) for _, labels, model in rows)
    per_label = {}
    for label in LABELS:
        flagged = [labels for _, labels, model in rows if label in model]
        per_label[label] = {
            "flagged_by_model": len(flagged),
            "confirmed": sum(label in labels for labels in flagged),
            "added_by_moderators": sum(label in labels and label not in model for _, labels, model in rows),
        }
    return {
        "queue": {
            "depth": depth,
            "claimed": claimed,
            "unclaimed": depth - claimed,
            "appealed": appealed,
            "by_round": {str(k): v for k, v in sorted(by_round.items())},
            "oldest_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
        },
        "decided": decided,
        "agreement": {
            "verdicts": n,
            "decision": round(same_decision / n, 4) if n else None,
            "labels": round(same_labels / n, 4) if n else None,
            "per_label": per_label,
        },
    }


def audit_trail(s: Session, item_id: int) -> list[dict[str, Any]]:
    """Every audit event of an item, oldest first."""
    events = s.scalars(select(AuditEvent).where(AuditEvent.item_id == item_id).order_by(AuditEvent.id)).all()
    return [
        {
            "id": e.id,
            "at": _iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "input_sha256": e.input_sha256,
            "model_version": e.model_version,
            "data": e.data,
        }
        for e in events
    ]


def corpus_line(item: ReviewItem) -> dict[str, Any]:
    """A decided item as a corpus line (docs/internals.md). Sub-type: the moderator's, else the
    model's when it belongs to a confirmed label, else empty."""
    labels = sorted(item.final_labels or [])
    subtype = item.final_subtype
    if subtype is None and item.model_subtype in SUBTYPES and SUBTYPES[item.model_subtype].label in labels:
        subtype = item.model_subtype
    return {
        "id": f"review-{item.id}",
        "text": item.text,
        "labels": labels,
        "subtype": subtype or "",
        "family": "review",
        "tags": ["review"],
    }


def export_verdicts(db: Database, out: str | Path) -> int:
    """Write every decided item as a corpus line to `out` (atomically); one line per distinct text,
    the latest verdict winning.

    Returns:
        The number of lines written.

    Raises:
        OSError: `out` cannot be written.
    """
    out = Path(out)
    latest: dict[str, dict[str, Any]] = {}
    with db.read() as s:
        query = (
            select(ReviewItem)
            .where(ReviewItem.status == DECIDED)
            .order_by(ReviewItem.decided_at, ReviewItem.id)
        )
        for item in s.scalars(query.execution_options(yield_per=500)):
            latest.pop(item.text_sha256, None)  # re-insert so the file stays in decision order
            latest[item.text_sha256] = corpus_line(item)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in latest.values():
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(latest)


def _live(item: ReviewItem, now: datetime) -> bool:
    return item.claimed_by is not None and item.lease_until is not None and item.lease_until >= now


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
