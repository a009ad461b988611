"""`promoguard scan --engine ray`: the bulk scan on Ray Data, for archives one machine is too slow for.

One streaming pass, nothing of our own for scheduling, retries or spilling:

    read_binary_files(files)         one row per input file; Ray spreads files over read tasks
    -> map_batches(_parse_files)     the local engine's readers (`classifier.readers`): one row
                                     per record or per bad input, with file and line
    -> repartition(rows per block)   so that one big file still feeds every actor
    -> map_batches(_Scorer, ActorPoolStrategy(size=workers))
                                     an actor pool; each actor loads the bundle once
    -> write_datasink(_ResultSink)   part files in OUT/, as Ray writes them; each write task
                                     returns its counts and its bad inputs to the driver

The driver then writes ``OUT.errors.jsonl`` (same rows as the local engine) and returns the
same `ScanSummary`. Result lines are formatted by the local engine's `ResultWriter`, so a
JSONL/CSV part line is byte-for-byte the line `--engine local` writes for that record.

Differences from `--engine local`: OUT is a folder of part files in no particular order (join
by id); no `--resume` and no stdin; each input file is read whole by one task (shard huge
files to read them in parallel); `.parquet` inputs are read too.

Ray is optional (``pip install 'promoguard[ray]'``): nothing imports this module unless the
Ray engine is chosen, and it imports Ray inside its functions.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .readers import FOLDER_SUFFIXES, Item, ReadOptions, _check, _format_of, _read_stream, read_whole
from .scan import ScanError, ScanSummary
from .writers import ErrorWriter, ResultWriter, errors_path_for

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'promoguard[ray]'"
RAY_FORMATS = ("jsonl", "csv", "parquet")
DEFAULT_RAY_BATCH = 256  # records per actor call; the core still groups windows by length inside
MIN_ROWS_PER_BLOCK = 256  # Ray hands actors whole blocks: small to spread them, big to amortise a task
ROWS_PER_FILE = 10_000  # results per part file (at least; one file per write task)


def require_ray() -> Any:
    """Import Ray Data, or explain how to install it.

    Returns:
        The `ray` module (with `ray.data` imported).

    Raises:
        ScanError: Ray Data is not installed; the message names the pip command.
    """
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ScanError(
            f"--engine ray needs Ray Data, which is not installed ({exc}); run: {INSTALL_HINT}"
        ) from exc
    return ray


@dataclass
class RayScanOptions:
    """Options for `scan_ray` (the CLI flags of `promoguard scan --engine ray`).

    Attributes:
        output: the result folder; on a cluster, on storage every node can write (NFS, ...).
        fmt: ``jsonl``, ``csv`` or ``parquet`` part files.
        bundle: bundle folder on the driver (shipped to every worker); None: the default bundle.
        policy, config: policy preset and config file, resolved on the driver.
        workers: actors in the pool, each with its own ONNX session.
        threads: onnxruntime threads (and Ray CPUs) per actor.
        batch_size: records per actor call.
        address: a running Ray cluster (``HOST:6379``, or ``auto`` on one of its nodes); None
            uses ``$RAY_ADDRESS`` when set (as inside ``ray job submit``), else starts a local
            Ray instance for this scan.
        num_cpus: CPUs of the local instance; None: this machine's count.
        overwrite: replace a non-empty OUT folder.
        progress: Ray Data's progress bars; None: only when stderr is a terminal.
        read: how inputs are read (formats, CSV/Parquet columns, whole-file text).
    """

    output: Path
    fmt: str = "jsonl"
    bundle: Path | None = None
    policy: str = "standard"
    config: Path | None = None
    workers: int = 1
    threads: int = 1
    batch_size: int = DEFAULT_RAY_BATCH
    address: str | None = None
    num_cpus: int | None = None
    overwrite: bool = False
    progress: bool | None = None
    read: ReadOptions = field(default_factory=ReadOptions)

    def __post_init__(self) -> None:
        if self.fmt not in RAY_FORMATS:
            raise ScanError(
                f"unknown output format {self.fmt!r} for --engine ray; use {', '.join(RAY_FORMATS)}"
            )
        for name in ("workers", "threads", "batch_size"):
            if getattr(self, name) < 1:
                raise ScanError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")


# -- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    """One INPUT argument: its position, the name as given, its absolute path."""

    order: int
    name: str
    path: str


@dataclass(frozen=True)
class _Plan:
    """What Ray reads: file paths, and the (small) input list that names and formats each file."""

    paths: list[str]
    files: dict[str, _Input]
    folders: list[_Input]

    def source(self, path: str, read: ReadOptions) -> tuple[int, str, str]:
        """(input position, name as the local engine prints it, format) of one file Ray read."""
        path = os.path.abspath(path)
        if path in self.files:
            given = self.files[path]
            fmt = "parquet" if given.name.lower().endswith(".parquet") else _format_of(Path(given.name), read)
            return given.order, given.name, fmt or "text"
        for folder in self.folders:
            if path.startswith(folder.path + os.sep):
                # Spelled as `Path.rglob` in `readers.read_folder` spells it.
                name = str(Path(folder.name) / os.path.relpath(path, folder.path))
                return (
                    folder.order,
                    name,
                    "whole-html" if name.lower().endswith((".html", ".htm")) else "whole-text",
                )
        raise KeyError(f"{path} is not one of the scan's inputs")


def plan_inputs(inputs: list[str], read: ReadOptions) -> tuple[_Plan, list[tuple[int, Item]]]:
    """Expand inputs into the files to read, listing folders as `readers.read_folder` does.

    Returns:
        (the plan, and inputs that are errors already (missing, unknown format, empty folder)
        with their input position).

    Raises:
        ScanError: stdin was given (Ray workers cannot read the driver's stdin).
    """
    plan = _Plan([], {}, [])
    errors: list[tuple[int, Item]] = []
    for order, name in enumerate(inputs):
        path = Path(name)
        if name == "-":
            raise ScanError("--engine ray reads files and folders, not stdin; save the input to a file")
        if path.is_dir():
            # The listing rule of `readers.read_folder`, without reading the files on the driver.
            found = sorted(p for p in path.rglob("*") if p.is_file())
            posts = [os.path.abspath(p) for p in found if p.suffix.lower() in FOLDER_SUFFIXES]
            read.ignored_files += [str(p) for p in found if p.suffix.lower() not in FOLDER_SUFFIXES]
            if not posts:
                errors.append(
                    (order, Item(name, None, error=f"folder has no {'/'.join(FOLDER_SUFFIXES)} files"))
                )
            plan.folders.append(_Input(order, name, os.path.abspath(path)))
            plan.paths.extend(posts)
        elif not path.exists():
            errors.append((order, Item(name, None, error="file not found")))
        elif path.suffix.lower() != ".parquet" and _format_of(path, read) is None:
            errors.append(
                (order, Item(name, None, error=f"unknown input format {path.suffix!r}; pass --input-format"))
            )
        else:
            plan.files[os.path.abspath(path)] = _Input(order, name, os.path.abspath(path))
            plan.paths.append(os.path.abspath(path))
    return plan, errors


def _read_parquet(data: bytes, source: str, read: ReadOptions) -> Iterator[Item]:
    """Parquet rows as records: the text, id, title and account columns, as CSV rows are read."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a file that is not Parquet
        yield Item(source, None, error=f"not a readable Parquet file: {exc}")
        return
    names = pf.schema_arrow.names
    if read.text_column not in names:
        yield Item(
            source,
            None,
            error=f"no column {read.text_column!r} (columns: {', '.join(names)}); pass --text-column",
        )
        return
    row = 0
    for batch in pf.iter_batches(batch_size=4096):
        for values in batch.to_pylist():
            row += 1
            record = {"text": values.get(read.text_column)}
            for key, column in (("id", read.id_column), ("title", "title"), ("account", "account")):
                if values.get(column) is not None:
                    record[key] = values[column]
            yield _check(source, row, record, f"{source}:{row}")
    if row == 0:
        yield Item(source, None, error="Parquet file has no rows")


def _items_of(data: bytes, name: str, fmt: str, read: ReadOptions) -> Iterator[Item]:
    """The local engine's items for one file's bytes (see `classifier.readers.read_inputs`)."""
    import gzip

    if not data:
        yield Item(name, None, error="file is empty")
    elif fmt == "parquet":
        yield from _read_parquet(data, name, read)
    elif fmt.startswith("whole-"):
        yield from read_whole(io.BytesIO(data), name, fmt.removeprefix("whole-"))
    else:
        try:
            stream = io.BytesIO(gzip.decompress(data) if name.endswith(".gz") else data)
        except (OSError, EOFError) as exc:
            yield Item(name, None, error=f"cannot read: {exc}")
            return
        yield from _read_stream(stream, name, fmt, read)


def _parse_files(batch: Any, plan: _Plan, read: ReadOptions, chunk: int = 8192) -> Iterator[Any]:
    """Ray `map_batches` function: file rows (``bytes``, ``path``) -> record/error rows."""
    import pyarrow as pa

    schema = pa.schema([("order", pa.int64()), ("source", pa.string()), ("line", pa.int64()),
                        ("record", pa.string()), ("error", pa.string())])  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    for path, data in zip(batch.column("path").to_pylist(), batch.column("bytes").to_pylist(), strict=True):
        order, name, fmt = plan.source(path, read)
        for item in _items_of(data, name, fmt, read):
            record = None if item.record is None else json.dumps(item.record, ensure_ascii=False)
            rows.append((order, item.source, item.line, record, item.error))
            if len(rows) >= chunk:
                yield _rows_table(rows, schema)
                rows = []
    yield _rows_table(rows, schema)


def _rows_table(rows: list[tuple[Any, ...]], schema: Any) -> Any:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


# -- the bundle on every worker -------------------------------------------------------------


def bundle_payload(path: Path | None) -> dict[str, bytes]:
    """The verified bundle's files (those in SHA256SUMS, and SHA256SUMS), to ship to workers.

    Shipping the bytes means a cluster needs PromoGuard installed, not the bundle copied to
    every node, and every actor scores with exactly the driver's model.
    """
    from .bundle import CHECKSUMS_FILE, load_bundle

    root = load_bundle(path).path
    names = [
        line.partition("  ")[2] for line in (root / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines()
    ]
    return {name: (root / name).read_bytes() for name in [*filter(None, names), CHECKSUMS_FILE]}


def materialize_bundle(payload: dict[str, bytes]) -> Path:
    """Write a shipped bundle once per machine (keyed by its checksums) and return the folder."""
    import shutil

    from .bundle import CHECKSUMS_FILE, BundleError, verify_checksums

    digest = hashlib.sha256(payload[CHECKSUMS_FILE]).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / "promoguard-bundles" / digest
    if root.is_dir():
        try:
            verify_checksums(root)
            return root
        except BundleError:  # a copy damaged since an earlier scan: write it again
            shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{digest}-"))
    for name, data in payload.items():
        (part / name).write_bytes(data)
    try:
        os.rename(part, root)  # atomic: actors on one machine race to publish the same folder
    except OSError:
        shutil.rmtree(part, ignore_errors=True)
    return root


# -- classification -------------------------------------------------------------------------


class _Scorer:
    """Ray actor: loads the bundle once, then classifies batches of parsed rows."""

    def __init__(self, payload: Any, policy: Any, fmt: str, threads: int) -> None:
        import ray

        from .core import Classifier

        if isinstance(payload, list):  # [ObjectRef]: shipped once through the object store
            payload = ray.get(payload[0])
        self.clf = Classifier.load(materialize_bundle(payload), policy, threads=threads)
        # CSV/JSONL lines exactly as the local engine writes them; Parquet is built from JSONL.
        self.writer = ResultWriter(io.StringIO(), "csv" if fmt == "csv" else "jsonl", self.clf.labels, False)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.to_pylist()
        records = [json.loads(r["record"]) for r in rows if r["error"] is None]
        # Every record passed the readers' `validate_record`, so the core does not reject one.
        results = iter(zip(records, self.clf.classify_batch(records), strict=True))
        out = []
        for row in rows:
            where = {"order": row["order"], "source": row["source"], "line": row["line"]}
            if row["error"] is not None:
                out.append(
                    {
                        **where,
                        "output": None,
                        "decision": None,
                        "labels": [],
                        "chars": 0,
                        "error": row["error"],
                    }
                )
                continue
            record, res = next(results)
            out.append({**where, "output": self.writer.format(res), "decision": res["decision"],
                        "labels": res["labels"], "chars": len(record["text"]), "error": None})  # fmt: skip
        return pa.Table.from_pylist(out, schema=_scored_schema())


def _scored_schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("order", pa.int64()), ("source", pa.string()), ("line", pa.int64()), ("output", pa.string()),
        ("decision", pa.string()), ("labels", pa.list_(pa.string())), ("chars", pa.int64()),
        ("error", pa.string()),
    ])  # fmt: skip


