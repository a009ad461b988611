"""One error shape for every failure: `{"error": {"code", "message", "details"?}}`.

Messages say what was wrong and how to fix it; they never echo the post text, and a 500 never
carries a stack trace (it is logged with the request id instead).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from classifier.core import RecordError
from serving.hooks import ReviewSinkError
from serving.schemas import MAX_BATCH_ITEMS, MAX_TEXT_CHARS, ErrorResponse

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error with a stable machine-readable `code`."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# For `responses=` on routes, so the OpenAPI document shows the error shape.
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _CODES.get(s, "error")} for s in statuses}


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs"
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            pos = err["loc"][-1] if err.get("loc") else "?"
            reason = (err.get("ctx") or {}).get("error", "malformed JSON")
            return error_response(
                400, "invalid_json", f"request body is not valid JSON: {reason} at character {pos}"
            )
    for err in errors:
        loc = tuple(err.get("loc", ()))
        ctx = err.get("ctx") or {}
        if err.get("type") == "string_too_long" and loc and loc[-1] == "text":
            return error_response(
                413,
                "text_too_long",
                f"{_where(loc)} is longer than {MAX_TEXT_CHARS:,} characters, the most one post may have; "
                "split the post and send the parts as separate records",
            )
        if err.get("type") == "too_long" and loc[-1:] == ("items",):
            got = ctx.get("actual_length")
            return error_response(
                422,
                "too_many_items",
                f"batch has {got if got is not None else 'too many'} items; at most {MAX_BATCH_ITEMS} are "
                "accepted per request: split it into several requests",
            )
    details = [
        {"loc": _where(tuple(e.get("loc", ()))), "type": e.get("type"), "msg": e.get("msg")} for e in errors
    ]
    if errors and errors[0].get("type") == "missing" and tuple(errors[0].get("loc", ())) == ("body",):
        message = "request body is missing; send a JSON object"
    else:
        first = details[0] if details else {"loc": "body", "msg": "invalid"}
        message = f"request does not match the schema: {first['loc']}: {first['msg']}"
        if len(details) > 1:
            message += f" (and {len(details) - 1} more problem(s), see details)"
    return error_response(422, "invalid_request", message, details=details)


async def _record_error(request: Request, exc: RecordError) -> JSONResponse:
    # The schema catches bad records first; this is the classifier's own check, kept as a 422.
    return error_response(422, "invalid_record", str(exc))


async def _review_sink_error(request: Request, exc: ReviewSinkError) -> JSONResponse:
    return error_response(
        503,
        "review_queue_unavailable",
        "a post needs review but the review queue could not take it; retry the request later",
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id", "?")
    log.error("unhandled error on %s (request_id=%s)", request.url.path, request_id, exc_info=exc)
    return error_response(
        500, "internal_error", f"unexpected server error; quote request id {request_id} when reporting it"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one `{"error": ...}` shape."""
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(RecordError, _record_error)  # type: ignore[arg-type]
    app.add_exception_handler(ReviewSinkError, _review_sink_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
