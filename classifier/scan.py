"""Bulk scan: read many inputs, classify in batches (optionally in worker processes), write
one result per record in input order, report every skipped input, resume after interruption.

`scan(inputs, options)` is what `promoguard scan` calls; it returns a `ScanSummary`. Readers
are in `readers.py`, writers in `writers.py`.

Interruption: results are written a batch at a time as whole lines and flushed, so Ctrl-C (or
a kill) leaves a file of complete lines, at worst plus one partial line that `--resume` cuts
off. `--resume` counts the complete results and recorded errors, skips that many records and
errors of the (deterministic) input stream, checks that the last skipped record has the id of
the last result written, and appends the rest.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .readers import Item, ReadOptions, read_inputs
from .writers import ErrorWriter, errors_path_for, open_output, prior_progress

log = logging.getLogger(__name__)

DEFAULT_BATCH = 64  # records per classify_batch call (and per flush)


class ScanError(Exception):
    """The scan cannot start or continue (bad options, output that does not match the inputs)."""


@dataclass
class ScanOptions:
    """Options for `scan` (the CLI flags of `promoguard scan`).

    Attributes:
        output: result file; None writes JSONL/CSV to stdout (no errors file, no resume).
        fmt: "jsonl" or "csv".
        bundle: bundle folder; None uses the default bundle.
        policy, config: policy preset and config file (see `classifier.policy`).
        workers: worker processes, each loading the classifier once; 1 runs in-process.
        batch_size: records per batch.
        resume: continue an interrupted scan of the same inputs into the same output.
        overwrite: replace an existing output (otherwise refused unless resuming).
        progress: show a progress bar; None means only when stderr is a terminal.
        read: how inputs are read (formats, CSV columns, whole-file text).
        threads: onnxruntime threads per process; None picks cpus // workers.
        evidence: "window" or "sentence" model evidence (see `Classifier.load`).
    """

    output: Path | None = None
    fmt: str = "jsonl"
    bundle: Path | None = None
    policy: str = "standard"
    config: Path | None = None
    workers: int = 1
    batch_size: int = DEFAULT_BATCH
    resume: bool = False
    overwrite: bool = False
    progress: bool | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    threads: int | None = None
    evidence: str = "window"

    def __post_init__(self) -> None:
        if self.fmt not in ("jsonl", "csv"):
            raise ScanError(f"unknown output format {self.fmt!r}; use jsonl or csv")
        if self.workers < 1:
            raise ScanError(f"--workers must be at least 1, got {self.workers}")
        if self.batch_size < 1:
            raise ScanError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.evidence not in ("window", "sentence"):
            raise ScanError(f"--evidence must be window or sentence, got {self.evidence!r}")
        if self.resume and self.output is None:
            raise ScanError("--resume needs an output file (-o OUT)")


@dataclass
class ScanSummary:
    """What a scan did. `posts_per_s` counts records classified in this run."""

    records: int = 0
    errors: int = 0
    resumed_from: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    chars: int = 0
    interrupted: bool = False
    output: Path | None = None
    errors_file: Path | None = None
    ignored_files: list[str] = field(default_factory=list)

    @property
    def posts_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def chars_per_s(self) -> float:
        return self.chars / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records, "errors": self.errors, "resumed_from": self.resumed_from,
            "decisions": dict(self.decisions), "labels": dict(self.labels),
            "seconds": round(self.seconds, 3), "posts_per_s": round(self.posts_per_s, 1),
            "chars_per_s": round(self.chars_per_s, 1), "interrupted": self.interrupted,
            "output": str(self.output) if self.output else None,
            "errors_file": str(self.errors_file) if self.errors_file else None,
        }  # fmt: skip


# -- worker processes ----------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(bundle: str | None, policy: str, config: str | None, threads: int, evidence: str) -> None:
    # The parent handles Ctrl-C and stops the pool; workers must not die mid-batch on their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .core import Classifier

    try:
        _WORKER["clf"] = Classifier.load(bundle, policy, config, threads=threads, evidence=evidence)
    except Exception as exc:  # reported by the first task, not by an endlessly respawning pool
        _WORKER["error"] = exc


def _worker_classify(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if "error" in _WORKER:
        raise _WORKER["error"]
    return _WORKER["clf"].classify_batch(records)


# -- the scan ------------------------------------------------------------------------------


def _batches(items: Iterable[Item], size: int, on_error: Any) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        if item.record is None:
            on_error(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _skip_done(items: Iterable[Item], done: int, errors_done: int, last_id: str | None) -> Iterator[Item]:
    """Skip the first `done` records and `errors_done` errors; check the last skipped id."""
    seen_ok = seen_err = 0
    last_skipped: str | None = None
    for item in items:
        if item.record is None and seen_err < errors_done:
            seen_err += 1
            continue
        if item.record is not None and seen_ok < done:
            seen_ok += 1
            last_skipped = str(item.record["id"])
            if seen_ok == done and last_id is not None and last_skipped != last_id:
                raise ScanError(
                    f"cannot resume: result {done} in the output has id {last_id!r} but input record {done} "
                    f"has id {last_skipped!r}; resume with the same inputs and options, or start over "
                    "with --overwrite"
                )
            continue
        yield item
    if seen_ok < done:
        raise ScanError(
            f"cannot resume: the output holds {done} results but the inputs have only {seen_ok} records; "
            "resume with the same inputs, or start over with --overwrite"
        )


def _progress(enabled: bool | None, initial: int) -> Any:
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(
        desc="scan", unit=" posts", initial=initial, disable=not show, file=sys.stderr,
        dynamic_ncols=True, smoothing=0.1,
    )  # fmt: skip


def scan(inputs: list[str], options: ScanOptions) -> ScanSummary:
    """Classify every record of `inputs` and write one result per record, in input order.

    Args:
        inputs: files, folders, or "-" (stdin); formats as `classifier.readers` describes.
        options: see `ScanOptions`.

    Returns:
        A `ScanSummary` (interrupted=True when stopped by Ctrl-C; the output is still valid).

    Raises:
        ScanError: the output exists (without --resume/--overwrite) or does not match the
            inputs on resume.
        BundleError, PolicyError: the bundle or the policy cannot be loaded.
    """
    from .bundle import load_bundle
    from .normalize import NORMALIZER_VERSION

    out = options.output
    if (
        out is not None
        and out.exists()
        and out.stat().st_size > 0
        and not (options.resume or options.overwrite)
    ):
        raise ScanError(
            f"{out} already exists; pass --resume to continue that scan or --overwrite to replace it"
        )
    summary = ScanSummary(output=out, errors_file=errors_path_for(out) if out else None)

    done, errors_done, last_id = 0, 0, None
    if options.resume and out is not None:
        try:
            done, errors_done, last_id = prior_progress(out, options.fmt)
        except ValueError as exc:
            raise ScanError(str(exc)) from exc
        summary.resumed_from = done
        log.info("resuming %s: %d results and %d errors already written", out, done, errors_done)

    clf = None
    pool: Any = None
    if options.workers == 1:
        from .core import Classifier

        clf = Classifier.load(
            options.bundle, options.policy, options.config, threads=options.threads, evidence=options.evidence
        )
        labels = clf.labels
    else:
        from .core import Classifier  # noqa: F401  (fail fast on a bad bundle before spawning)
        from .policy import Policy

        bundle = load_bundle(options.bundle)
        if bundle.normalizer_version != NORMALIZER_VERSION:
            Classifier.load(options.bundle)  # raises the detailed BundleError
        Policy.build(bundle.thresholds, options.policy, options.config)
        labels = bundle.labels
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        threads = options.threads or max(1, (os.cpu_count() or 1) // options.workers)
        # An executor, not multiprocessing.Pool: a worker that dies (OOM, crash) fails the scan
        # with BrokenProcessPool instead of leaving the parent waiting forever.
        pool = ProcessPoolExecutor(
            options.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
            initargs=(str(options.bundle) if options.bundle else None, options.policy,
                      str(options.config) if options.config else None, threads, options.evidence),
        )  # fmt: skip

    writer = open_output(out, options.fmt, labels, options.resume)
    errors = ErrorWriter(summary.errors_file, append=options.resume)

    def on_error(item: Item) -> None:
        log.warning("skipped %s: %s", item.where, item.error)
        errors.write(item.error_row())
        summary.errors += 1

    bar = _progress(options.progress, done)
    start = time.perf_counter()

    def record(batch: list[Item], results: list[dict[str, Any]]) -> None:
        writer.write_batch(results)
        for item, res in zip(batch, results, strict=True):
            summary.records += 1
            summary.chars += len(item.record["text"]) if item.record else 0
            summary.decisions[res["decision"]] += 1
            summary.labels.update(res["labels"])
        bar.update(len(results))

    items = read_inputs(inputs, options.read)
    if options.resume:
        items = _skip_done(items, done, errors_done, last_id)
    try:
        if pool is None:
            assert clf is not None
            for batch in _batches(items, options.batch_size, on_error):
                record(batch, clf.classify_batch([it.record for it in batch]))
        else:
            pending: deque[tuple[list[Item], Any]] = deque()
            for batch in _batches(items, options.batch_size, on_error):
                pending.append((batch, pool.submit(_worker_classify, [it.record for it in batch])))
                while len(pending) > 2 * options.workers:
                    b, future = pending.popleft()
                    record(b, future.result())
            while pending:
                b, future = pending.popleft()
                record(b, future.result())
    except KeyboardInterrupt:
        summary.interrupted = True
        log.warning(
            "interrupted: %s holds %d complete results; rerun with --resume to finish",
            out or "stdout",
            done + summary.records,
        )
    finally:
        summary.seconds = time.perf_counter() - start
        bar.close()
        if pool is not None:
            # Workers ignore SIGINT; queued batches are cancelled, running ones finish unwritten.
            pool.shutdown(wait=True, cancel_futures=True)
        if out is not None:
            writer.close()
        errors.close()
    summary.ignored_files = list(options.read.ignored_files)
    if summary.ignored_files:
        shown = ", ".join(summary.ignored_files[:5]) + (" ..." if len(summary.ignored_files) > 5 else "")
        log.warning("ignored %d files that are not .txt/.md/.html: %s", len(summary.ignored_files), shown)
    return summary


def summary_counts(summary: ScanSummary, labels: Iterable[str] | None = None) -> Mapping[str, Any]:
    """Counts for display: decisions in policy order, labels in taxonomy order."""
    from .policy import DECISIONS
    from .taxonomy import LABELS

    return {
        "decisions": {d: summary.decisions.get(d, 0) for d in DECISIONS},
        "labels": {x: summary.labels.get(x, 0) for x in (labels or LABELS)},
    }
