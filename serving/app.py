"""The FastAPI application: `create_app()` wires settings, keys, model, review sink and routes.

The classifier loads once per process in `lifespan` (so `uvicorn --workers N` loads it once per
worker) and is handed to routes as a dependency; nothing heavy happens at import.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from fastapi import FastAPI

from serving import web
from serving.auth import KeyRing
from serving.body_limit import BodyLimitMiddleware
from serving.config import Settings
from serving.errors import install_error_handlers
from serving.hooks import ReviewSink
from serving.metrics import Metrics, ObservabilityMiddleware
from serving.routes import health, moderate, review

if TYPE_CHECKING:
    from classifier import Classifier

log = logging.getLogger(__name__)

# Routers in the order they appear in the docs; the review queue adds its own here.
ROUTERS = (moderate.router, review.router, health.router, web.router)

_WARMUP_RECORD = {"id": "warmup", "text": "预热：本文介绍稳健理财与风险提示。"}


def load_classifier(settings: Settings) -> Classifier:
    """Load and warm up the bundle named by the settings (the shipped default when unset).

    Raises:
        classifier.bundle.BundleError: the bundle is missing or fails its checksums.
    """
    from classifier import Classifier

    clf = Classifier.load(settings.bundle)
    clf.classify_batch([_WARMUP_RECORD])  # first ONNX run allocates; keep that off the first request
    return clf


def default_review_sink(settings: Settings, classifier: Classifier | None = None) -> ReviewSink:
    """The review queue (`serving.queue`) on `settings.database_url`, migrated to the newest schema.

    Raises:
        serving.db.DatabaseError: a bad database URL or a failed migration.
    """
    from serving.queue import ReviewQueue

    thresholds = classifier.policy.describe() if classifier is not None else None
    return ReviewQueue.open(
        settings.database_url or "", lease_seconds=settings.review_lease_seconds, thresholds=thresholds
    )


def create_app(
    settings: Settings | None = None,
    classifier: Classifier | None = None,
    review_sink: ReviewSink | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: configuration; read from `PROMOGUARD_*` environment variables when None.
        classifier: a loaded classifier to serve (tests, bench); loaded from `settings.bundle`
            at startup when None.
        review_sink: receives `review` results; `default_review_sink(settings)` when None.

    Returns:
        The app; run its lifespan (uvicorn, or `with TestClient(app)`) before serving requests.

    Raises:
        pydantic.ValidationError: settings from the environment are invalid or insecure.
        serving.auth.KeyConfigError: the API keys are malformed.
    """
    settings = settings if settings is not None else Settings()
    keyring = KeyRing.from_settings(settings)  # fail at startup, not at the first request
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clf = classifier
        if clf is None:
            log.info("loading model bundle", extra={"bundle": str(settings.bundle or "default")})
            clf = await anyio.to_thread.run_sync(load_classifier, settings)
        sink = review_sink
        if sink is None:
            sink = await anyio.to_thread.run_sync(default_review_sink, settings, clf)
        app.state.review_sink = sink
        app.state.inference_limiter = anyio.CapacityLimiter(settings.inference_threads)
        app.state.classifier = clf
        metrics.model_info.labels(clf.bundle.version).set(1)
        log.info(
            "ready", extra={"model_version": clf.bundle.version, "env": settings.env, "keys": len(keyring)}
        )
        try:
            yield
        finally:
            app.state.classifier = None
            close = getattr(sink, "close", None)
            if callable(close):
                await anyio.to_thread.run_sync(close)

    docs = settings.docs_enabled
    app = FastAPI(
        title="PromoGuard moderation API",
        summary="Catch fraudulent, misleading and unlicensed financial marketing in Chinese posts.",
        version=_package_version(),
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.metrics = metrics
    app.state.classifier = None
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        per_path={"/v1/moderate/batch": moderate.MAX_BATCH_BODY_BYTES},
    )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)  # outermost: sees every response
    return app


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("promoguard")
    except PackageNotFoundError:
        return "0.0.0"
