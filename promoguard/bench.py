"""`promoguard bench`: how fast the served model is, against PyTorch and a bert-base pipeline.

In one run, for posts of about 300 characters:

- **onnx-int8**: the shipped `Classifier` (int8 ONNX Runtime session), in-process and over HTTP.
- **torch-eager**: the same `Classifier` with its ONNX session swapped for the same architecture
  in PyTorch eager mode (rebuilt from `model_config` in bundle.json; random weights unless
  `torch_weights` is given), so normalisation, windows, policy and evidence are identical and
  only the model engine differs. In-process and over HTTP.
- **bert-base-pipeline**: a `bert-base-chinese`-size model (BertConfig defaults, vocabulary
  21128, random weights, built locally) behind `transformers.pipeline("text-classification")`,
  the baseline a user would otherwise pick. In-process.

HTTP runs start the real app under uvicorn in a child process on 127.0.0.1 and an ephemeral
port, and drive it from this process over keep-alive connections with a minimal HTTP/1.1 client
(httpx spends ~10x its CPU per request, CPU the server needs on a 2-core host), so client and
server share the machine's cores as they would on one host. Every scenario stops after
`requests` requests or `duration` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import platform
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promoguard.bench_engines import BASELINE, baseline_pipeline, load_engine
from promoguard.bench_load import Measurement, ServedEngine, http_load, measure_inprocess, summarise

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SPLIT = REPO_ROOT / "corpora" / "splits" / "test.jsonl.gz"
# Targets from issue 5, reported (not asserted): HTTP on loopback, 2 cores.
TARGET_P50_MS, TARGET_P99_MS, TARGET_RPS, TARGET_BASELINE_RATIO = 8.0, 25.0, 150.0, 20.0

_SENTENCES = (
    "本产品保本保息，稳赚不赔，年化收益高达18%。",
    "名额有限，添加客服微信领取内部理财名额。",
    "今天和大家聊聊基金定投的基本原理和常见误区。",
    "投资有风险，理财非存款，产品过往业绩不代表其未来表现。",
    "老师每天带单，跟着操作一个月翻倍不是梦。",
    "本周市场震荡，建议投资者理性看待短期波动。",
    "无抵押贷款，当天下款，黑户白户都能办。",
    "征信花了也不怕，专业团队帮你修复征信。",
    "周末带孩子去郊野公园野餐，天气晴朗，心情很好。",
    "银行理财产品的风险等级分为R1到R5五个等级。",
    "刷单返利，动动手指日入三百，宝妈学生都能做。",
    "我们是持牌金融机构，请通过官方渠道办理业务。",
)


@dataclass(frozen=True)
class BenchOptions:
    """What `run_bench` measures and for how long.

    Raises:
        ValueError: a non-positive count or duration, or an empty concurrency list.
    """

    bundle: Path | None = None
    requests: int = 400
    duration: float = 8.0
    warmup: int = 20
    concurrency: tuple[int, ...] = (1, 16)
    http: bool = True
    torch: bool = True
    baseline: bool = True
    torch_weights: Path | None = None
    texts: Path | None = None
    chars: int = 300
    baseline_requests: int = 30
    inference_threads: int = 2
    review_queue: bool = True
    workers: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.requests < 1 or self.baseline_requests < 1 or self.warmup < 0:
            raise ValueError(
                f"requests ({self.requests}) and baseline_requests ({self.baseline_requests}) must be >= 1 "
                f"and warmup ({self.warmup}) >= 0"
            )
        if self.duration <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {self.duration}")
        if not self.concurrency or min(self.concurrency) < 1:
            raise ValueError(f"concurrency must list levels >= 1, got {self.concurrency}")
        if self.workers < 1 or self.inference_threads < 1:
            raise ValueError(
                f"workers ({self.workers}) and inference_threads ({self.inference_threads}) must be >= 1"
            )
        if self.chars < 20:
            raise ValueError(f"chars must be >= 20, got {self.chars}")


def load_texts(path: Path | None, n: int, chars: int, seed: int) -> tuple[list[str], str]:
    """About-`chars`-character posts: from `path` or the corpus test split when present, else generated.

    Returns:
        The texts and where they came from.
    """
    source = path if path is not None else (TEST_SPLIT if TEST_SPLIT.is_file() else None)
    rng = random.Random(seed)
    if source is not None:
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rt", encoding="utf-8") as fh:
            raw = [json.loads(line)["text"] for line in fh if line.strip()]
        near = [t for t in raw if 0.7 * chars <= len(t) <= 1.3 * chars]
        pool = near if len(near) >= n else [t[:chars] for t in raw if len(t) >= 0.7 * chars]
        if pool:
            rng.shuffle(pool)
            return pool[:n], f"{source} ({len(pool)} texts near {chars} chars)"
        log.warning("%s has no texts of about %d characters; generating posts instead", source, chars)
    texts = []
    for _ in range(n):
        text = ""
        while len(text) < chars:
            text += rng.choice(_SENTENCES)
        texts.append(text[:chars])
    return texts, f"generated from {len(_SENTENCES)} sentences"


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if a and b and np.isfinite(a) and np.isfinite(b) else None


def run_bench(options: BenchOptions) -> dict[str, Any]:
    """Measure every scenario `options` asks for.

    Returns:
        A report: `environment`, `texts`, `results` (one dict per `Measurement`), `ratios`
        and `targets` (each with its measured value and whether it is met).

    Raises:
        classifier.BundleError: the bundle cannot be loaded.
        RuntimeError: a benchmark server did not start (the message names its log file).
    """
    from classifier import Classifier

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    load_at_start = [round(x, 2) for x in os.getloadavg()]  # other work on the host skews timings
    # PyTorch's OpenMP threads otherwise spin after every call and starve the server's event loop
    # (torch over HTTP at c=1: p99 346 ms spinning, 25 ms passive). Read when torch loads; the
    # servers inherit it. A value the user set wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    onnx = Classifier.load(options.bundle)
    texts, source = load_texts(options.texts, 200, options.chars, options.seed)
    records = [{"id": f"bench-{i}", "text": t} for i, t in enumerate(texts)]
    bodies = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in records]
    engines = ["onnx-int8"] + (["torch-eager"] if options.torch else [])
    results: list[Measurement] = []
    budget = dict(max_requests=options.requests, max_seconds=options.duration, warmup=options.warmup)

    for engine in engines:
        clf = onnx if engine == "onnx-int8" else load_engine(engine, options.bundle, options.torch_weights)
        for c in options.concurrency:
            log.info("bench: %s in-process, concurrency %d", engine, c)
            results.append(
                measure_inprocess(engine, lambda r, clf=clf: clf.classify_batch([r]), records, c, **budget)
            )

    if options.baseline:
        log.info("bench: %s in-process, concurrency 1 (bert-base-chinese size; slow)", BASELINE)
        pipe = baseline_pipeline(onnx.bundle.file("tokenizer.json"))
        results.append(
            measure_inprocess(
                BASELINE,
                pipe,
                texts,
                1,
                options.baseline_requests,
                max(options.duration, 30.0),
                min(options.warmup, 3),
            )
        )

    if options.http:
        with tempfile.TemporaryDirectory(prefix="promoguard-bench-") as tmp:
            for engine in engines:
                log_file = Path(tmp) / f"{engine}.log"
                log.info("bench: starting %s server", engine)
                server = ServedEngine(
                    engine,
                    options.bundle,
                    options.torch_weights,
                    inference_threads=options.inference_threads,
                    review_queue=options.review_queue,
                    workers=options.workers,
                    log_file=log_file,
                )
                with server as url:
                    for c in options.concurrency:
                        log.info("bench: %s over HTTP, concurrency %d", engine, c)
                        lat, errs, secs = asyncio.run(http_load(url, server.key, bodies, c, **budget))
                        results.append(summarise(engine, "http", c, lat, errs, secs))
    return _report(options, onnx, source, texts, results, load_at_start)


def _find(results: list[Measurement], engine: str, mode: str, c: int) -> Measurement | None:
    return next((m for m in results if (m.engine, m.mode, m.concurrency) == (engine, mode, c)), None)


def _report(
    options: BenchOptions,
    onnx: Any,
    source: str,
    texts: list[str],
    results: list[Measurement],
    load_at_start: list[float],
) -> dict[str, Any]:
    import onnxruntime

    ratios: list[dict[str, Any]] = []
    for mode in ("in-process", "http"):
        for c in options.concurrency:
            o, t = _find(results, "onnx-int8", mode, c), _find(results, "torch-eager", mode, c)
            if o and t:
                ratios.append(
                    {
                        "what": f"torch-eager / onnx-int8 p50, {mode}, c={c}",
                        "ratio": _ratio(t.p50_ms, o.p50_ms),
                    }
                )
                ratios.append(
                    {
                        "what": f"onnx-int8 / torch-eager throughput, {mode}, c={c}",
                        "ratio": _ratio(o.throughput_rps, t.throughput_rps),
                    }
                )
    base = _find(results, BASELINE, "in-process", 1)
    for mode in ("in-process", "http"):
        o = _find(results, "onnx-int8", mode, 1)
        if base and o:
            ratios.append(
                {
                    "what": f"{BASELINE} (in-process) / onnx-int8 ({mode}) p50, c=1",
                    "ratio": _ratio(base.p50_ms, o.p50_ms),
                }
            )

    targets: list[dict[str, Any]] = []
    h1 = _find(results, "onnx-int8", "http", 1)
    h16 = _find(results, "onnx-int8", "http", 16)
    if h1:
        targets.append(
            {
                "target": f"HTTP c=1 p50 <= {TARGET_P50_MS:g} ms",
                "measured": round(h1.p50_ms, 2),
                "met": h1.p50_ms <= TARGET_P50_MS,
            }
        )
        targets.append(
            {
                "target": f"HTTP c=1 p99 <= {TARGET_P99_MS:g} ms",
                "measured": round(h1.p99_ms, 2),
                "met": h1.p99_ms <= TARGET_P99_MS,
            }
        )
    if h16:
        targets.append(
            {
                "target": f"HTTP c=16 >= {TARGET_RPS:g} req/s, no errors",
                "measured": f"{h16.throughput_rps:.1f} req/s, {h16.errors} errors",
                "met": h16.throughput_rps >= TARGET_RPS and h16.errors == 0,
            }
        )
    if base and h1:
        ratio = base.p50_ms / h1.p50_ms
        targets.append(
            {
                "target": f">= {TARGET_BASELINE_RATIO:g}x lower p50 than {BASELINE} (HTTP vs in-process)",
                "measured": f"{ratio:.1f}x",
                "met": ratio >= TARGET_BASELINE_RATIO,
            }
        )
    try:
        import torch

        torch_info = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    except ImportError:
        torch_info = {}
    return {
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "onnxruntime": onnxruntime.__version__,
            **torch_info,
            "bundle": str(onnx.bundle.path),
            "bundle_version": onnx.bundle.version,
            "model_config": {
                k: (onnx.bundle.manifest.get("model_config") or {}).get(k)
                for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size")
            },
            "window": onnx.bundle.window,
            "inference_threads": options.inference_threads,
            "review_queue": options.review_queue,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "ort_threads": os.environ.get("PROMOGUARD_THREADS", "default"),
            "workers": options.workers,
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "texts": {
            "source": source,
            "count": len(texts),
            "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        },
        "results": [asdict(m) for m in results],
        "ratios": ratios,
        "targets": targets,
    }


def render_report(report: dict[str, Any]) -> list[Any]:
    """Rich renderables for a report: results, ratios and targets tables."""
    from rich.table import Table

    env = report["environment"]
    cfg = env["model_config"]
    results = Table(
        title=f"promoguard bench: bundle {env['bundle_version']} ({cfg['num_hidden_layers']} layers, hidden "
        f"{cfg['hidden_size']}), {env['cpus']} CPUs",
        caption=f"texts: {report['texts']['source']}, mean {report['texts']['mean_chars']} chars; "
        f"server: {env['workers']} worker(s), {env['inference_threads']} inference threads, review queue "
        f"{'on' if env['review_queue'] else 'off'}; load average {env['load_average_at_start'][0]} at start, "
        f"{env['load_average_at_end'][0]} at end",
    )
    for col in ("engine", "mode", "conc.", "requests", "errors", "p50 ms", "p99 ms", "mean ms", "req/s"):
        left = col in ("engine", "mode")
        results.add_column(col, justify="left" if left else "right", no_wrap=left)
    for m in report["results"]:
        results.add_row(
            m["engine"],
            m["mode"],
            str(m["concurrency"]),
            str(m["requests"]),
            str(m["errors"]),
            f"{m['p50_ms']:.2f}",
            f"{m['p99_ms']:.2f}",
            f"{m['mean_ms']:.2f}",
            f"{m['throughput_rps']:.1f}",
        )
    ratios = Table(title="ratios")
    ratios.add_column("comparison")
    ratios.add_column("ratio", justify="right")
    for r in report["ratios"]:
        ratios.add_row(r["what"], "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x")
    targets = Table(title="issue 5 targets (onnx-int8 served)")
    for col in ("target", "measured", "met"):
        targets.add_column(col)
    for t in report["targets"]:
        targets.add_row(t["target"], str(t["measured"]), "[green]yes[/]" if t["met"] else "[red]no[/]")
    return [results, ratios, targets]
