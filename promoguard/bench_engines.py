"""The engines `promoguard bench` compares: the same model in PyTorch, and a bert-base pipeline.

Needs the training extras (torch, transformers); imported only when those engines are measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENGINES = ("onnx-int8", "torch-eager")
BASELINE = "bert-base-pipeline"
BASE_VOCAB = 21128  # bert-base-chinese


class TorchSession:
    """An onnxruntime-like `run()` over a PyTorch model, so `Classifier` can score with it."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def run(self, output_names: Sequence[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.model(
                input_ids=torch.from_numpy(feeds["input_ids"]),
                attention_mask=torch.from_numpy(feeds["attention_mask"]),
            )
        return [out.logits.float().numpy()]


def torch_model(model_config: dict[str, Any], weights: Path | None = None) -> Any:
    """The bundle's architecture in PyTorch eager mode; trained weights from `weights` if given.

    Args:
        model_config: the `model_config` dict of bundle.json (a Hugging Face `BertConfig`).
        weights: a local Hugging Face model folder, or a `state_dict` file (.pt/.bin/.safetensors).

    Raises:
        ValueError: the weights do not fit the architecture.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    if weights is not None and weights.is_dir():
        model = BertForSequenceClassification.from_pretrained(weights, local_files_only=True)
    else:
        torch.manual_seed(0)
        model = BertForSequenceClassification(BertConfig(**model_config))
        if weights is not None:
            if weights.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(weights))
            else:
                state = torch.load(weights, map_location="cpu", weights_only=True)
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing:
                raise ValueError(f"{weights} lacks weights for {missing[:5]}...; is it this bundle's model?")
    return model.eval()


def load_engine(engine: str, bundle: Path | None, weights: Path | None = None) -> Any:
    """A `Classifier` scoring with `engine` (`onnx-int8` or `torch-eager`)."""
    from classifier import BundleError, Classifier

    clf = Classifier.load(bundle)
    if engine == "torch-eager":
        config = clf.bundle.manifest.get("model_config")
        if not config:
            raise BundleError(
                f"bundle {clf.bundle.path}: bundle.json has no model_config to rebuild the model from"
            )
        clf.session = TorchSession(torch_model(config, weights))
    elif engine != "onnx-int8":
        raise ValueError(f"unknown engine {engine!r}; use one of {ENGINES}")
    return clf


def baseline_pipeline(tokenizer_file: Path) -> Callable[[str], Any]:
    """A bert-base-chinese-size classifier behind a Hugging Face text-classification pipeline.

    Random weights, built locally (nothing is downloaded); the tokenizer is the bundle's, which
    costs the same per character as bert-base-chinese's (one token per CJK character).
    """
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast, pipeline

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=BASE_VOCAB, num_labels=3)).eval()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_file(str(tokenizer_file)),
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    return lambda text: pipe(text, truncation=True, top_k=None)
