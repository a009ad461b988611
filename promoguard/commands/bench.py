"""`promoguard bench`: latency and throughput of the served model vs PyTorch and a bert-base pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `bench` to the root app."""

    @app.command("bench")
    def bench_command(
        bundle: Annotated[
            Path | None,
            typer.Option(exists=True, file_okay=False, help="Model bundle (default: the shipped one)."),
        ] = None,
        requests: Annotated[int, typer.Option(min=1, help="Most requests per scenario.")] = 400,
        duration: Annotated[float, typer.Option(min=0.1, help="Most seconds per scenario.")] = 8.0,
        warmup: Annotated[int, typer.Option(min=0, help="Unmeasured requests before each scenario.")] = 20,
        concurrency: Annotated[str, typer.Option(help="Comma-separated concurrency levels.")] = "1,16",
        http: Annotated[
            bool, typer.Option("--http/--no-http", help="Also measure over HTTP on loopback.")
        ] = True,
        torch: Annotated[
            bool, typer.Option("--torch/--no-torch", help="Also measure the model in PyTorch eager.")
        ] = True,
        baseline: Annotated[
            bool,
            typer.Option(
                "--baseline/--no-baseline", help="Also measure a bert-base-chinese-size HF pipeline."
            ),
        ] = True,
        baseline_requests: Annotated[int, typer.Option(min=1, help="Requests for the (slow) baseline.")] = 30,
        torch_weights: Annotated[
            Path | None,
            typer.Option(
                exists=True, help="Trained weights for the PyTorch model (HF folder or state_dict file)."
            ),
        ] = None,
        texts: Annotated[
            Path | None,
            typer.Option(
                exists=True, dir_okay=False, help="JSONL(.gz) posts (default: test split, else generated)."
            ),
        ] = None,
        chars: Annotated[int, typer.Option(min=20, help="Post length to benchmark, in characters.")] = 300,
        inference_threads: Annotated[
            int, typer.Option(min=1, help="Concurrent classifier calls in the server.")
        ] = 2,
        workers: Annotated[
            int, typer.Option(min=1, help="uvicorn worker processes for the HTTP server.")
        ] = 1,
        review_queue: Annotated[
            bool,
            typer.Option(
                "--review-queue/--no-review-queue",
                help="Serve with the review queue (a DB write per `review` result), or a no-op sink.",
            ),
        ] = True,
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Also write the report as JSON here.")
        ] = None,
    ) -> None:
        """Measure p50/p99 latency and throughput, in-process and over HTTP, and print the ratios."""
        import json

        from rich.console import Console

        from promoguard.bench import BenchOptions, render_report, run_bench

        try:
            levels = tuple(int(x) for x in concurrency.split(",") if x.strip())
            options = BenchOptions(
                bundle=bundle,
                requests=requests,
                duration=duration,
                warmup=warmup,
                concurrency=levels,
                http=http,
                torch=torch,
                baseline=baseline,
                baseline_requests=baseline_requests,
                torch_weights=torch_weights,
                texts=texts,
                chars=chars,
                inference_threads=inference_threads,
                review_queue=review_queue,
                workers=workers,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if (torch or baseline) and not _has_torch():
            raise typer.BadParameter("--torch/--baseline need pip install 'promoguard[train]'")
        report = run_bench(options)
        import sys

        console = Console(width=None if sys.stdout.isatty() else 120)
        for renderable in render_report(report):
            console.print(renderable)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
            console.print(f"report written to {json_out}")


def _has_torch() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("transformers") is not None
