"""Result and error writers for bulk scans: whole lines only, flushed per batch, resumable.

JSONL: one DESIGN.md result per line. CSV: a header, then one row per result with columns
``id, decision, labels`` (``;``-joined), ``score_<label>`` per label, ``evidence`` (the
evidence list as JSON) and ``model_version``; line breaks in an id are written as ``\\n`` so
every row is one physical line. Errors: ``OUT.errors.jsonl``, one ``{"source", "line",
"error"}`` object per skipped input.

Resuming (`open_for_resume`): a partial last line (the process was killed mid-write) is cut
off; the number of complete records tells the scan how many inputs to skip.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

OUTPUT_FORMATS = ("jsonl", "csv")


def errors_path_for(output: Path) -> Path:
    """`OUT.errors.jsonl` beside the output file."""
    return output.with_name(output.name + ".errors.jsonl")


def _truncate_partial_line(path: Path) -> None:
    """Cut a file back to its last newline (drop a line cut short by a kill)."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as fh:
        pos = size
        block = 1 << 16
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                end = start + idx + 1
                if end != size:
                    fh.truncate(end)
                return
            pos = start
        fh.truncate(0)


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return count


def _last_line(path: Path) -> str | None:
    size = path.stat().st_size
    if size == 0:
        return None
    with open(path, "rb") as fh:
        back = min(size, 1 << 20)
        fh.seek(size - back)
        tail = fh.read().rstrip(b"\n")
    return tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace") if tail else None


class ResultWriter:
    """Writes results as JSONL or CSV; every write is whole lines, flushed by `flush()`."""

    def __init__(self, fh: IO[str], fmt: str, labels: Sequence[str], write_header: bool) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
        self.fh = fh
        self.fmt = fmt
        self.labels = tuple(labels)
        if fmt == "csv" and write_header:
            self.fh.write(self._csv_line(["id", "decision", "labels", *(f"score_{x}" for x in self.labels),
                                          "evidence", "model_version"]))  # fmt: skip

    @staticmethod
    def _csv_line(values: list[Any]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        return buf.getvalue()

    def format(self, result: dict[str, Any]) -> str:
        """One result as one line of output (newline included)."""
        if self.fmt == "jsonl":
            return json.dumps(result, ensure_ascii=False) + "\n"
        rid = str(result["id"]).replace("\r", "\\r").replace("\n", "\\n")
        return self._csv_line(
            [rid, result["decision"], ";".join(result["labels"]),
             *(result["scores"].get(x, "") for x in self.labels),
             json.dumps(result["evidence"], ensure_ascii=False), result["model_version"]]
        )  # fmt: skip

    def write_batch(self, results: Sequence[dict[str, Any]]) -> None:
        # One write call per batch of complete lines: an interrupt lands before or after it.
        self.fh.write("".join(self.format(r) for r in results))
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class ErrorWriter:
    """Appends `{"source", "line", "error"}` lines (opened lazily: no errors, no file)."""

    def __init__(self, path: Path | None, append: bool) -> None:
        self.path = path
        self.append = append
        self.fh: IO[str] | None = None
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self.count += 1
        if self.path is None:
            return
        if self.fh is None:
            self.fh = open(self.path, "a" if self.append else "w", encoding="utf-8")
        self.fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def prior_progress(output: Path, fmt: str) -> tuple[int, int, str | None]:
    """For `--resume`: (complete results, recorded errors, id of the last result).

    Cuts partial last lines off the output and the errors file first.

    Raises:
        ValueError: the output's last line is not a result of this format.
    """
    done, last_id = 0, None
    if output.exists():
        _truncate_partial_line(output)
        done = _count_lines(output)
        line = _last_line(output)
        if fmt == "csv":
            done = max(done - 1, 0)  # header
            if done and line is not None:
                last_id = next(csv.reader([line]))[0].replace("\\n", "\n").replace("\\r", "\r")
        elif line is not None:
            try:
                last_id = str(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{output}: last line is not a JSONL result ({exc}); cannot resume") from exc
    errors = errors_path_for(output)
    n_errors = 0
    if errors.exists():
        _truncate_partial_line(errors)
        n_errors = _count_lines(errors)
    return done, n_errors, last_id


def open_output(output: Path | None, fmt: str, labels: Sequence[str], resume: bool) -> ResultWriter:
    """Open the result writer: stdout when `output` is None, appending when resuming."""
    import sys

    if output is None:
        return ResultWriter(sys.stdout, fmt, labels, write_header=True)
    exists = resume and output.exists() and output.stat().st_size > 0
    output.parent.mkdir(parents=True, exist_ok=True)
    fh = open(output, "a" if exists else "w", encoding="utf-8", newline="")
    return ResultWriter(fh, fmt, labels, write_header=not exists)
