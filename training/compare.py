"""`promoguard eval`: the shipped model against the baselines, on test, challenge and gold.

Systems, each scored at its own decision threshold:
1. keyword baseline from the bundle's lexicon;
2. TF-IDF + logistic regression, fit on train, threshold tuned on dev;
3. the transformer fine-tuned from scratch (no pre-training; same size, data and steps), as int8
   ONNX, when a training run folder has it;
4. the pre-trained + fine-tuned transformer in PyTorch (from the run folder) and as the bundle's
   int8 ONNX model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from classifier import bundle as B

from . import evaluate as ev

log = logging.getLogger(__name__)

SCRATCH_THRESHOLDS = "thresholds.json"


def _torch_predictor(model_dir: Path, tok: Tokenizer, window: int, stride: int, thresholds) -> ev.Predictor:
    import torch
    from transformers import BertForSequenceClassification

    from .modeling import torch_scores

    torch.set_num_threads(2)
    model = BertForSequenceClassification.from_pretrained(model_dir).eval()
    return lambda texts: ev.decisions(torch_scores(model, tok, texts, window, stride), thresholds)


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
        if (run / "finetune" / "model").is_dir():
            systems["transformer (PyTorch)"] = _torch_predictor(
                run / "finetune" / "model", tok, window, stride,
                                                                 thresholds)  # fmt: skip
    model_path = bundle.file(B.MODEL_FILE)
    systems["transformer (int8 ONNX, shipped)"] = lambda texts: ev.decisions(
        ev.onnx_scores(model_path, tok, texts, window, stride), thresholds
    )
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
