"""`promoguard serve` (not written yet)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this command to the root app. Filled in by the issue that owns it."""