# -- output ---------------------------------------------------------------------------------


def _parquet_table(lines: list[str], labels: tuple[str, ...]) -> Any:
    """Result lines as a typed table: the CSV columns, with `labels` a list and `evidence` JSON."""
    import pyarrow as pa

    results = [json.loads(line) for line in lines]
    columns: dict[str, Any] = {
        "id": pa.array([str(r["id"]) for r in results], pa.string()),
        "decision": pa.array([r["decision"] for r in results], pa.string()),
        "labels": pa.array([r["labels"] for r in results], pa.list_(pa.string())),
    }
    for label in labels:
        columns[f"score_{label}"] = pa.array([r["scores"].get(label) for r in results], pa.float64())
    evidence = [json.dumps(r["evidence"], ensure_ascii=False) for r in results]
    columns["evidence"] = pa.array(evidence, pa.string())
    columns["model_version"] = pa.array([r["model_version"] for r in results], pa.string())
    return pa.table(columns)


def _make_sink(path: str, fmt: str, labels: tuple[str, ...], overwrite: bool) -> Any:
    """A Ray file datasink writing result part files; each write task returns its counts and errors."""
    from ray.data.block import BlockAccessor
    from ray.data.datasource import BlockBasedFileDatasink, SaveMode

    class _ResultSink(BlockBasedFileDatasink):
        def write_block_to_file(self, block: BlockAccessor, file: Any) -> None:
            lines = block.to_arrow().column("output").to_pylist()
            if fmt == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(_parquet_table(lines, labels), file)
                return
            head = ResultWriter(io.StringIO(), fmt, labels, True).fh.getvalue() if fmt == "csv" else ""
            file.write((head + "".join(lines)).encode("utf-8"))  # every part file has the CSV header

        write_returns: list[dict[str, Any]] = []

        def on_write_complete(self, write_result: Any) -> None:
            super().on_write_complete(write_result)
            self.write_returns = [r for r in write_result.write_returns if r]  # runs on the driver

        def write(self, blocks: Any, ctx: Any) -> dict[str, Any]:
            import pyarrow as pa
            import pyarrow.compute as pc

            tables = [BlockAccessor.for_block(b).to_arrow() for b in blocks]
            table = pa.concat_tables(tables) if tables else _scored_schema().empty_table()
            bad = pc.is_valid(table.column("error"))
            good = table.filter(pc.invert(bad))
            if good.num_rows:
                self.write_block(BlockAccessor.for_block(good), 0, ctx)
            labels_seen = Counter(x for xs in good.column("labels").to_pylist() for x in xs)
            return {
                "records": good.num_rows,
                "chars": int(pc.sum(good.column("chars")).as_py() or 0),
                "decisions": Counter(good.column("decision").to_pylist()),
                "labels": labels_seen,
                "errors": table.filter(bad).select(["order", "source", "line", "error"]).to_pylist(),
            }

    mode = SaveMode.OVERWRITE if overwrite else SaveMode.APPEND
    return _ResultSink(path, file_format=fmt, mode=mode, min_rows_per_file=ROWS_PER_FILE)


