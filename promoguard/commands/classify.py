"""`promoguard classify "…"`: one decision for a person, evidence highlighted (or `--json`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from promoguard.commands.options import BundleOption, ConfigOption, PolicyOption

_DECISION_STYLE = {
    "pass": "bold green",
    "warn": "bold yellow",
    "review": "bold dark_orange",
    "block": "bold red",
}
_LABEL_STYLE = {"fraudulent": "on red", "misleading": "on dark_orange3", "unlicensed": "on magenta"}
_FULL_TEXT = 800  # longer texts are shown as snippets around the evidence
_CONTEXT = 40


def classify_text(
    text: str,
    *,
    title: str | None = None,
    licensed: bool | None = None,
    bundle: Path | None = None,
    policy: str = "standard",
    config: Path | None = None,
) -> tuple[dict[str, Any], Any]:
    """Classify one post; returns (result, classifier) so callers can show thresholds.

    Raises:
        BundleError, PolicyError, RecordError: as `Classifier.load` / `Classifier.classify`.
    """
    from classifier import Classifier

    # One post for a person: point at the sentence, not the whole 300-token window.
    clf = Classifier.load(bundle, policy, config, evidence="sentence")
    record: dict[str, Any] = {"text": text}
    if title:
        record["title"] = title
    if licensed is not None:
        record["account"] = {"licensed": licensed}
    return clf.classify(record), clf


_WORDS = ("lexicon", "lexical")  # evidence that marks words, not windows


def _highlighted(text: str, evidence: list[dict[str, Any]]) -> Any:
    from rich.text import Text

    spans = sorted(
        (e for e in evidence if e["end"] > e["start"]), key=lambda e: (e["source"] in _WORDS, e["start"])
    )
    if len(text) <= _FULL_TEXT:
        out = Text(text)
        for e in spans:  # model windows first, lexicon phrases and lexical words on top of them
            style = _LABEL_STYLE.get(e["label"], "reverse")
            out.stylize(style if e["source"] in _WORDS else "underline", e["start"], e["end"])
        return out
    out = Text()
    for e in [e for e in spans if e["source"] in _WORDS] or spans[:3]:
        a, b = max(0, e["start"] - _CONTEXT), min(len(text), e["end"] + _CONTEXT)
        out.append(("…" if a else "") + text[a : e["start"]])
        out.append(text[e["start"] : e["end"]], style=_LABEL_STYLE.get(e["label"], "reverse"))
        out.append(text[e["end"] : b] + ("…" if b < len(text) else "") + "\n")
    out.rstrip()
    return out


def render(result: dict[str, Any], text: str, thresholds: dict[str, dict[str, float]]) -> None:
    """Print a result for a person on stdout (rich)."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from classifier.taxonomy import LABEL_ZH, SUBTYPES

    console = Console()
    decision = result["decision"]
    labels = ", ".join(f"{x} ({LABEL_ZH.get(x, x)})" for x in result["labels"]) or "none"
    console.print(f"[{_DECISION_STYLE[decision]}]{decision.upper()}[/]  labels: {labels}")
    table = Table(show_header=True, header_style="bold")
    for col in ("label", "score", "warn", "flag", "block"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, score in result["scores"].items():
        t = thresholds[label]
        style = "red" if score >= t["flag"] else "yellow" if score >= t["warn"] else None
        table.add_row(
            label, f"{score:.4f}", f"{t['warn']:.4g}", f"{t['flag']:.4g}", f"{t['block']:.4g}", style=style
        )
    console.print(table)
    if result["evidence"]:
        console.print(
            Panel(_highlighted(text, result["evidence"]), title="evidence in the text", expand=False)
        )
        for e in result["evidence"]:
            if e["source"] == "lexicon":
                sub = SUBTYPES.get(e["subtype"])
                console.print(
                    f"  [{_LABEL_STYLE.get(e['label'], '')}]{e['text']}[/] {e['label']} {e['subtype']}"
                    f"{' ' + sub.name if sub else ''} @ {e['start']}-{e['end']}"
                )
            elif e["source"] == "lexical":
                console.print(
                    f"  [{_LABEL_STYLE.get(e['label'], '')}]{e['text']}[/] {e['label']} (lexical head)"
                    f" @ {e['start']}-{e['end']}"
                )
            elif e["source"] == "model":
                console.print(
                    f"  [underline]model[/] {e['label']} @ {e['start']}-{e['end']}: {e['text'][:60]!r}"
                )
            else:
                console.print(f"  {e['label']}: {e.get('detail', e['source'])}")
    console.print(f"[dim]model {result['model_version']}[/dim]")


def register(app: typer.Typer) -> None:
    """Add `classify` to the root app."""

    @app.command("classify")
    def classify_command(
        text: Annotated[str | None, typer.Argument(help="The post text (or use --file).")] = None,
        file: Annotated[
            Path | None, typer.Option("--file", help="Read the post from a file (- for stdin).")
        ] = None,
        title: Annotated[str | None, typer.Option("--title", help="The post title.")] = None,
        licensed: Annotated[
            bool | None,
            typer.Option(
                "--licensed/--unlicensed", help="Whether the publishing account is a licensed institution."
            ),
        ] = None,
        bundle: BundleOption = None,
        policy: PolicyOption = "standard",
        config: ConfigOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Classify one post and explain the decision."""
        from classifier import BundleError, PolicyError, RecordError

        if (text is None) == (file is None):
            typer.echo("error: give the text as an argument or --file PATH (not both)", err=True)
            raise typer.Exit(1)
        if file is not None:
            try:
                raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
                text = raw.decode("utf-8")
            except OSError as exc:
                typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
                raise typer.Exit(1) from None
            except UnicodeDecodeError as exc:
                typer.echo(f"error: {file} is not valid UTF-8 (byte {exc.start}); re-encode it", err=True)
                raise typer.Exit(1) from None
            if file.suffix.lower() in (".html", ".htm"):
                from classifier.html import extract_article

                article = extract_article(text)
                text, title = article.text, title or article.title or None
        assert text is not None
        try:
            result, clf = classify_text(
                text, title=title, licensed=licensed, bundle=bundle, policy=policy, config=config
            )
        except (BundleError, PolicyError, RecordError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            render(result, text, clf.policy.describe())
