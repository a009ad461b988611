"""A "phrase bundle": a real bundle whose ONNX model scores known characters, for exact tests.

The graph is `logits[b, label] = max over unmasked positions of W[input_ids[b, s], label]`:
an embedding lookup and a masked max, built with `onnx.helper`. Each character of `WEIGHTS`
gives fixed logits; every other token gives -6 (score 0.0025). So a post's scores are known in
advance, a trigger anywhere in any window is found, and padding must be masked to be ignored.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from classifier import bundle as B
from classifier.normalize import NORMALIZER_VERSION
from classifier.taxonomy import LABELS


def logit(p: float) -> float:
    return math.log(p / (1 - p))


# Character -> scores for (fraudulent, misleading, unlicensed). Thresholds: 0.3 / 0.5 / 0.8.
WEIGHTS: dict[str, tuple[float, float, float]] = {
    "骗": (0.95, 0.0025, 0.0025),  # fraudulent >= block
    "赚": (0.0025, 0.9, 0.0025),  # misleading >= block
    "荐": (0.0025, 0.0025, 0.6),  # unlicensed in [flag, block)
    "疑": (0.0025, 0.4, 0.0025),  # misleading in [warn, flag)
    "贷": (0.0025, 0.0025, 0.35),  # unlicensed in [warn, flag)
}
BACKGROUND = 0.0025
FILLER = "今天天气很好我们一起去公园散步看看花草树木"
VOCAB_CHARS = sorted(
    set(FILLER + "".join(WEIGHTS) + "稳不赔保本息群微信号加入理财高收益股票推荐的了是在有人这个")
)
LEXICON = """\
稳赚不赔 2000 M1
保本保息 2000 M1
保本 2000 M1
荐股 2000 U1
虚拟币交易 2000 U4
加微信 2000 F2
不保本 2000 NEGATION
警惕 2000 NEGATION
骗局 2000 NEGATION
投资有风险 2000 DISCLOSURE
"""


def _tokenizer(vocab: list[str]):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def _model(vocab: list[str], path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.full((len(vocab), len(LABELS)), logit(BACKGROUND), dtype=np.float32)
    for ch, probs in WEIGHTS.items():
        weights[vocab.index(ch)] = [logit(p) for p in probs]
    nodes = [
        helper.make_node("Gather", ["W", "input_ids"], ["emb"], axis=0),  # [b, s, L]
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),  # [b, s, 1]
        helper.make_node("Sub", ["mask3", "one"], ["off"]),  # 0 for tokens, -1 for padding
        helper.make_node("Mul", ["off", "big"], ["penalty"]),
        helper.make_node("Add", ["emb", "penalty"], ["masked"]),
        helper.make_node("ReduceMax", ["masked"], ["logits"], axes=[1], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "phrase_model",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        initializer=[
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
            numpy_helper.from_array(np.array(1e4, dtype=np.float32), "big"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build_phrase_bundle(out: Path, *, window: int = 16, stride: int = 10) -> Path:
    """Write a verified bundle around the phrase model (small windows, so long texts need many)."""
    out.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *VOCAB_CHARS]
    _model(vocab, out / B.MODEL_FILE)
    _tokenizer(vocab).save(str(out / B.TOKENIZER_FILE))
    (out / B.LEXICON_FILE).write_text(LEXICON, encoding="utf-8")
    (out / B.CARD_FILE).write_text("# Phrase test bundle\n", encoding="utf-8")
    manifest = {
        "format": B.BUNDLE_FORMAT,
        "version": "phrase-test",
        "labels": list(LABELS),
        "thresholds": {label: {"warn": 0.3, "flag": 0.5, "block": 0.8} for label in LABELS},
        "window": window,
        "stride": stride,
        "normalizer_version": NORMALIZER_VERSION,
        "corpus_hash": "none",
        "metrics": {},
        "created_with": {},
    }
    (out / B.MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    B.write_checksums(out)
    return out


@pytest.fixture(scope="session")
def phrase_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_phrase_bundle(tmp_path_factory.mktemp("phrase") / "bundle")


@pytest.fixture(scope="session")
def phrase_classifier(phrase_bundle: Path):
    from classifier import Classifier

    return Classifier.load(phrase_bundle, threads=1)
