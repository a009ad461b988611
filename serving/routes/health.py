"""`/healthz`, `/readyz` (no key needed) and `/metrics` (any valid key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from serving.auth import AnyKey
from serving.errors import error_responses
from serving.routes import ApiRoute
from serving.schemas import Health

router = APIRouter(tags=["operations"], route_class=ApiRoute)


@router.get(
    "/healthz", response_model=Health, response_model_exclude_none=True, summary="Liveness: the process is up"
)
async def healthz() -> Health:
    """Always `ok` while the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "model not loaded yet"}},
    summary="Readiness: the model is loaded",
)
async def readyz(request: Request) -> Health | JSONResponse:
    """`ok` with the model version once the model is loaded; 503 `loading` before."""
    classifier = getattr(request.app.state, "classifier", None)
    if classifier is None:
        return JSONResponse(Health(status="loading").model_dump(), status_code=503)
    return Health(status="ok", model_version=classifier.bundle.version)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
        **error_responses(401),
    },
    summary="Prometheus metrics",
)
async def metrics(request: Request, _key: AnyKey) -> Response:
    """Request counts and latency by route, inference time, decisions and labels. Needs any valid key."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
