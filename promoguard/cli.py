"""Root of the `promoguard` command.

Each sub-command lives in its own module under `promoguard.commands` and exposes
`register(app)`. Modules keep heavy imports (torch, onnxruntime, fastapi) inside the
command functions so that `promoguard --help` stays fast.
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="promoguard",
    help="Catch fraudulent, misleading and unlicensed financial marketing in Chinese posts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per command (spaCy-style); each defines register(app).
COMMAND_MODULES = (
    "corpus",
    "train",
    "evaluate",
    "export",
    "scan",
    "classify",
    "serve",
    "bench",
    "review",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"promoguard.commands.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


_register_all()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
