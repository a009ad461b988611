"""Score systems on test, challenge and gold, and print one comparison table.

Metrics per system and split (sklearn): per-label precision/recall/F1 and macro-F1 at the
system's decision threshold (`flag` for the transformer), any-violation F1 (a post is a
violation if it has any label), the false-positive rate on hard negatives (compliant posts that
use violation vocabulary: share given any label), and recall on evaded and on long violating
items (share given at least one label).

This is the only module under `training/` that reads the gold set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support
from tokenizers import Tokenizer

from classifier.taxonomy import LABELS
from classifier.windows import special_id

from .finetune import targets_of
from .modeling import encode_windows, flatten, max_by_owner, pad_batch, sigmoid

log = logging.getLogger(__name__)

EVAL_SPLITS = ("test", "challenge", "gold")
REPO_ROOT = Path(__file__).resolve().parent.parent
GOLD_PATH = REPO_ROOT / "corpora" / "gold" / "gold.jsonl"

Predictor = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Split:
    """Texts, multi-hot targets and tags of one evaluation split."""

    name: str
    texts: list[str]
    targets: np.ndarray
    tags: list[list[str]]


def load_split(name: str, corpus_dir: str | Path = REPO_ROOT / "corpora") -> Split:
    """Load `test`, `challenge`, `dev`, `train` or `gold` (the gold file, read only here)."""
    from .data import load_corpus

    if name == "gold":
        ds = load_corpus(Path(corpus_dir) / "gold" / "gold.jsonl", corpus_dir, allow_gold=True)
    else:
        ds = load_corpus(name, corpus_dir)
    return Split(name, list(ds["text"]), targets_of(ds["labels"]), [list(t) for t in ds["tags"]])


def metrics(pred: np.ndarray, targets: np.ndarray, tags: Sequence[Sequence[str]]) -> dict[str, Any]:
    """All table metrics for 0/1 predictions `[n, L]` against `targets`."""
    p, r, f, support = precision_recall_fscore_support(targets, pred, average=None, zero_division=0)
    any_true, any_pred = targets.any(1), pred.any(1)

    def share(mask: np.ndarray) -> float | None:
        return round(float(any_pred[mask].mean()), 4) if mask.any() else None

    tag_sets = [set(t) for t in tags]
    hard = np.array(["hard_negative" in t and not any_true[i] for i, t in enumerate(tag_sets)], dtype=bool)
    evaded = np.array(["evaded" in t for t in tag_sets], dtype=bool) & any_true
    long_ = np.array(["long" in t for t in tag_sets], dtype=bool) & any_true
    return {
        "n": len(targets),
        "per_label": {
            label: {
                "precision": round(float(p[j]), 4),
                "recall": round(float(r[j]), 4),
                "f1": round(float(f[j]), 4),
                "support": int(support[j]),
            }
            for j, label in enumerate(LABELS)
        },  # fmt: skip
        "macro_f1": round(float(f1_score(targets, pred, average="macro", zero_division=0)), 4),
        "any_f1": round(float(f1_score(any_true, any_pred, zero_division=0)), 4),
        "hard_negative_fpr": share(hard),
        "evaded_recall": share(evaded),
        "long_recall": share(long_),
        "n_hard_negative": int(hard.sum()),
        "n_evaded": int(evaded.sum()),
        "n_long": int(long_.sum()),
    }


def onnx_scores(
    model_path: str | Path, tokenizer: Tokenizer, texts: Sequence[str], window: int, stride: int,
    threads: int = 2, batch_size: int = 1,
) -> np.ndarray:  # fmt: skip
    """Per-item probabilities from an ONNX model: sigmoid, max over windows (as `classifier` does).

    One window per call by default, as `classifier.core` scores: int8 dynamic quantisation
    scales activations per call, so a window's score would otherwise depend on its batch.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    items = [encode_windows(tokenizer, t, window, stride) for t in texts]
    flat, owners = flatten(items)
    pad_id = special_id(tokenizer, "[PAD]")
    order = sorted(range(len(flat)), key=lambda i: len(flat[i]))
    logits = np.zeros((len(flat), len(LABELS)), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = pad_batch([flat[i] for i in idx], pad_id)
        logits[idx] = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    return max_by_owner(sigmoid(logits), owners, len(texts))


def decisions(
    scores: np.ndarray, thresholds: Mapping[str, Mapping[str, float]], level: str = "flag"
) -> np.ndarray:
    """0/1 labels at each label's `level` threshold (`flag` gives a result's `labels`)."""
    cut = np.array([thresholds[label][level] for label in LABELS])
    return (scores >= cut).astype(np.float32)


def evaluate_systems(systems: Mapping[str, Predictor], splits: Sequence[Split]) -> dict[str, dict[str, Any]]:
    """`{system: {split: metrics}}` for every predictor on every split."""
    results: dict[str, dict[str, Any]] = {}
    for name, predict in systems.items():
        results[name] = {}
        for split in splits:
            results[name][split.name] = metrics(predict(split.texts), split.targets, split.tags)
            log.info("%s on %s: macro-F1 %.4f", name, split.name, results[name][split.name]["macro_f1"])
    return results


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def format_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The comparison as Markdown: a summary table and a per-label table, splits side by side."""
    splits = [s for s in EVAL_SPLITS if any(s in r for r in results.values())]
    cols = [("macro_f1", "macro-F1"), ("any_f1", "any-F1"), ("hard_negative_fpr", "HN FPR"),
            ("evaded_recall", "evaded R"), ("long_recall", "long R")]  # fmt: skip
    head = ["system"] + [f"{s} {c}" for s in splits for _, c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, by_split in results.items():
        row = [system] + [_fmt(by_split.get(s, {}).get(k)) for s in splits for k, _ in cols]
        lines.append("| " + " | ".join(row) + " |")
    head2 = ["system", "label"] + [f"{s} {m}" for s in splits for m in ("P", "R", "F1")]
    lines += ["", "| " + " | ".join(head2) + " |", "|" + "---|" * len(head2)]
    for system, by_split in results.items():
        for label in LABELS:
            cells = []
            for s in splits:
                pl = by_split.get(s, {}).get("per_label", {}).get(label, {})
                cells += [_fmt(pl.get("precision")), _fmt(pl.get("recall")), _fmt(pl.get("f1"))]
            lines.append("| " + " | ".join([system, label, *cells]) + " |")
    counts = {s: next((r[s] for r in results.values() if s in r), {}) for s in splits}
    lines += ["", "Items per split: " + "; ".join(
        f"{s} n={c.get('n')} (hard negatives {c.get('n_hard_negative')}, evaded {c.get('n_evaded')}, "
        f"long {c.get('n_long')})" for s, c in counts.items())]  # fmt: skip
    return "\n".join(lines) + "\n"
