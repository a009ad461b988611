"""`promoguard bench` end to end on the tiny bundle: real servers, real HTTP, tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from promoguard.bench import BenchOptions, load_texts, render_report, run_bench
from promoguard.cli import app


def test_bench_measures_every_scenario(tiny_bundle: Path) -> None:
    options = BenchOptions(
        bundle=tiny_bundle, requests=25, duration=20, warmup=2, concurrency=(1, 4), baseline=False
    )
    report = run_bench(options)
    seen = {(m["engine"], m["mode"], m["concurrency"]) for m in report["results"]}
    assert seen == {
        (engine, mode, c)
        for engine in ("onnx-int8", "torch-eager")
        for mode in ("in-process", "http")
        for c in (1, 4)
    }
    for m in report["results"]:
        assert m["errors"] == 0, m["error_samples"]
        # Each scenario stops at 25 requests or 20 s, whichever comes first.
        assert m["requests"] == 25 or (0 < m["requests"] < 25 and m["seconds"] >= 20)
        assert 0 < m["p50_ms"] <= m["p99_ms"] and m["throughput_rps"] > 0
    assert all(r["ratio"] and r["ratio"] > 0 for r in report["ratios"])
    assert {t["target"].split(" ")[0] for t in report["targets"]} == {"HTTP"}
    json.dumps(report)  # the --json report is plain JSON
    assert len(render_report(report)) == 3


def test_texts_are_about_the_requested_length(tmp_path: Path) -> None:
    corpus = tmp_path / "posts.jsonl"
    lines = [{"text": "稳" * (250 + i)} for i in range(60)] + [{"text": "短"}]
    corpus.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    texts, source = load_texts(corpus, 50, 300, seed=0)
    assert len(texts) == 50 and all(210 <= len(t) <= 390 for t in texts) and str(corpus) in source
    # With nothing near the requested length in the file, posts are generated instead.
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"text": "短"}), encoding="utf-8")
    texts, source = load_texts(short, 50, 300, seed=0)
    assert len(texts) == 50 and all(len(t) == 300 for t in texts) and source.startswith("generated")


def test_bench_command_writes_json(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app,
        ["bench", "--bundle", str(tiny_bundle), "--requests", "10", "--duration", "2", "--warmup", "1",
         "--concurrency", "1", "--no-http", "--no-torch", "--no-baseline", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "onnx-int8" in result.output
    assert json.loads(out.read_text())["results"][0]["requests"] == 10
