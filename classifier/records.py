"""Input records (DESIGN.md "Records"): what a record must hold before it is classified."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RecordError(ValueError):
    """A record cannot be classified (no text, text not a string, bad account)."""


def validate_record(record: str | Mapping[str, Any]) -> tuple[str | None, str, str, bool | None]:
    """Check a record and return (id or None, text, title, account.licensed).

    Raises:
        RecordError: the text is missing, empty or not a string; title/account malformed.
    """
    if isinstance(record, str):
        record = {"text": record}
    if not isinstance(record, Mapping):
        raise RecordError(f"a record must be a string or an object with 'text', got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        got = "missing" if text is None else f"a {type(text).__name__}"
        raise RecordError(f"record 'text' must be a non-empty string, got {got}")
    if not text.strip():
        raise RecordError("record 'text' is empty; nothing to classify")
    title = record.get("title") or ""
    if not isinstance(title, str):
        raise RecordError(f"record 'title' must be a string, got {type(title).__name__}")
    account = record.get("account") or {}
    if not isinstance(account, Mapping):
        raise RecordError(f"record 'account' must be an object, got {type(account).__name__}")
    licensed = account.get("licensed")
    if licensed is not None and not isinstance(licensed, bool):
        raise RecordError(f"account.licensed must be true, false or null, got {licensed!r}")
    rid = record.get("id")
    return (None if rid is None or rid == "" else str(rid)), text, title, licensed
