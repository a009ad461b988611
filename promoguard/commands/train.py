"""`promoguard train`: tokenizer -> pre-train -> fine-tune -> calibrate -> export -> bundle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `train` to the root app."""
    app.command("train")(train)


def train(
    run_dir: Annotated[Path, typer.Option(help="Work folder for every stage's output.")] = Path("runs/train"),
    corpus: Annotated[Path, typer.Option(help="Corpus root holding splits/ and lexicon/.")] = Path("corpora"),
    seed: Annotated[int, typer.Option(help="Seed for every stage.")] = 0,
    size: Annotated[str, typer.Option(help="Model size (training.modeling.MODEL_SIZES).")] = "mini",
    window: Annotated[int, typer.Option(help="Tokens per window, [CLS]/[SEP] included.")] = 320,
    stride: Annotated[int, typer.Option(help="Tokens between window starts.")] = 240,
    pretrain_steps: Annotated[
        int,
        typer.Option(help="Stage-1 MLM steps (schedule length); 0: fit --pretrain-minutes."),
    ] = 2600,
    pretrain_minutes: Annotated[float | None, typer.Option(help="Stage-1 time budget.")] = None,
    pretrain_stop_at: Annotated[
        int | None, typer.Option(help="Stop stage 1 after this many steps (schedule unchanged).")
    ] = None,
    domain_steps: Annotated[
        int, typer.Option(help="Stage-2 (corpus text) MLM steps; 0: fit --domain-minutes.")
    ] = 350,
    domain_minutes: Annotated[float | None, typer.Option(help="Stage-2 time budget.")] = None,
    domain_stop_at: Annotated[int | None, typer.Option(help="Stop stage 2 after this many steps.")] = None,
    epochs: Annotated[float, typer.Option(help="Fine-tuning epochs (with --finetune-steps -1).")] = 3.0,
    finetune_steps: Annotated[
        int, typer.Option(help="Fine-tuning steps; 0: fit --finetune-minutes; -1: use --epochs.")
    ] = 4500,
    finetune_minutes: Annotated[float | None, typer.Option(help="Fine-tuning time budget.")] = None,
    finetune_stop_at: Annotated[
        int | None, typer.Option(help="Stop fine-tuning after this many steps.")
    ] = None,
    finetune_lr: Annotated[float, typer.Option(help="Fine-tuning peak learning rate.")] = 3e-4,
    finetune_mask: Annotated[
        float, typer.Option(help="Share of input tokens masked while fine-tuning (augmentation; 0 = off).")
    ] = 0.15,
    batch_size: Annotated[int, typer.Option(help="Fine-tuning items per step.")] = 16,
    base_model: Annotated[
        Path | None,
        typer.Option(help="Fine-tune this local Hugging Face BERT checkpoint instead of pre-training."),
    ] = None,
    extra: Annotated[
        list[Path] | None, typer.Option(help="Extra labelled JSONL (corpus format); repeatable.")
    ] = None,
    written_weight: Annotated[
        int,
        typer.Option(min=1, help="Times each hand-written (and --extra) item counts in training."),
    ] = 3,
    scratch_baseline: Annotated[
        bool, typer.Option(help="Also fine-tune a from-scratch model for the comparison.")
    ] = True,
    lexical: Annotated[
        bool, typer.Option(help="Stack a lexical head (jieba words + character n-grams) with the model.")
    ] = True,
    resume: Annotated[
        bool, typer.Option(help="Skip finished stages; continue an interrupted pre-training.")
    ] = False,
    install: Annotated[
        bool, typer.Option(help="Copy the verified bundle into classifier/default_bundle/.")
    ] = False,
    version: Annotated[str | None, typer.Option(help="Bundle version string.")] = None,
) -> None:
    """Train the model end to end and write a verified bundle (RUN_DIR/bundle).

    The defaults replay the run that made the shipped bundle (its steps are recorded in
    bundle.json under `training`).
    """
    # Under CPU contention OpenMP's default busy-waiting wastes most of the time; must be set
    # before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from training.pipeline import TrainPlan
    from training.pipeline import train as run

    for path in [*(extra or []), *([base_model] if base_model else [])]:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist")
    plan = TrainPlan(
        run_dir=run_dir, corpus_dir=corpus, seed=seed, size=size, window=window, stride=stride,
        pretrain_steps=pretrain_steps, pretrain_minutes=pretrain_minutes, pretrain_stop_at=pretrain_stop_at,
        domain_steps=domain_steps, domain_minutes=domain_minutes, domain_stop_at=domain_stop_at,
        finetune_epochs=epochs, finetune_steps=None if finetune_steps < 0 else finetune_steps,
        finetune_minutes=finetune_minutes,
        finetune_stop_at=finetune_stop_at, finetune_lr=finetune_lr, batch_size=batch_size,
        finetune_mask=finetune_mask,
        base_model=base_model, extra=list(extra or []), written_weight=written_weight,
        scratch_baseline=scratch_baseline, lexical=lexical, resume=resume, install=install, version=version,
    )  # fmt: skip
    bundle = run(plan)
    typer.echo(f"bundle written to {bundle}")
    typer.echo(f"comparison table: {run_dir / 'eval.md'}")
