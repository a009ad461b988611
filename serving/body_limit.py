"""Cap the raw request body before anything parses it, per route, with a JSON 413.

Starlette's own limiter answers in plain text and rewrites any response once `Content-Length`
is over the limit, which would break the API's one error shape; this one raises `ApiError`
so the usual handlers answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import ApiError, error_response


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"request body is larger than the {limit:,} bytes this route accepts; "
        "send fewer posts per request or shorter texts",
    )


class BodyLimitMiddleware:
    """Reject bodies over `default` bytes, or over `per_path[path]` for the paths listed.

    A `Content-Length` over the limit is refused before reading; a chunked body is counted as
    it arrives and refused once it passes the limit.
    """

    def __init__(self, app: ASGIApp, default: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    response = error_response(
                        400, "bad_request", "Content-Length is not a non-negative integer"
                    )
                    await response(scope, receive, send)
                    return
                if declared > limit:
                    exc = _too_large(limit)
                    await error_response(413, exc.code, str(exc.detail))(scope, receive, send)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited_receive, send)
