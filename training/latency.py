"""Time candidate model sizes against the latency budget (int8 ONNX vs PyTorch eager, 2 threads).

`python -m training.latency --sizes mini small medium` exports each size with random weights
(latency does not depend on the weights), quantises it and times one post of `--chars`
characters, reporting p50/p90 in milliseconds for onnxruntime int8 and PyTorch eager.
"""

from __future__ import annotations

import argparse
import json
import logging
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


def _percentiles(fn: Callable[[], object], runs: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


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
    onnx_t = _percentiles(lambda: sess.run(["logits"], feeds), runs, warmup=20)
    model.eval()
    t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)

    def torch_call() -> None:
        with torch.inference_mode():
            model(input_ids=t_ids, attention_mask=t_mask)

    torch_t = _percentiles(torch_call, max(20, runs // 4), warmup=5)
    return {
        "seq_len": seq_len,
        "onnx_int8": onnx_t,
        "torch_eager": torch_t,
        "speedup_p50": round(torch_t["p50_ms"] / onnx_t["p50_ms"], 2),
    }


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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["mini", "small", "medium"])
    parser.add_argument("--seq-len", type=int, default=302, help="tokens of one 300-char post + specials")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from .tokenizer import build_tokenizer

    results = time_sizes(build_tokenizer(), args.sizes, args.seq_len, args.runs)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