# -- the scan -------------------------------------------------------------------------------


def _start_ray(ray: Any, options: RayScanOptions) -> bool:
    """Connect to `options.address` or start a local instance; True when this call started Ray."""
    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        return True
    # One logical CPU beyond the pool: the actors hold theirs for the whole scan, and the read,
    # parse and write tasks (light, I/O-bound) would otherwise wait for a CPU forever.
    cpus = max(options.num_cpus or os.cpu_count() or 1, options.workers * options.threads) + 1
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    return True


def _check_capacity(ray: Any, options: RayScanOptions) -> None:
    """Refuse a pool that would take every CPU of the cluster (the scan would never finish)."""
    cpus = ray.cluster_resources().get("CPU", 0)
    if options.workers * options.threads >= cpus:
        raise ScanError(
            f"--workers {options.workers} x --threads {options.threads} needs "
            f"{options.workers * options.threads} CPUs for the actor pool, plus some for reading and "
            f"writing, but the Ray cluster has {cpus:g}; "
            f"use at most --workers {max(int(cpus - 1) // options.threads, 1)}"
        )


def scan_ray(inputs: list[str], options: RayScanOptions) -> ScanSummary:
    """Classify every record of `inputs` on Ray and write result part files into `options.output`.

    Args:
        inputs: files and folders (formats as `classifier.readers`, plus ``.parquet``); on a
            cluster every worker must be able to read them (shared or object storage).
        options: see `RayScanOptions`.

    Returns:
        A `ScanSummary`: counts per decision and label, bad inputs, seconds and throughput of
        the Ray pipeline (Ray start-up excluded; actor start-up and bundle loading included).

    Raises:
        ScanError: Ray is missing, stdin was given, OUT is a non-empty folder without
            ``overwrite``, or the Ray job failed.
        BundleError, PolicyError: the bundle or the policy cannot be loaded.
    """
    from .bundle import load_bundle
    from .policy import Policy

    ray = require_ray()
    out = Path(options.output)
    if out.is_file():
        raise ScanError(f"--engine ray writes a folder of part files, but {out} is a file; name a folder")
    if out.is_dir() and any(out.iterdir()) and not options.overwrite:
        raise ScanError(f"{out} is a folder that already holds files; pass --overwrite to replace them")
    bundle = load_bundle(options.bundle)
    policy = Policy.build(bundle.thresholds, options.policy, options.config)
    payload = bundle_payload(options.bundle)
    plan, errors = plan_inputs(inputs, options.read)
    summary = ScanSummary(output=out, errors_file=errors_path_for(out))

    started = _start_ray(ray, options)
    try:
        _check_capacity(ray, options)
        ctx = ray.data.DataContext.get_current()
        show = options.progress if options.progress is not None else os.isatty(2)
        ctx.enable_progress_bars = ctx.print_on_execution_start = bool(show)
        if not show:
            logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-run INFO lines
        start = time.perf_counter()
        if plan.paths:
            payload_ref = ray.put(payload)  # held here while the actors may still need it
            sink = _make_sink(str(out), options.fmt, bundle.labels, options.overwrite)
            ds = ray.data.read_binary_files(plan.paths, include_paths=True)
            read = {"plan": plan, "read": options.read}
            ds = ds.map_batches(_parse_files, batch_format="pyarrow", batch_size=1, fn_kwargs=read)
            ds = ds.repartition(target_num_rows_per_block=max(options.batch_size, MIN_ROWS_PER_BLOCK))
            ds = ds.map_batches(
                _Scorer, batch_format="pyarrow", batch_size=options.batch_size, num_cpus=options.threads,
                compute=ray.data.ActorPoolStrategy(size=options.workers),
                fn_constructor_args=([payload_ref], policy, options.fmt, options.threads),
            )  # fmt: skip
            try:
                ds.write_datasink(sink)
            except Exception as exc:  # Ray wraps worker failures in its own exception types
                raise ScanError(f"the Ray job failed: {exc}") from exc
            for stats in sink.write_returns:
                summary.records += stats["records"]
                summary.chars += stats["chars"]
                summary.decisions.update(stats["decisions"])
                summary.labels.update(stats["labels"])
                errors += [
                    (e["order"], Item(e["source"], e["line"], error=e["error"])) for e in stats["errors"]
                ]
        summary.seconds = time.perf_counter() - start
    finally:
        if started:
            ray.shutdown()
    _report_errors(errors, summary)
    summary.ignored_files = list(options.read.ignored_files)
    return summary


