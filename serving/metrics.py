"""Prometheus metrics and the per-request access log, as one pure ASGI middleware.

Each app owns its `CollectorRegistry` (tests build many apps in one process). With several
uvicorn workers `promoguard serve` sets `PROMETHEUS_MULTIPROC_DIR`, and `/metrics` then
aggregates every worker's numbers.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("serving.access")

# Latency buckets around the 8 ms / 25 ms targets, out to multi-second long posts.
LATENCY_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.012, 0.016, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's metrics, registered in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "promoguard_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "promoguard_http_request_duration_seconds",
            "Time from request to the last byte of the response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "promoguard_inference_duration_seconds",
            "Time spent in the classifier per call (one call per request).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.items = Counter("promoguard_moderated_posts", "Posts moderated.", registry=r)
        self.decisions = Counter("promoguard_decisions", "Results by decision.", ["decision"], registry=r)
        self.labels = Counter(
            "promoguard_labels",
            "Labels at or above their flag threshold, by the post's decision.",
            ["label", "decision"],
            registry=r,
        )
        self.review_submitted = Counter(
            "promoguard_review_submissions", "Results handed to the review sink.", registry=r
        )
        self.review_errors = Counter("promoguard_review_sink_errors", "Review sink failures.", registry=r)
        self.model_info = Gauge(
            "promoguard_model_info",
            "The loaded model bundle (value 1).",
            ["version"],
            registry=r,
            multiprocess_mode="max",
        )

    def observe_results(self, results: Iterable[dict[str, Any]]) -> None:
        for result in results:
            decision = str(result.get("decision"))
            self.items.inc()
            self.decisions.labels(decision).inc()
            for label in result.get("labels", ()):
                self.labels.labels(label, decision).inc()

    def render(self) -> bytes:
        """The exposition text for `/metrics`."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class ObservabilityMiddleware:
    """Counts and times every HTTP request, tags it with a request id, and logs one JSON line.

    The log line holds method, route template, status, duration and request id: never the body,
    so post text stays out of logs.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("ascii"))]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            principal = scope["state"].get("principal")
            log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "role": getattr(principal, "role", None),
                    "key_id": getattr(principal, "key_id", None),
                    **scope["state"].get("log_extra", {}),
                },
            )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            # Echo a caller's id only when it is short and printable: it goes into logs and headers.
            if 0 < len(text) <= 64 and text.isascii() and text.isprintable():
                return text
            break
    return uuid.uuid4().hex
