"""Time candidate model sizes against the latency budget (int8 ONNX vs PyTorch eager, 2 threads).

`python -m training.latency --sizes mini small medium` exports each size with random weights
(latency does not depend on the weights), quantises it and times one post of `--chars`
characters, reporting p50/p90 in milliseconds for onnxruntime int8 and PyTorch eager.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from .modeling import MODEL_SIZES, make_config, new_classifier

log = logging.getLogger(__name__)


def _summary(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def _interleaved(fns: dict[str, Callable[[], object]], runs: int, warmup: int) -> dict[str, dict[str, float]]:
    """Time each function `runs` times, alternating between them so that load changes hit all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
    return {name: _summary(t) for name, t in times.items()}


def onnx_session(path: str | Path, threads: int = 2) -> Any:
    """An onnxruntime CPU session with `threads` intra-op threads and full graph optimisation."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def time_model(
    model: torch.nn.Module, onnx_path: str | Path, seq_len: int, runs: int = 200, threads: int = 2
) -> dict[str, Any]:
    """p50/p90 of one `[1, seq_len]` input through int8 ONNX and PyTorch eager, and the speed-up."""
    torch.set_num_threads(threads)
    ids = np.random.default_rng(0).integers(5, model.config.vocab_size, size=(1, seq_len), dtype=np.int64)
    mask = np.ones_like(ids)
    sess = onnx_session(onnx_path, threads)
    feeds = {"input_ids": ids, "attention_mask": mask}
    model.eval()
    t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)

    def torch_call() -> None:
        with torch.inference_mode():
            model(input_ids=t_ids, attention_mask=t_mask)

    timed = _interleaved({"onnx": lambda: sess.run(["logits"], feeds), "torch": torch_call}, runs, warmup=20)
    onnx_t, torch_t = timed["onnx"], timed["torch"]
    return {
        "seq_len": seq_len,
        "onnx_int8": onnx_t,
        "torch_eager": torch_t,
        "speedup_p50": round(torch_t["p50_ms"] / onnx_t["p50_ms"], 2),
    }


# A 300-character post (invented) for timing the served path; jieba's cost depends on real words.
POST = (
    "【理财小课堂】最近不少粉丝私信问我，手里有五万块闲钱放哪儿合适。先说结论：别信任何保本高收益的说法。"
    "银行理财非存款，产品有风险，投资须谨慎；货币基金流动性好但收益不高，国债适合稳健的长辈。"
    "我自己的做法是三分法：一份应急放活期，一份定投指数基金，一份买储蓄国债。"
    "还有人问群里说的日赚三百靠不靠谱，我只能说，天上不会掉馅饼，凡是让你先交保证金、拉人头返佣的，"
    "十有八九是骗局。遇到可疑情况拨打96110咨询。今天就聊到这里，有问题留言，我们下期讲讲养老金账户怎么用。"
    "欢迎转发给家人。另外提醒一句，最近有人冒充客服打电话说账户异常要转到安全账户，"
    "这种一律挂断，银行不会让你转账到任何所谓的安全账户，有疑问请拨打官方客服电话核实。"
)[:300]


def time_served(bundle_dir: str | Path, runs: int = 300) -> dict[str, Any]:
    """p50/p90 of `Classifier.score_texts` on `POST` (2 threads) and, if the bundle has one, of its
    lexical head alone."""
    from classifier import Classifier
    from classifier.normalize import normalize

    clf = Classifier.load(bundle_dir, threads=2)
    fns: dict[str, Callable[[], object]] = {"served_post": lambda: clf.score_texts([POST])}
    if clf.lexical is not None:
        text, seg = normalize(POST).text, clf.lexicon.segmenter()
        fns["lexical_head"] = lambda: clf.lexical.logits(text, seg)
    return _interleaved(fns, runs, warmup=20)


def time_sizes(tokenizer: Tokenizer, sizes: Sequence[str], seq_len: int, runs: int = 200) -> dict[str, Any]:
    """Export each size (random weights), quantise, and time it; returns `{size: timings}`."""
    from .export import onnx_pipeline

    results = {}
    for name in sizes:
        model = new_classifier(make_config(tokenizer, name), seed=0)
        params = sum(p.numel() for p in model.parameters())
        with tempfile.TemporaryDirectory() as tmp:
            paths = onnx_pipeline(model, tmp)
            timing = time_model(model, paths["int8"], seq_len, runs)
            timing["int8_mb"] = round(paths["int8"].stat().st_size / 2**20, 2)
        timing["params_m"] = round(params / 1e6, 2)
        timing["size"] = MODEL_SIZES[name].__dict__
        results[name] = timing
        log.info("%s: %s", name, json.dumps(timing))
    return results


def record_latency(bundle_dir: str | Path, checkpoint: str | Path | None = None, seq_len: int = 302,
                   runs: int = 300) -> dict[str, Any]:  # fmt: skip
    """Time a bundle's int8 model against the same model in PyTorch eager; store it in the bundle.

    The PyTorch model is `checkpoint` (the fine-tuned weights) when given, else rebuilt from the
    bundle's `model_config` (latency does not depend on the weights). The result goes into
    `bundle.json` metrics["latency"] and a section of MODEL_CARD.md; checksums are rewritten.

    Returns:
        The timing dict.
    """
    from transformers import BertConfig, BertForSequenceClassification

    from classifier import bundle as B

    bundle = B.load_bundle(bundle_dir)
    if checkpoint is not None:
        model = BertForSequenceClassification.from_pretrained(str(checkpoint))
    else:
        model = BertForSequenceClassification(BertConfig(**bundle.manifest["model_config"]))
    timing = time_model(model.eval(), bundle.file(B.MODEL_FILE), seq_len, runs)
    timing.update(time_served(bundle.path, runs))
    timing["threads"] = 2
    timing["machine"] = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    manifest = dict(bundle.manifest)
    manifest["metrics"] = {**manifest.get("metrics", {}), "latency": timing}
    bundle.file(B.MANIFEST_FILE).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    card = bundle.file(B.CARD_FILE).read_text(encoding="utf-8")
    section = (
        "\n## Measured latency\n\n"
        f"One post of {seq_len} tokens (300 characters), 2 threads, {runs} runs, interleaved "
        f"with PyTorch eager in one process: int8 ONNX p50 {timing['onnx_int8']['p50_ms']} ms, "
        f"p90 {timing['onnx_int8']['p90_ms']} ms; PyTorch eager p50 {timing['torch_eager']['p50_ms']} ms; "
        f"speed-up {timing['speedup_p50']}x ({timing['machine']}).\n"
        f"\nThe whole served path for one {len(POST)}-character post (`Classifier.score_texts`: normalise, "
        f"tokenise, ONNX, lexical head): p50 {timing['served_post']['p50_ms']} ms, p90 "
        f"{timing['served_post']['p90_ms']} ms"
        + (f"; the lexical head alone (jieba + hashed TF-IDF) p50 {timing['lexical_head']['p50_ms']} ms.\n"
           if "lexical_head" in timing else ".\n")
    )  # fmt: skip
    card = card.split("\n## Measured latency\n")[0].rstrip("\n") + "\n" + section
    bundle.file(B.CARD_FILE).write_text(card, encoding="utf-8")
    B.write_checksums(bundle.path)
    B.load_bundle(bundle.path)
    return timing


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["mini", "small", "medium"])
    parser.add_argument("--seq-len", type=int, default=302, help="tokens of one 300-char post + specials")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--bundle", type=Path, help="time this bundle and record the result in it")
    parser.add_argument("--checkpoint", type=Path, help="the bundle's PyTorch weights (optional)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    if args.bundle:
        print(json.dumps(record_latency(args.bundle, args.checkpoint, args.seq_len, args.runs), indent=2))
        return
    from .tokenizer import build_tokenizer

    results = time_sizes(build_tokenizer(), args.sizes, args.seq_len, args.runs)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
