"""Throughput benchmarks of the scan path (not tests): posts/s for short posts, chars/s by length.

`benchmark_scan` runs the real `scan()` (reader, normalisation, windows, ONNX, lexicon,
writer) over synthetic posts in a temporary JSONL file; `benchmark_lengths` times
`Classifier.classify_batch` on articles of growing length to show that cost grows linearly
(chars/s stays flat). `promoguard bench` and `python -m classifier.benchmark` call them.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Everyday and financial sentences (with and without red flags), so posts look like the
# traffic a scan sees: mostly ordinary text, some pitches, punctuation and digits.
SENTENCES = (
    "今天和家人一起去公园散步，天气晴朗，心情很好。",
    "这家新开的面馆味道不错，牛肉面二十八元一碗。",
    "孩子的数学作业越来越难了，家长也要跟着学习。",
    "周末去图书馆借了几本书，准备好好读一读。",
    "本基金过往业绩不代表其未来表现，投资有风险，入市需谨慎。",
    "理财非存款，产品有风险，投资须谨慎。",
    "央行今日开展逆回购操作，市场流动性保持合理充裕。",
    "专家提醒：警惕“保本高收益”的投资骗局，不要轻信陌生人。",
    "本产品保本保息，年化收益高达15%，稳赚不赔！",
    "名额有限，加微信了解内部渠道，老师带你每天躺赚。",
    "无需征信，黑户也能贷，当天下款，先交保证金即可。",
    "跟着老师操作，明日必涨的牛股免费送，进群领取。",
    "USDT搬砖套利，日赚三百，零风险，宝妈兼职首选。",
    "今年的研究报告显示，居民储蓄意愿仍然较强。",
    "地铁三号线延长线预计明年年底通车。",
    "信用卡分期要看清手续费，综合年化成本以合同为准。",
    "学生专享额度，先享后付，分期无压力。",
    "股市有风险，以上内容不构成投资建议。",
)


def synthetic_posts(n: int, chars: int, seed: int = 0) -> list[str]:
    """`n` posts of exactly `chars` characters, drawn from `SENTENCES` (deterministic per seed)."""
    rng = random.Random(seed)
    posts = []
    for _ in range(n):
        parts: list[str] = []
        length = 0
        while length < chars:
            s = rng.choice(SENTENCES)
            parts.append(s)
            length += len(s)
        posts.append("".join(parts)[:chars])
    return posts


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def benchmark_scan(
    bundle: str | Path | None = None,
    *,
    posts: int = 3000,
    chars: int = 300,
    workers: int = 1,
    batch_size: int = 64,
    threads: int | None = None,
) -> dict[str, Any]:
    """Scan `posts` synthetic posts of `chars` characters through `scan()`; report throughput.

    Returns:
        The scan summary (`posts_per_s`, `chars_per_s`, `seconds`, counts) plus the settings and
        `cpu_ms_per_post`: CPU time per post (this process and its workers, minus one model load
        per process), which on a busy shared machine says more than wall-clock throughput.
    """
    from .readers import ReadOptions
    from .scan import ScanOptions, scan

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "posts.jsonl"
        with src.open("w", encoding="utf-8") as fh:
            for i, text in enumerate(synthetic_posts(posts, chars)):
                fh.write(json.dumps({"id": f"b{i}", "text": text}, ensure_ascii=False) + "\n")
        options = ScanOptions(
            output=Path(tmp) / "out.jsonl", bundle=Path(bundle) if bundle else None, workers=workers,
            batch_size=batch_size, threads=threads, progress=False, read=ReadOptions(),
        )  # fmt: skip
        cpu_before = _cpu_seconds()
        summary = scan([str(src)], options)
        cpu = _cpu_seconds() - cpu_before
        # Loading (session, jieba dictionary) happens once per process; take it out of the per-post cost.
        from .core import Classifier

        load_before = _cpu_seconds()
        Classifier.load(Path(bundle) if bundle else None, threads=1)
        load = _cpu_seconds() - load_before
    per_post = max(cpu - workers * load, 0.0) / posts
    return {
        "posts": posts, "chars": chars, "workers": workers, "batch_size": batch_size, "threads": threads,
        "cpu_ms_per_post": round(1000 * per_post, 3), **summary.as_dict(),
    }  # fmt: skip


def benchmark_lengths(
    bundle: str | Path | None = None,
    *,
    lengths: Sequence[int] = (750, 1500, 3000, 6000),
    posts: int = 16,
    threads: int | None = None,
    batch_size: int = 32,
) -> list[dict[str, Any]]:
    """chars/s of `classify_batch` on `posts` articles per length (linear cost = flat chars/s).

    Returns:
        One row per length: chars, posts, seconds, chars_per_s, ms_per_post, windows_per_post.
    """
    from .core import Classifier
    from .normalize import normalize
    from .windows import make_windows

    clf = Classifier.load(bundle, threads=threads, batch_size=batch_size)
    clf.classify_batch(synthetic_posts(4, min(lengths), seed=99))  # warm-up
    rows = []
    for n_chars in lengths:
        texts = synthetic_posts(posts, n_chars, seed=n_chars)
        windows = sum(
            len(make_windows(clf.tokenizer, normalize(t).text, clf.window, clf.stride)) for t in texts
        )
        start = time.perf_counter()
        clf.classify_batch(texts)
        seconds = time.perf_counter() - start
        rows.append({
            "chars": n_chars, "posts": posts, "seconds": round(seconds, 3),
            "chars_per_s": round(n_chars * posts / seconds), "ms_per_post": round(1000 * seconds / posts, 2),
            "windows_per_post": round(windows / posts, 1),
        })  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m classifier.benchmark [BUNDLE] [--workers N]`: print both benchmarks as JSON."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("bundle", nargs="?", default=None)
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    short = benchmark_scan(
        args.bundle, posts=args.posts, workers=args.workers, threads=args.threads, batch_size=args.batch_size
    )
    by_length = benchmark_lengths(args.bundle, threads=args.threads)
    print(json.dumps({"scan_300_chars": short, "by_length": by_length}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
