"""`promoguard eval`: the model against the keyword and TF-IDF baselines on test, challenge, gold."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `eval` to the root app."""
    app.command("eval")(evaluate)


def evaluate(
    bundle: Annotated[Path | None, typer.Option(help="Bundle folder; default: the shipped bundle.")] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Training run folder: adds the PyTorch and from-scratch models.")
    ] = None,
    corpus: Annotated[Path, typer.Option(help="Corpus root holding splits/ and gold/.")] = Path("corpora"),
    split: Annotated[
        list[str] | None, typer.Option(help="Splits to score (repeatable); default test, challenge, gold.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write all metrics as JSON here.")
    ] = None,
) -> None:
    """Print one Markdown table: every system side by side on every split."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from classifier.bundle import BundleError
    from training.compare import compare
    from training.evaluate import EVAL_SPLITS

    try:
        results, table = compare(bundle, run_dir, corpus, tuple(split or EVAL_SPLITS))
    except (BundleError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(table)
    if json_out:
        json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
