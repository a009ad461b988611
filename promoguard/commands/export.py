"""`promoguard export`: a fine-tuned checkpoint -> optimised int8 ONNX -> verified bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `export` to the root app."""
    app.command("export")(export)


def export(
    model: Annotated[
        Path, typer.Argument(help="Fine-tuned checkpoint folder (save_pretrained + tokenizer.json).")
    ],
    out: Annotated[Path, typer.Option(help="Bundle folder to write.")] = Path("runs/export/bundle"),
    thresholds: Annotated[
        Path | None, typer.Option(help="JSON {label: {warn, flag, block}}; default: calibrate on dev.")
    ] = None,
    corpus: Annotated[Path, typer.Option(help="Corpus root (dev split for calibration, lexicon).")] = Path(
        "corpora"
    ),
    window: Annotated[int, typer.Option(help="Tokens per window.")] = 320,
    stride: Annotated[int, typer.Option(help="Tokens between window starts.")] = 240,
    version: Annotated[str | None, typer.Option(help="Bundle version string.")] = None,
    install: Annotated[bool, typer.Option(help="Copy the bundle into classifier/default_bundle/.")] = False,
) -> None:
    """Export to ONNX, optimise, quantise to int8, and write a verified bundle."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from training.export import export_checkpoint
    from training.pipeline import install_bundle

    if not model.is_dir():
        raise typer.BadParameter(f"{model} is not a checkpoint folder")
    given = json.loads(thresholds.read_text(encoding="utf-8")) if thresholds else None
    bundle = export_checkpoint(model, out, corpus_dir=corpus, thresholds=given, window=window, stride=stride,
                               version=version)  # fmt: skip
    if install:
        bundle = install_bundle(bundle)
    typer.echo(f"bundle written to {bundle}")
