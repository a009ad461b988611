"""Choose per-label warn / flag / block thresholds on the dev split (DESIGN.md's decision policy).

For each label, over the dev scores:

- `block`: the lowest threshold at which precision is at least `block_precision` (0.98) *and
  stays so for every higher threshold*, so the block band is not a lucky dip; if no threshold
  reaches it, `block` is set above every dev score (nothing is blocked without review).
- `flag`: the threshold with the best F1 (the `labels` a result reports), below `block`.
- `warn`: the highest threshold that still reaches `warn_recall` (0.98) recall, below `flag`;
  a warning is cheap, so it favours recall.

Thresholds are clipped into (0, 1] with a minimum gap so that warn < flag < block always holds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import precision_recall_curve

from classifier.taxonomy import LABELS

log = logging.getLogger(__name__)

MIN_GAP = 0.01
FLOOR = 0.01
CEILING = 0.999


def _label_thresholds(y: np.ndarray, s: np.ndarray, block_precision: float, warn_recall: float) -> dict:
    if y.sum() == 0 or y.sum() == len(y):
        log.warning("label has %s positives on dev; using default thresholds", int(y.sum()))
        return {"warn": 0.3, "flag": 0.5, "block": 0.9, "dev": {"positives": int(y.sum())}}
    precision, recall, thresholds = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # drop the (recall 0) end point
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    # Suffix minimum: precision at this threshold and every higher one.
    stable = np.minimum.accumulate(precision[::-1])[::-1]
    ok = np.flatnonzero(stable >= block_precision)
    block = float(thresholds[ok[0]]) if len(ok) else float(min(CEILING, s.max() + 1e-3))
    best = int(np.argmax(f1))
    flag = float(thresholds[best])
    reach = np.flatnonzero(recall >= warn_recall)
    warn = float(thresholds[reach[-1]]) if len(reach) else float(thresholds[0])

    block = float(np.clip(block, FLOOR + 2 * MIN_GAP, CEILING))
    flag = float(np.clip(min(flag, block - MIN_GAP), FLOOR + MIN_GAP, block - MIN_GAP))
    warn = float(np.clip(min(warn, flag - MIN_GAP), FLOOR, flag - MIN_GAP))
    pred_flag = s >= flag
    pred_block = s >= block
    return {
        "warn": round(warn, 4),
        "flag": round(flag, 4),
        "block": round(block, 4),
        "dev": {
            "positives": int(y.sum()),
            "flag_f1": round(float(f1[best]), 4),
            "flag_precision": round(float(y[pred_flag].mean()) if pred_flag.any() else 0.0, 4),
            "flag_recall": round(float(pred_flag[y == 1].mean()), 4),
            "block_precision": round(float(y[pred_block].mean()) if pred_block.any() else 1.0, 4),
            "block_recall": round(float(pred_block[y == 1].mean()), 4),
            "warn_recall": round(float((s >= warn)[y == 1].mean()), 4),
        },
    }


def calibrate(
    scores: np.ndarray,
    targets: np.ndarray,
    labels: Sequence[str] = LABELS,
    block_precision: float = 0.98,
    warn_recall: float = 0.98,
) -> tuple[dict[str, dict[str, float]], dict[str, dict]]:
    """Per-label thresholds from dev scores.

    Args:
        scores: `[n, L]` probabilities (max over windows).
        targets: `[n, L]` 0/1 truth.
        labels: label names, in column order.
        block_precision: the dev precision the block band must keep.
        warn_recall: the dev recall the warn band must reach.

    Returns:
        `({label: {warn, flag, block}}, {label: dev statistics at those thresholds})`.

    Raises:
        ValueError: shapes disagree.
    """
    if scores.shape != targets.shape or scores.shape[1] != len(labels):
        raise ValueError(f"scores {scores.shape} and targets {targets.shape} must both be [n, {len(labels)}]")
    thresholds, stats = {}, {}
    for j, label in enumerate(labels):
        t = _label_thresholds(targets[:, j].astype(int), scores[:, j], block_precision, warn_recall)
        stats[label] = t.pop("dev")
        thresholds[label] = t
        log.info("%s thresholds %s (dev %s)", label, t, stats[label])
    return thresholds, stats
