"""The model: a compact BERT with a multi-label head, plus the text/window plumbing around it.

Training, evaluation and export all go through these helpers so that the text the model sees
in training is exactly the text it sees at inference: `classifier.normalize` first, then
`classifier.windows.make_windows`, and a label's score is its maximum over windows.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

from classifier.taxonomy import LABELS
from classifier.windows import make_windows, special_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSize:
    """Depth and width of a BERT encoder."""

    hidden: int
    layers: int
    heads: int
    intermediate: int


# Candidates timed against the latency budget (see training/latency.py); "small" ships.
MODEL_SIZES: dict[str, ModelSize] = {
    "tiny": ModelSize(32, 1, 2, 64),
    "mini": ModelSize(128, 2, 2, 512),
    "small": ModelSize(256, 4, 4, 1024),
    "medium": ModelSize(384, 4, 6, 1536),
    "base4": ModelSize(512, 4, 8, 2048),
    "deep": ModelSize(256, 6, 4, 1024),
    "s2": ModelSize(256, 2, 4, 1024),
    "s3": ModelSize(256, 3, 4, 1024),
    "m3": ModelSize(192, 3, 3, 768),
    "w2": ModelSize(384, 2, 6, 1536),
}


def normalizer_version() -> str:
    """`classifier.normalize.NORMALIZER_VERSION`, or "nfkc-0" while that module is absent."""
    try:
        from classifier.normalize import NORMALIZER_VERSION
    except ImportError:
        return "nfkc-0"
    return str(NORMALIZER_VERSION)


def model_text(text: str) -> str:
    """The text the model sees: `classifier.normalize.normalize(text).text` (NFKC as fallback)."""
    try:
        from classifier.normalize import normalize
    except ImportError:
        return unicodedata.normalize("NFKC", text)
    return normalize(text).text


def make_config(tokenizer: Tokenizer, size: ModelSize | str, max_positions: int = 512) -> BertConfig:
    """A `BertConfig` for `tokenizer`'s vocabulary at `size` (a ModelSize or a MODEL_SIZES key)."""
    if isinstance(size, str):
        if size not in MODEL_SIZES:
            raise ValueError(f"unknown model size {size!r}; choose one of {sorted(MODEL_SIZES)}")
        size = MODEL_SIZES[size]
    return BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.intermediate,
        max_position_embeddings=max_positions,
        type_vocab_size=2,
        pad_token_id=special_id(tokenizer, "[PAD]"),
        num_labels=len(LABELS),
        problem_type="multi_label_classification",
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )


def new_classifier(config: BertConfig, seed: int = 0) -> BertForSequenceClassification:
    """A randomly initialised classifier (seeded)."""
    torch.manual_seed(seed)
    return BertForSequenceClassification(config).eval()


def new_mlm(config: BertConfig, seed: int = 0) -> BertForMaskedLM:
    """A randomly initialised masked-language model (seeded)."""
    torch.manual_seed(seed)
    return BertForMaskedLM(config)


def encode_windows(tokenizer: Tokenizer, text: str, window: int, stride: int) -> list[list[int]]:
    """Model-ready windows (ids) of one raw post, normalised first."""
    return [w.input_ids for w in make_windows(tokenizer, model_text(text), window, stride)]


def pad_batch(windows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id lists into int64 `input_ids` and `attention_mask` arrays."""
    width = max(len(w) for w in windows)
    ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w)] = w
        mask[i, : len(w)] = 1
    return ids, mask


def train_step(
    model: torch.nn.Module,
    loss: torch.Tensor,
    optim: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    max_grad_norm: float = 1.0,
) -> float:
    """One optimiser update: backward, clip gradients, step optimiser and schedule.

    Args:
        model: The model whose parameters `optim` updates.
        loss: The scalar loss of the current batch.
        optim: The optimiser.
        sched: The learning-rate schedule, stepped once per update.
        max_grad_norm: Gradient-norm clipping threshold.

    Returns:
        The loss value as a float.
    """
    optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optim.step()
    sched.step()
    return loss.item()


def flatten(items: Sequence[Sequence[list[int]]]) -> tuple[list[list[int]], np.ndarray]:
    """Flatten per-item window lists; returns the windows and each window's item index."""
    owners = np.array([i for i, ws in enumerate(items) for _ in ws], dtype=np.int64)
    return [w for ws in items for w in ws], owners


def max_by_owner(window_scores: np.ndarray, owners: np.ndarray, n_items: int) -> np.ndarray:
    """Per-item maximum of per-window scores (`[n_windows, L]` -> `[n_items, L]`)."""
    out = np.full((n_items, window_scores.shape[1]), -np.inf, dtype=np.float32)
    np.maximum.at(out, owners, window_scores)
    return out


@torch.no_grad()
def torch_logits(
    model: BertForSequenceClassification,
    windows: Sequence[Sequence[int]],
    pad_id: int,
    batch_size: int = 64,
) -> np.ndarray:
    """Per-window logits from a PyTorch classifier (eval mode), batched by similar length."""
    model.eval()
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    out = np.zeros((len(windows), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = pad_batch([windows[i] for i in idx], pad_id)
        logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
        out[idx] = logits.float().numpy()
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def torch_scores(
    model: BertForSequenceClassification,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    window: int,
    stride: int,
) -> np.ndarray:
    """Per-item label probabilities `[n, L]`: max over windows of sigmoid(logits)."""
    items = [encode_windows(tokenizer, t, window, stride) for t in texts]
    flat, owners = flatten(items)
    logits = torch_logits(model, flat, special_id(tokenizer, "[PAD]"))
    return max_by_owner(sigmoid(logits), owners, len(texts))
