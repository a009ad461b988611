"""Export a fine-tuned classifier to ONNX, optimise and quantise it, and write the model bundle.

Steps (`export_bundle`): `torch.onnx.export` (TorchScript exporter, dynamic batch/sequence
axes) -> onnxruntime's transformer optimiser (fused attention, layer norm and GELU where the
graph allows) -> `quantize_dynamic` int8 -> a bundle folder as `classifier/bundle.py` defines.
`build_tiny_bundle` makes a real, verified bundle around a random tiny BERT for tests.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification

from classifier import bundle as B
from classifier.lexical import LexicalHead
from classifier.taxonomy import LABELS

from .modeling import MODEL_SIZES, make_config, new_classifier, normalizer_version

log = logging.getLogger(__name__)

OPSET = 17
REPO_ROOT = Path(__file__).resolve().parent.parent
LEXICON_PATH = REPO_ROOT / "corpora" / "lexicon" / "redflags.txt"

# Used only when corpora/lexicon/redflags.txt is absent (tests on a bare checkout).
BUILTIN_LEXICON = """\
稳赚不赔 10 M1
保本保息 10 M1
零风险 10 M1
月入过万 8 M2
年化收益 5 M2
内部消息 8 U1
带单 8 U1
荐股 8 U1
代客理财 8 U2
无抵押贷款 8 U3
下款快 8 F5
征信修复 10 F6
刷单返利 10 F4
拉人头 10 F1
高息理财 8 F1
虚拟货币 5 U4
投资有风险 10 DISCLOSURE
理财非存款 10 DISCLOSURE
不保本 10 NEGATION
警惕 8 NEGATION
"""


class _LogitsOnly(torch.nn.Module):
    """Expose `logits` as the single ONNX output."""

    def __init__(self, model: BertForSequenceClassification) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_fp32(model: BertForSequenceClassification, path: str | Path) -> Path:
    """Export `model` to fp32 ONNX: inputs input_ids/attention_mask, output logits."""
    path = Path(path)
    model = model.eval()
    # The eager attention graph is the one onnxruntime's optimiser knows how to fuse.
    previous = model.config._attn_implementation
    model.config._attn_implementation = "eager"
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "seq"}
    try:
        with torch.no_grad():
            torch.onnx.export(
                _LogitsOnly(model), (ids, mask), str(path),
                input_names=["input_ids", "attention_mask"], output_names=["logits"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )  # fmt: skip
    finally:
        model.config._attn_implementation = previous
    return path


def optimize_onnx(src: str | Path, dst: str | Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Run onnxruntime's BERT optimiser; returns the fused-operator counts it reports."""
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(
        str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1
    )
    opt.save_model_to_file(str(dst))
    stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    log.info("optimiser fused operators: %s", stats)
    return stats


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantisation of every MatMul/Gemm weight."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference, so
    # the quantiser is told their outputs are float.
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )  # fmt: skip
    return Path(dst)


def onnx_pipeline(model: BertForSequenceClassification, work_dir: str | Path) -> dict[str, Any]:
    """fp32 export -> optimise -> int8; returns paths (`fp32`, `optimized`, `int8`) and fusion stats."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    fp32 = export_fp32(model, work / "model.fp32.onnx")
    cfg = model.config
    optimized = work / "model.opt.onnx"
    fusions = optimize_onnx(fp32, optimized, cfg.num_attention_heads, cfg.hidden_size)
    int8 = quantize_int8(optimized, work / "model.int8.onnx")
    return {"fp32": fp32, "optimized": optimized, "int8": int8, "fusions": fusions}


def library_versions() -> dict[str, str]:
    """Versions of the libraries that made a bundle (`created_with`)."""
    import importlib.metadata as md

    out = {}
    for name in ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "promoguard"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def write_bundle(
    out_dir: str | Path,
    *,
    onnx_model: str | Path,
    tokenizer: Tokenizer,
    thresholds: Mapping[str, Mapping[str, float]],
    window: int,
    stride: int,
    model_config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    corpus_hash: str,
    card: str,
    version: str | None = None,
    lexicon: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
    lexical: LexicalHead | None = None,
) -> Path:
    """Write a complete bundle folder (replacing its contents) and verify it loads.

    Args:
        out_dir: the bundle folder; created, and emptied first if it exists.
        onnx_model: the int8 ONNX file to ship as `model.onnx`.
        thresholds: `{label: {"warn", "flag", "block"}}` for every label in LABELS.
        model_config: the Hugging Face `BertConfig` dict.
        lexicon: a jieba user dictionary; defaults to corpora/lexicon/redflags.txt, else a
            small built-in list.
        extra: more manifest keys (training details).
        lexical: a lexical head to stack with the model (`lexical.npz`); fitted with the
            segmenter of the lexicon shipped here.

    Returns:
        The bundle folder.

    Raises:
        classifier.bundle.BundleError: the written bundle does not verify.
    """
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copyfile(onnx_model, out / B.MODEL_FILE)
    tokenizer.save(str(out / B.TOKENIZER_FILE))
    lex = Path(lexicon) if lexicon else LEXICON_PATH
    if lex.is_file():
        shutil.copyfile(lex, out / B.LEXICON_FILE)
    else:
        log.warning("lexicon %s not found; shipping the built-in red-flag list", lex)
        (out / B.LEXICON_FILE).write_text(BUILTIN_LEXICON, encoding="utf-8")
    if lexical is not None:
        lexical.save(out / B.LEXICAL_FILE)
    manifest = {
        "format": B.BUNDLE_FORMAT,
        "version": version or datetime.now(timezone.utc).strftime("%Y.%m.%d-%H%M%S"),
        "labels": list(LABELS),
        "thresholds": {label: dict(thresholds[label]) for label in LABELS},
        "window": int(window),
        "stride": int(stride),
        "normalizer_version": normalizer_version(),
        "corpus_hash": corpus_hash,
        "metrics": dict(metrics),
        "created_with": library_versions(),
        "model_config": dict(model_config),
        "scoring": "transformer + lexical head" if lexical is not None else "transformer",
        **(dict(extra) if extra else {}),
    }
    (out / B.MANIFEST_FILE).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    (out / B.CARD_FILE).write_text(card, encoding="utf-8")
    B.write_checksums(out)
    B.load_bundle(out)
    return out


def config_dict(model: BertForSequenceClassification) -> dict[str, Any]:
    """The model's `BertConfig` as a JSON-safe dict (id2label keys as strings)."""
    return json.loads(model.config.to_json_string(use_diff=False))


