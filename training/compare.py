"""`promoguard eval`: the shipped model against the baselines, on test, challenge and gold.

Systems, each scored at its own decision threshold:
1. keyword baseline from the bundle's lexicon;
2. TF-IDF + logistic regression, fit on train, threshold tuned on dev;
3. the transformer fine-tuned from scratch (no pre-training; same size, data and steps), as int8
   ONNX, when a training run folder has it;
4. the pre-trained + fine-tuned transformer in PyTorch (from the run folder) and as the bundle's
   int8 ONNX model (`SHIPPED`, scored as `classifier` scores it).

When the bundle has a lexical head (`lexical.npz`), the shipped system and the PyTorch row are the
transformer stacked with that head, and one more row, "transformer alone (int8 ONNX)", shows the
transformer without it (its thresholds calibrated on dev like the shipped ones).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from classifier import bundle as B

from . import evaluate as ev

log = logging.getLogger(__name__)

SCRATCH_THRESHOLDS = "thresholds.json"
SHIPPED = "shipped (int8 ONNX)"
ALONE = "transformer alone (int8 ONNX)"


Stacker = Callable[[Sequence[str], np.ndarray], np.ndarray]


def _torch_predictor(model_dir: Path, tok: Tokenizer, window: int, stride: int, thresholds,
                     stack: Stacker) -> ev.Predictor:  # fmt: skip
    import torch
    from transformers import BertForSequenceClassification

    from .modeling import torch_scores

    torch.set_num_threads(2)
    model = BertForSequenceClassification.from_pretrained(model_dir).eval()
    scores = lambda texts: stack(texts, torch_scores(model, tok, texts, window, stride))  # noqa: E731
    return lambda texts: ev.decisions(scores(texts), thresholds)


def _stacker(bundle: B.Bundle) -> Stacker | None:
    """Scores -> stacked scores with the bundle's lexical head (None without one)."""
    if not bundle.file(B.LEXICAL_FILE).is_file():
        return None
    from classifier.lexical import LexicalHead

    from .lexical import lexical_logits, segmenter_for

    head = LexicalHead.load(bundle.file(B.LEXICAL_FILE), len(bundle.labels))
    segmenter = segmenter_for(bundle.file(B.LEXICON_FILE))
    return lambda texts, scores: head.combine(scores, lexical_logits(head, texts, segmenter))


def build_systems(
    bundle_dir: str | Path | None,
    run_dir: str | Path | None = None,
    corpus_dir: str | Path = "corpora",
    seed: int = 0,
) -> dict[str, ev.Predictor]:
    """Predictors for every system that can be built from the bundle and (optionally) a run folder.

    Raises:
        classifier.bundle.BundleError: the bundle does not verify.
    """
    bundle = B.load_bundle(bundle_dir)
    tok = Tokenizer.from_file(str(bundle.file(B.TOKENIZER_FILE)))
    thresholds = {k: v.as_dict() for k, v in bundle.thresholds.items()}
    window, stride = bundle.window, bundle.stride
    systems: dict[str, ev.Predictor] = {}
    lexicon = bundle.file(B.LEXICON_FILE)
    from .baselines import KeywordBaseline, TfidfBaseline

    systems["keyword (lexicon)"] = KeywordBaseline(lexicon).predict
    train, dev = ev.load_split("train", corpus_dir), ev.load_split("dev", corpus_dir)
    tfidf = TfidfBaseline(lexicon, seed=seed).fit(train.texts, train.targets)
    tfidf.tune(dev.texts, dev.targets)
    systems["TF-IDF + LR"] = tfidf.predict
    stacker = _stacker(bundle)
    stack: Stacker = stacker or (lambda texts, scores: scores)
    model_path = bundle.file(B.MODEL_FILE)
    cache: dict[int, tuple[Sequence[str], np.ndarray]] = {}

    def shipped_model(texts: Sequence[str]) -> np.ndarray:
        """The bundle's int8 transformer scores, computed once per split (two rows use them)."""
        if id(texts) not in cache:
            cache[id(texts)] = (texts, ev.onnx_scores(model_path, tok, texts, window, stride))
        return cache[id(texts)][1]

    if run_dir is not None:
        run = Path(run_dir)
        scratch = run / "scratch"
        scratch_onnx = scratch / "onnx" / "model.int8.onnx"
        if scratch_onnx.is_file() and (scratch / SCRATCH_THRESHOLDS).is_file():
            t = json.loads((scratch / SCRATCH_THRESHOLDS).read_text(encoding="utf-8"))
            # Scored as int8 ONNX, like the shipped model, so the two differ only in pre-training.
            systems["transformer, no pre-training (int8 ONNX)"] = lambda texts: ev.decisions(
                ev.onnx_scores(scratch_onnx, tok, texts, window, stride), t
            )
    if stacker is not None:
        from .calibrate import calibrate

        alone, _ = calibrate(shipped_model(dev.texts), dev.targets)
        systems[ALONE] = lambda texts: ev.decisions(shipped_model(texts), alone)
    if run_dir is not None and (Path(run_dir) / "finetune" / "model").is_dir():
        name = "transformer + lexical head (PyTorch)" if stacker else "transformer (PyTorch)"
        checkpoint = Path(run_dir) / "finetune" / "model"
        systems[name] = _torch_predictor(checkpoint, tok, window, stride, thresholds, stack)
    systems[SHIPPED] = lambda texts: ev.decisions(stack(texts, shipped_model(texts)), thresholds)
    return systems


def compare(
    bundle_dir: str | Path | None,
    run_dir: str | Path | None = None,
    corpus_dir: str | Path = "corpora",
    splits: Sequence[str] = ev.EVAL_SPLITS,
    seed: int = 0,
) -> tuple[dict[str, Any], str]:
    """Evaluate every available system on `splits`; returns (results, Markdown table)."""
    systems = build_systems(bundle_dir, run_dir, corpus_dir, seed)
    data = [ev.load_split(s, corpus_dir) for s in splits]
    results = ev.evaluate_systems(systems, data)
    return results, ev.format_table(results)
