"""A handful of labelled sentences and a seconds-long fit, so tiny test models are not random.

Tests and `build_tiny_bundle` use this; the real model trains on the corpus (`finetune.py`).
"""

from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification

from classifier.taxonomy import LABELS
from classifier.windows import special_id

from .modeling import encode_windows, pad_batch

_VIOLATIONS = {
    "fraudulent": (
        "拉人头返佣，推荐一人奖励一千",
        "刷单返利，日结佣金",
        "先交保证金再放款",
        "征信修复，黑户可贷",
    ),
    "misleading": ("稳赚不赔，保本保息", "年化收益百分之三十，零风险", "绝对安全，银行级保障"),
    "unlicensed": ("加vx带单荐股，内部消息", "代客理财，代操盘", "无抵押私人放贷，当天下款"),
}
_COMPLIANT = (
    "今天天气很好，我们去公园散步",
    "这家面馆的牛肉面很好吃，推荐大家去尝尝",
    "理财非存款，投资有风险，入市需谨慎",
    "警惕高息理财骗局，不保本的产品不要轻信",
    "周末带孩子去博物馆看恐龙化石",
    "新手机续航不错，拍照清晰",
)


def toy_examples(seed: int = 0) -> list[tuple[str, list[float]]]:
    """(text, multi-hot label vector) pairs: violating phrases in neutral frames, and compliant text."""
    rng = random.Random(seed)
    frames = ("{}，名额有限", "朋友们，{}！", "{}，详情私聊", "最新消息：{}")
    items: list[tuple[str, list[float]]] = []
    for label, phrases in _VIOLATIONS.items():
        target = [1.0 if name == label else 0.0 for name in LABELS]
        items += [(frame.format(p), target) for p in phrases for frame in frames]
    items += [(t, [0.0] * len(LABELS)) for t in _COMPLIANT for _ in range(4)]
    rng.shuffle(items)
    return items


def fit_toy(
    model: BertForSequenceClassification,
    tokenizer: Tokenizer,
    steps: int = 100,
    seed: int = 0,
    lr: float = 1e-2,
) -> BertForSequenceClassification:
    """Train `model` on `toy_examples` for `steps` full-batch steps (a few seconds for a tiny model)."""
    torch.manual_seed(seed)
    examples = toy_examples(seed)
    windows = [encode_windows(tokenizer, text, 64, 48)[0] for text, _ in examples]
    ids, mask = pad_batch(windows, special_id(tokenizer, "[PAD]"))
    targets = torch.tensor([y for _, y in examples])
    optim = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return model.eval()