def build_tiny_bundle(out_dir: str | Path, seed: int = 0) -> Path:
    """A real, verified bundle holding a tiny BERT (hidden 32, 1 layer), for tests.

    The tokenizer is the real one (jieba characters, Latin pieces, emoji), so any Chinese text
    tokenises. The model is randomly initialised and then fit for a few seconds on toy sentences
    (`training.toydata`), so scores depend on the text; deterministic for a given `seed`.

    Returns:
        The bundle folder.
    """
    from .tokenizer import build_tokenizer
    from .toydata import fit_toy

    tokenizer = build_tokenizer(latin_vocab=200)
    model = new_classifier(make_config(tokenizer, MODEL_SIZES["tiny"], max_positions=128), seed=seed)
    # A freshly initialised BERT scores every text ~0.5; a few seconds on toy sentences make
    # the scores depend on the text, so consumers' tests see different decisions.
    fit_toy(model, tokenizer, steps=200, seed=seed)
    thresholds = {label: {"warn": 0.3, "flag": 0.5, "block": 0.8} for label in LABELS}
    with tempfile.TemporaryDirectory() as tmp:
        paths = onnx_pipeline(model, tmp)
        return write_bundle(
            out_dir, onnx_model=paths["int8"], tokenizer=tokenizer, thresholds=thresholds,
            window=64, stride=48, model_config=config_dict(model), metrics={},
            corpus_hash="tiny-test-bundle", version=f"tiny-{seed}",
            card="# Tiny test bundle\n\nA 1-layer BERT (hidden 32) fit on toy sentences, for tests. "
            "Not a classifier.\n",
        )  # fmt: skip


def export_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    corpus_dir: str | Path = "corpora",
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    window: int = 320,
    stride: int = 240,
    version: str | None = None,
) -> Path:
    """Bundle a fine-tuned checkpoint: ONNX -> optimise -> int8, thresholds given or calibrated on dev.

    Args:
        checkpoint: a `BertForSequenceClassification` folder with `tokenizer.json` (or vocab.txt).
        out_dir: the bundle folder.
        thresholds: `{label: {warn, flag, block}}`; None calibrates on the corpus' dev split
            with the int8 model's scores.

    Returns:
        The bundle folder.

    Raises:
        FileNotFoundError: no tokenizer in the checkpoint, or no dev split to calibrate on.
    """
    from .calibrate import calibrate
    from .evaluate import load_split, onnx_scores
    from .tokenizer import load_tokenizer_from_checkpoint

    tokenizer = load_tokenizer_from_checkpoint(checkpoint)
    model = BertForSequenceClassification.from_pretrained(str(checkpoint)).eval()
    window = min(window, model.config.max_position_embeddings)
    stride = min(stride, window - 2)
    metrics: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = onnx_pipeline(model, tmp)
        if thresholds is None:
            dev = load_split("dev", corpus_dir)
            scores = onnx_scores(paths["int8"], tokenizer, dev.texts, window, stride)
            thresholds, metrics["calibration_dev"] = calibrate(scores, dev.targets)
        try:
            from .data import corpus_hash

            digest = corpus_hash(corpus_dir)
        except FileNotFoundError:
            digest = "unknown"
        card = (f"# Exported model\n\nExported from `{checkpoint}` with `promoguard export`; run "
                "`promoguard eval --bundle` on it for the comparison table.\n")  # fmt: skip
        return write_bundle(
            out_dir, onnx_model=paths["int8"], tokenizer=tokenizer, thresholds=thresholds, window=window,
            stride=stride, model_config=config_dict(model), metrics=metrics, corpus_hash=digest, card=card,
            version=version, lexicon=Path(corpus_dir) / "lexicon" / "redflags.txt",
        )  # fmt: skip
