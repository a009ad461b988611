"""Load generation for `promoguard bench`: threads in-process, httpx over loopback HTTP.

Every scenario stops after `max_requests` requests or `max_seconds`, whichever comes first.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from promoguard.bench_engines import load_engine

SERVER_START_TIMEOUT_S = 180


@dataclass
class Measurement:
    """One scenario: an engine, in-process or over HTTP, at one concurrency."""

    engine: str
    mode: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    throughput_rps: float
    error_samples: list[str] = field(default_factory=list)


def summarise(
    engine: str, mode: str, concurrency: int, latencies: list[float], errors: list[str], seconds: float
) -> Measurement:
    lat = np.asarray(latencies) * 1000.0
    pct = (lambda q: float(np.percentile(lat, q))) if len(lat) else (lambda q: float("nan"))
    return Measurement(
        engine=engine,
        mode=mode,
        concurrency=concurrency,
        requests=len(latencies),
        errors=len(errors),
        seconds=round(seconds, 3),
        p50_ms=pct(50),
        p99_ms=pct(99),
        mean_ms=float(lat.mean()) if len(lat) else float("nan"),
        throughput_rps=len(latencies) / seconds if seconds > 0 else 0.0,
        error_samples=errors[:3],
    )


def measure_inprocess(
    engine: str,
    fn: Callable[[Any], Any],
    payloads: Sequence[Any],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    warmup: int,
) -> Measurement:
    """Call `fn` from `concurrency` threads until `max_requests` calls or `max_seconds` pass."""
    for k in range(warmup):
        fn(payloads[k % len(payloads)])
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    def worker() -> None:
        nonlocal issued
        while True:
            with lock:
                if issued >= max_requests or time.perf_counter() >= deadline:
                    return
                k = issued
                issued += 1
            t0 = time.perf_counter()
            try:
                fn(payloads[k % len(payloads)])
            except Exception as exc:  # counted and reported, the run goes on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker, name=f"bench-{i}") for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summarise(engine, "in-process", concurrency, latencies, errors, time.perf_counter() - start)


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for `POST /v1/moderate`.

    Why not httpx: on this 2-core target, httpx's client spends ~1-2 ms of CPU per request,
    ten times this client, and that CPU is taken from the server being measured.
    """

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST /v1/moderate HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode("ascii")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; returns (status, body). Reconnects if the server closed the connection."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.head + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                self.writer.close()
        if length is None:
            raise ValueError("response without Content-Length")
        payload = await self.reader.readexactly(length)
        if self.writer.is_closing():
            self.writer = None
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def http_load(
    url: str,
    key: str,
    bodies: Sequence[bytes],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    warmup: int,
) -> tuple[list[float], list[str], float]:
    """`POST /v1/moderate` from `concurrency` keep-alive connections; a request counts only if it
    answers 200 with a JSON result that has a `decision`.

    Returns:
        Latencies (s) of successful requests, error descriptions, and the elapsed time (s).
    """
    host, _, port = url.removeprefix("http://").partition(":")
    conns = [_Connection(host, int(port), key) for _ in range(concurrency)]
    for k in range(warmup):
        status, payload = await conns[0].post(bodies[k % len(bodies)])
        if status != 200:
            raise RuntimeError(f"warm-up request failed: HTTP {status}: {payload[:200]!r}")
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(conn: _Connection) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            k = issued
            issued += 1
            t0 = time.perf_counter()
            try:
                status, payload = await conn.post(bodies[k % len(bodies)])
                ok = status == 200 and "decision" in json.loads(payload)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn.writer = None
                continue
            if not ok:
                errors.append(f"HTTP {status}: {payload[:200]!r}")
                continue
            latencies.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for conn in conns:
            conn.close()
    return latencies, errors, time.perf_counter() - start


SERVER_SPEC_ENV = "PROMOGUARD_BENCH_SERVER"  # the bench server's parameters, as JSON


def bench_app() -> Any:
    """uvicorn factory: the real app serving the engine that `SERVER_SPEC_ENV` describes.

    A factory (not an app object) so that `workers > 1` can start it in each worker process.
    """
    from serving.app import create_app
    from serving.config import Settings
    from serving.hooks import NoopReviewSink

    spec = json.loads(os.environ[SERVER_SPEC_ENV])
    weights = Path(spec["weights"]) if spec["weights"] else None
    clf = load_engine(spec["engine"], Path(spec["bundle"]) if spec["bundle"] else None, weights)
    settings = Settings(
        env="development",
        api_keys=f"pipeline:{spec['key']}",
        inference_threads=spec["inference_threads"],
        data_dir=Path(spec["data_dir"]),  # the review queue's SQLite file goes to the bench's temp folder
    )
    return create_app(
        settings, classifier=clf, review_sink=None if spec["review_queue"] else NoopReviewSink()
    )


def _serve_child(spec: dict[str, Any], log_file: str, conn: Any) -> None:
    """Child process: uvicorn on an ephemeral loopback port, logging as `promoguard serve` does."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from serving.logs import uvicorn_log_config

    # fd 2, not just sys.stderr, so that worker processes log to the file too.
    os.dup2(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)
    os.environ[SERVER_SPEC_ENV] = json.dumps(spec)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    conn.close()
    config = uvicorn.Config(
        f"{__name__}:bench_app",
        factory=True,
        workers=spec["workers"],
        access_log=False,
        log_config=uvicorn_log_config(json_logs=True),
        log_level="info",
    )
    if spec["workers"] > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


class ServedEngine:
    """The app serving `engine` in a child process; a context manager that yields its base URL.

    `review_queue` False swaps the review queue (a SQLite write per `review` result) for the
    no-op sink, to show what the queue costs; `workers` > 1 runs uvicorn's multi-process
    supervisor, as `promoguard serve --workers N` does.
    """

    def __init__(
        self,
        engine: str,
        bundle: Path | None,
        weights: Path | None,
        *,
        inference_threads: int,
        review_queue: bool,
        workers: int,
        log_file: Path,
    ) -> None:
        self.engine, self.log_file = engine, log_file
        self.key = secrets.token_urlsafe(24)
        self.spec = {
            "engine": engine,
            "bundle": str(bundle) if bundle else None,
            "weights": str(weights) if weights else None,
            "key": self.key,
            "inference_threads": inference_threads,
            "review_queue": review_queue,
            "workers": workers,
            "data_dir": str(log_file.parent),
        }
        self.process: Any = None

    def __enter__(self) -> str:
        """Start the server and wait until `/readyz` answers; returns its base URL.

        Raises:
            RuntimeError: the server died or was not ready within `SERVER_START_TIMEOUT_S`.
        """
        import httpx

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_serve_child,
            args=(self.spec, str(self.log_file), child),
            daemon=False,  # with workers > 1 it starts processes of its own; __exit__ stops it
        )
        self.process.start()
        child.close()
        if not parent.poll(SERVER_START_TIMEOUT_S):
            self.__exit__(None, None, None)
            raise RuntimeError(
                f"{self.engine} server did not start in {SERVER_START_TIMEOUT_S} s; see {self.log_file}"
            )
        url = f"http://127.0.0.1:{parent.recv()}"
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.process.is_alive():
                raise RuntimeError(
                    f"{self.engine} server exited with {self.process.exitcode}; see {self.log_file}"
                )
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(
            f"{self.engine} server not ready in {SERVER_START_TIMEOUT_S} s; see {self.log_file}"
        )

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(15)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
