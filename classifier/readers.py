"""Input readers for bulk scans: JSONL, JSON arrays, CSV/TSV, plain text, HTML, Markdown, folders.

Every reader yields `Item`s in input order: a record ready to classify, or an error that
names the file and line. Nothing is dropped silently: blank lines in JSONL and text inputs
are the only things skipped without an error (they hold no post).

What counts as one post:

- ``.jsonl`` / ``.ndjson`` (and ``.json`` holding one object per line): one record per line.
- ``.json`` holding an array: one record per element (``line`` is the element's position).
- ``.csv`` / ``.tsv``: one record per row; ``text_column`` (default ``text``) holds the text,
  ``id_column`` (default ``id``, optional), ``title`` is used when present.
- ``.txt`` given directly, and ``-`` (stdin) when it is not JSONL: one post per non-empty
  line; with ``whole_file=True`` the whole file is one post.
- ``.html`` / ``.htm``: one post, the article's visible text and title (`classifier.html`).
- ``.md``: one post, the whole file.
- a folder: every ``.txt``, ``.md``, ``.html``, ``.htm`` file below it (sorted by path), one post
  each; other files are counted and reported, not read.

Files ending in ``.gz`` are decompressed (``posts.jsonl.gz``). Records without an ``id`` get
``<file>:<line>`` (or the file path for one-post files), which stays the same across runs,
so `--resume` can check that it is continuing the same scan.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

FOLDER_SUFFIXES = (".txt", ".md", ".html", ".htm")
FORMATS = ("auto", "jsonl", "json", "csv", "tsv", "text", "html", "markdown")
_BY_SUFFIX = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".md": "markdown",
    ".markdown": "markdown",
}  # fmt: skip


@dataclass(frozen=True)
class Item:
    """One input position: a record to classify, or an error (then `record` is None)."""

    source: str
    line: int | None
    record: dict[str, Any] | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def error_row(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "error": self.error}


@dataclass
class ReadOptions:
    """How to read inputs (see the module docstring)."""

    input_format: str = "auto"
    text_column: str = "text"
    id_column: str = "id"
    whole_file: bool = False
    ignored_files: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.input_format not in FORMATS:
            raise ValueError(
                f"unknown input format {self.input_format!r}; choose one of {', '.join(FORMATS)}"
            )


def _check(source: str, line: int | None, record: Any, default_id: str) -> Item:
    """Validate a parsed record; give it a stable id when it has none."""
    if not isinstance(record, Mapping):
        return Item(source, line, error=f"expected a JSON object with 'text', got {type(record).__name__}")
    text = record.get("text")
    if text is None:
        return Item(source, line, error="record has no 'text' field")
    if not isinstance(text, str):
        return Item(source, line, error=f"'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        return Item(source, line, error="'text' is empty")
    from .core import RecordError, validate_record

    try:
        validate_record(record)
    except RecordError as exc:
        return Item(source, line, error=str(exc))
    out = dict(record)
    if out.get("id") in (None, ""):
        out["id"] = default_id
    elif not isinstance(out["id"], (str, int)):
        return Item(source, line, error=f"'id' must be a string or number, got {type(out['id']).__name__}")
    else:
        out["id"] = str(out["id"])
    return Item(source, line, out)


def _decode(raw: bytes, source: str, line: int | None) -> tuple[str | None, Item | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        return None, Item(
            source, line, error=f"not valid UTF-8 (byte 0x{bad} at byte {exc.start}); re-encode as UTF-8"
        )


def _open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # type: ignore[return-value]


def _format_of(path: Path, options: ReadOptions) -> str | None:
    if options.input_format != "auto":
        return options.input_format
    suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    return _BY_SUFFIX.get(suffix.lower())


def _nonblank_lines(stream: BinaryIO, source: str, parse: Callable[[int, str], Item]) -> Iterator[Item]:
    """`parse(lineno, text)` for each non-blank line; undecodable lines become errors."""
    seen = False
    for lineno, raw in enumerate(stream, 1):
        text, err = _decode(raw, source, lineno)
        if err is not None:
            seen = True
            yield err
        elif text and text.strip():
            seen = True
            yield parse(lineno, text)
    if not seen:
        yield Item(source, None, error="file is empty (no non-blank lines)")


def read_jsonl(stream: BinaryIO, source: str) -> Iterator[Item]:
    """One record per line; blank lines skipped; bad lines become errors."""

    def parse(lineno: int, text: str) -> Item:
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            return Item(source, lineno, error=f"broken JSON: {exc.msg} at column {exc.colno}")
        return _check(source, lineno, record, f"{source}:{lineno}")

    return _nonblank_lines(stream, source, parse)


def read_json(stream: BinaryIO, source: str) -> Iterator[Item]:
    """A JSON array of records, or JSONL when the file does not start with '['."""
    data = stream.read()
    text, err = _decode(data, source, None)
    if err is not None:
        yield err
        return
    assert text is not None
    if not text.lstrip().startswith("["):
        yield from read_jsonl(io.BytesIO(data), source)
        return
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Item(source, exc.lineno, error=f"broken JSON: {exc.msg} at column {exc.colno}")
        return
    if not records:
        yield Item(source, None, error="JSON array is empty")
    for k, record in enumerate(records, 1):
        yield _check(source, k, record, f"{source}:{k}")


def read_csv(stream: BinaryIO, source: str, options: ReadOptions, delimiter: str = ",") -> Iterator[Item]:
    """One record per row; the text, id and title columns as `options` name them."""
    # surrogateescape keeps undecodable bytes visible so one bad row does not sink the file.
    handle = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(handle, delimiter=delimiter)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        yield Item(source, 1, error=f"broken CSV header: {exc}")
        return
    if not header:
        yield Item(source, None, error="file is empty")
        return
    if options.text_column not in header:
        yield Item(
            source, 1,
            error=f"no column {options.text_column!r} (columns: {', '.join(header)}); pass --text-column",
        )  # fmt: skip
        return
    start = reader.line_num + 1
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Item(source, start, error=f"broken CSV row: {exc}")
            start = reader.line_num + 1
            continue
        rows += 1
        line = start
        start = reader.line_num + 1
        values = [v for v in row.values() if isinstance(v, str)]
        if any(_has_surrogates(v) for v in values):
            yield Item(
                source, line, error="not valid UTF-8 (undecodable bytes in this row); re-encode as UTF-8"
            )
            continue
        if None in row:
            yield Item(source, line, error=f"row has more fields than the header ({len(header)})")
            continue
        record: dict[str, Any] = {"text": row.get(options.text_column)}
        if row.get(options.id_column):
            record["id"] = row[options.id_column]
        if row.get("title"):
            record["title"] = row["title"]
        yield _check(source, line, record, f"{source}:{line}")
    if rows == 0:
        yield Item(source, None, error="CSV has a header but no rows")


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def read_text_lines(stream: BinaryIO, source: str) -> Iterator[Item]:
    """One post per non-empty line."""

    def parse(lineno: int, text: str) -> Item:
        return _check(source, lineno, {"text": text.rstrip("\r\n")}, f"{source}:{lineno}")

    return _nonblank_lines(stream, source, parse)


def read_whole(stream: BinaryIO, source: str, kind: str) -> Iterator[Item]:
    """The whole file as one post (HTML reduced to its visible text and title)."""
    text, err = _decode(stream.read(), source, None)
    if err is not None:
        yield err
        return
    assert text is not None
    record: dict[str, Any] = {"text": text}
    if kind == "html":
        from .html import extract_article

        article = extract_article(text)
        record = {"text": article.text}
        if article.title:
            record["title"] = article.title
    if not record["text"].strip():
        what = "no visible text" if kind == "html" else "file is empty"
        yield Item(source, None, error=what)
        return
    yield _check(source, None, record, source)


def _read_stdin(options: ReadOptions) -> Iterator[Item]:
    """Stream stdin; with format "auto", the first non-blank byte picks JSONL, JSON or text."""
    stream: BinaryIO = sys.stdin.buffer
    fmt = options.input_format
    if fmt == "auto":
        # Peek (without consuming) far enough to skip leading whitespace; stdin is not seekable.
        buffered = io.BufferedReader(stream, buffer_size=1 << 16) if not hasattr(stream, "peek") else stream
        first = buffered.peek(1 << 16).lstrip()[:1]  # type: ignore[attr-defined]
        stream = buffered
        fmt = "jsonl" if first == b"{" else "json" if first == b"[" else "text"
    yield from _read_stream(stream, "<stdin>", fmt, options)


def _read_stream(stream: BinaryIO, source: str, fmt: str, options: ReadOptions) -> Iterator[Item]:
    if fmt == "jsonl":
        yield from read_jsonl(stream, source)
    elif fmt == "json":
        yield from read_json(stream, source)
    elif fmt in ("csv", "tsv"):
        yield from read_csv(stream, source, options, delimiter="\t" if fmt == "tsv" else ",")
    elif fmt == "text" and not options.whole_file:
        yield from read_text_lines(stream, source)
    else:
        yield from read_whole(stream, source, "html" if fmt == "html" else "text")


def read_folder(root: Path, options: ReadOptions) -> Iterator[Item]:
    """Every `.txt`/`.md`/`.html`/`.htm` file below `root`, sorted by path, one post each."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    posts = [p for p in files if p.suffix.lower() in FOLDER_SUFFIXES]
    options.ignored_files += [str(p) for p in files if p.suffix.lower() not in FOLDER_SUFFIXES]
    if not posts:
        yield Item(str(root), None, error=f"folder has no {'/'.join(FOLDER_SUFFIXES)} files")
    for p in posts:
        kind = "html" if p.suffix.lower() in (".html", ".htm") else "text"
        try:
            with open(p, "rb") as fh:
                yield from read_whole(fh, str(p), kind)
        except OSError as exc:
            yield Item(str(p), None, error=f"cannot read: {exc.strerror or exc}")


def read_inputs(inputs: list[str], options: ReadOptions | None = None) -> Iterator[Item]:
    """Items from every input, in the order given (see the module docstring for formats).

    Args:
        inputs: file paths, folder paths, or "-" for stdin.
        options: how to read them.

    Yields:
        `Item`s: records to classify or errors naming file and line.
    """
    options = options or ReadOptions()
    for name in inputs:
        if name == "-":
            yield from _read_stdin(options)
            continue
        path = Path(name)
        if path.is_dir():
            yield from read_folder(path, options)
            continue
        if not path.exists():
            yield Item(name, None, error="file not found")
            continue
        fmt = _format_of(path, options)
        if fmt is None:
            yield Item(name, None, error=f"unknown input format {path.suffix!r}; pass --input-format")
            continue
        try:
            if path.stat().st_size == 0:
                yield Item(name, None, error="file is empty")
                continue
            with _open_binary(path) as fh:
                yield from _read_stream(fh, name, fmt, options)
        except (OSError, EOFError) as exc:
            yield Item(name, None, error=f"cannot read: {exc}")