def _report_errors(errors: list[tuple[int, Item]], summary: ScanSummary) -> None:
    """Log and write bad inputs in input order (input, then line), as the local engine does."""
    errors.sort(key=lambda e: (e[0], Path(e[1].source).parts, e[1].line or 0))
    writer = ErrorWriter(summary.errors_file, append=False)
    try:
        for _, item in errors:
            log.warning("skipped %s: %s", item.where, item.error)
            writer.write(item.error_row())
    finally:
        writer.close()
    summary.errors = len(errors)


def scan_ray_command(
    inputs: list[str], *, engine: str, output: Path | None, resume: bool, threads: int | None, **options: Any
) -> ScanSummary:
    """What `promoguard scan --engine ray` runs: check the flags that differ from the local engine.

    Raises:
        ScanError: an unknown engine, no ``-o FOLDER``, ``--resume``, or anything `scan_ray` raises.
    """
    if engine != "ray":
        raise ScanError(f"unknown --engine {engine!r}; use local or ray")
    if output is None:
        raise ScanError("--engine ray writes a folder of part files; pass -o FOLDER")
    if resume:
        raise ScanError("--engine ray cannot --resume; rerun into a new folder (or --overwrite)")
    return scan_ray(inputs, RayScanOptions(output=output, threads=threads or 1, **options))
