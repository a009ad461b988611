"""`promoguard corpus build` and `promoguard corpus stats`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

corpus_app = typer.Typer(help="Build and inspect the labelled corpus.", no_args_is_help=True)


@corpus_app.command("build")
def build(
    seed: Annotated[int, typer.Option(help="Corpus seed; the same seed writes byte-identical files.")] = 13,
    out: Annotated[Path, typer.Option(help="Corpus root; writes splits/ and lexicon/ in it.")] = Path(
        "corpora"
    ),
    scale: Annotated[
        float, typer.Option(min=0.001, help="Multiply every split size (1.0: ~31,000 items).")
    ] = 1.0,
) -> None:
    """Generate the train/dev/test/challenge splits, the manifest and the red-flag lexicon."""
    from rich.console import Console
    from rich.progress import Progress

    from training.corpus.families import FamilyError
    from training.corpus.generate import build_corpus
    from training.corpus.splits import default_specs
    from training.corpus.written import WrittenError

    console = Console()
    start = time.perf_counter()
    specs = default_specs(scale)
    with Progress(console=console, disable=not sys.stderr.isatty(), transient=True) as bar:
        tasks = {s.name: bar.add_task(f"{s.name}", total=s.size) for s in specs}
        try:
            result = build_corpus(
                seed, out, scale=scale, progress=lambda split, n: bar.advance(tasks[split], n)
            )
        except FamilyError as exc:
            console.print(f"[red]parts library error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(2) from exc
        except WrittenError as exc:
            console.print(f"[red]hand-written posts error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(2) from exc
    took = time.perf_counter() - start
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    console.print(f"wrote {sum(result.counts.values())} items ({counts}) to {out / 'splits'}")
    console.print(f"corpus hash {result.corpus_hash}")
    console.print(f"built in {took:.1f} s")


@corpus_app.command("stats")
def stats(
    corpus: Annotated[Path, typer.Option(help="Corpus root holding splits/.")] = Path("corpora"),
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown tables instead.")] = False,
) -> None:
    """Print counts per split, label, sub-type, tag and length band."""
    from rich.console import Console
    from rich.table import Table

    from classifier.taxonomy import COMPLIANT_KINDS, SUBTYPES
    from training.corpus.splits import SPLITS
    from training.corpus.stats import corpus_stats, length_summary, markdown

    console = Console()
    try:
        s = corpus_stats(corpus)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if as_markdown:
        typer.echo(markdown(s), nl=False)
        return
    names = [n for n in SPLITS if n in s.splits]

    def table(title: str, data: dict, keys: list[str]) -> Table:
        t = Table(title=title)
        t.add_column("")
        for n in names:
            t.add_column(n, justify="right")
        t.add_column("total", justify="right")
        for key in keys:
            row = [data[n].get(key, 0) for n in names]
            t.add_row(key, *map(str, row), str(sum(row)))
        return t

    overview = Table(title="Splits")
    for col in ("split", "items", "families", "median chars", "max chars"):
        overview.add_column(col, justify="right" if col != "split" else "left")
    for n in names:
        lengths = sorted(s.lengths[n])
        overview.add_row(
            n, str(s.splits[n]), str(len(s.families[n])), str(lengths[len(lengths) // 2]), str(lengths[-1])
        )
    overview.add_row("total", str(sum(s.splits.values())), "", "", "")
    console.print(overview)
    label_keys = sorted(s.total(s.labels))
    console.print(table("Labels (an item counts once per label)", s.labels, label_keys))
    sub_keys = [k for k in (*SUBTYPES, *COMPLIANT_KINDS) if k in s.total(s.subtypes)]
    console.print(table("Sub-types", s.subtypes, sub_keys))
    console.print(table("Tags", s.tags, sorted(s.total(s.tags))))
    console.print(table("Length bands (<150, 150-999, >=1000 chars)", s.bands, ["short", "medium", "long"]))
    console.print("length in characters: " + ", ".join(f"{k} {v}" for k, v in length_summary(s).items()))
    if s.corpus_hash:
        console.print(f"corpus hash {s.corpus_hash}")


def register(app: typer.Typer) -> None:
    """Add `corpus` to the root app."""
    app.add_typer(corpus_app, name="corpus")
