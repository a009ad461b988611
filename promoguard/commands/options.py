"""Options shared by the commands that load a classifier (`scan`, `classify`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

BundleOption = Annotated[
    Path | None, typer.Option("--bundle", "-b", help="Model bundle folder (default: shipped).")
]
PolicyOption = Annotated[str, typer.Option("--policy", help="Policy preset: strict, standard, lenient.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Policy config (TOML/JSON) overriding thresholds.")
]
