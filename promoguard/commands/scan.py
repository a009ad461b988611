"""`promoguard scan INPUT... -o OUT`: bulk-scan archives of posts (a thin wrapper over `classifier.scan`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from promoguard.commands.options import BundleOption, ConfigOption, PolicyOption

EXIT_SKIPPED = 2  # some inputs were skipped (see OUT.errors.jsonl)
EXIT_INTERRUPTED = 130


def print_summary(summary: Any) -> None:
    """A summary table on stderr: counts per decision and label, errors, throughput."""
    from rich.console import Console
    from rich.table import Table

    from classifier.scan import summary_counts

    console = Console(stderr=True)
    counts = summary_counts(summary)
    table = Table(title="scan summary", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("count", justify="right")
    for decision, n in counts["decisions"].items():
        table.add_row(f"decision: {decision}", str(n))
    for label, n in counts["labels"].items():
        table.add_row(f"label: {label}", str(n))
    table.add_row("records scanned", str(summary.records))
    if summary.resumed_from:
        table.add_row("already done (resumed)", str(summary.resumed_from))
    table.add_row("skipped (errors)", str(summary.errors), style="red" if summary.errors else None)
    if summary.ignored_files:
        table.add_row("ignored files (not .txt/.md/.html)", str(len(summary.ignored_files)), style="yellow")
    table.add_row("seconds", f"{summary.seconds:.2f}")
    table.add_row("posts/s", f"{summary.posts_per_s:.1f}")
    table.add_row("chars/s", f"{summary.chars_per_s:,.0f}")
    console.print(table)
    if summary.errors and summary.errors_file is not None:
        console.print(f"[red]{summary.errors} inputs skipped[/red]; details in {summary.errors_file}")
    if summary.interrupted:
        console.print("[yellow]interrupted[/yellow]: the output holds complete results; rerun with --resume")


def register(app: typer.Typer) -> None:
    """Add `scan` to the root app."""

    @app.command("scan")
    def scan_command(
        inputs: Annotated[
            list[str],
            typer.Argument(help="JSONL/JSON/CSV/TSV/.txt/.html/.md files, folders, or - for stdin."),
        ],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Result file (default: stdout).")
        ] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="Output format: jsonl or csv.")] = "jsonl",
        input_format: Annotated[
            str,
            typer.Option(
                "--input-format", help="auto (by extension), jsonl, json, csv, tsv, text, html, markdown."
            ),
        ] = "auto",
        text_column: Annotated[
            str, typer.Option("--text-column", help="CSV column holding the post text.")
        ] = "text",
        id_column: Annotated[
            str, typer.Option("--id-column", help="CSV column holding the post id (optional).")
        ] = "id",
        whole_file: Annotated[
            bool,
            typer.Option("--whole-file", help="A .txt input (or stdin) is one post, not one post per line."),
        ] = False,
        bundle: BundleOption = None,
        policy: PolicyOption = "standard",
        config: ConfigOption = None,
        workers: Annotated[
            int, typer.Option("--workers", "-w", help="Worker processes (each loads the model once).")
        ] = 1,
        batch_size: Annotated[
            int, typer.Option("--batch-size", help="Records per batch (and per flush).")
        ] = 64,
        threads: Annotated[
            int | None, typer.Option("--threads", help="ONNX Runtime threads per process.")
        ] = None,
        resume: Annotated[
            bool, typer.Option("--resume", help="Continue an interrupted scan into the same OUT.")
        ] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
        progress: Annotated[
            bool | None,
            typer.Option(
                "--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."
            ),
        ] = None,
        evidence: Annotated[
            str,
            typer.Option("--evidence", help="Model evidence: window (fast) or sentence (its best sentence)."),
        ] = "window",
        engine: Annotated[
            str,
            typer.Option(
                "--engine", help="local, or ray: Ray Data, OUT a folder of part files (also parquet)."
            ),
        ] = "local",
        address: Annotated[
            str | None,
            typer.Option(
                "--address", help="Ray cluster for --engine ray (default: start Ray on this machine)."
            ),
        ] = None,
    ) -> None:
        """Classify every post in INPUT... and write one result per post, in input order.

        Exit codes: 0 all scanned; 2 some inputs skipped (on stderr and in OUT.errors.jsonl);
        1 fatal error; 130 interrupted (rerun with --resume).
        """
        from classifier.bundle import BundleError
        from classifier.policy import PolicyError
        from classifier.readers import ReadOptions
        from classifier.scan import ScanError, ScanOptions, scan

        try:
            if engine != "local":
                from classifier.ray_engine import scan_ray_command

                summary = scan_ray_command(inputs, engine=engine, address=address, output=output, fmt=fmt,
                    bundle=bundle, policy=policy, config=config, workers=workers, threads=threads,
                    batch_size=batch_size, resume=resume, overwrite=overwrite, progress=progress,
                    read=ReadOptions(input_format=input_format, text_column=text_column, id_column=id_column,
                                     whole_file=whole_file))  # fmt: skip
                print_summary(summary)
                raise typer.Exit(EXIT_SKIPPED if summary.errors else 0)
            options = ScanOptions(
                output=output, fmt=fmt, bundle=bundle, policy=policy, config=config, workers=workers,
                batch_size=batch_size, resume=resume, overwrite=overwrite, progress=progress, threads=threads,
                evidence=evidence,
                read=ReadOptions(input_format=input_format, text_column=text_column, id_column=id_column,
                                 whole_file=whole_file),
            )  # fmt: skip
            summary = scan(inputs, options)
        except (ScanError, BundleError, PolicyError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        print_summary(summary)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        if summary.errors:
            raise typer.Exit(EXIT_SKIPPED)
