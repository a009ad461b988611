"""HTTP routes, one module per resource, and the route class they share.

`ApiRoute` runs the API-key check and the JSON Content-Type / UTF-8 checks *before* FastAPI
reads and parses the body, so an unauthenticated caller gets 401 (not a schema error) and costs
no parsing, and a body in the wrong encoding gets a clear 400/415 instead of a generic one.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from serving.auth import authenticate
from serving.errors import ApiError


def _roles(dependant: Dependant) -> frozenset[str] | None:
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "promoguard_roles", None)
        if roles is not None:
            return roles
        found = _roles(dep)
        if found is not None:
            return found
    return None


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class ApiRoute(APIRoute):
    """An `APIRoute` that authenticates first and insists on UTF-8 JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        roles = _roles(self.dependant)
        json_body = self.body_field is not None and not isinstance(self.body_field.field_info, params.Form)

        async def checked(request: Request) -> Response:
            if roles is not None:
                authenticate(request, roles)
            if json_body:
                body = await request.body()  # cached on the request; FastAPI reuses it
                if body:
                    content_type = request.headers.get("content-type", "")
                    if not _is_json(content_type):
                        raise ApiError(
                            415,
                            "unsupported_media_type",
                            f"Content-Type {content_type or '(none)'!r} is not JSON; send the body as "
                            "JSON with 'Content-Type: application/json'",
                        )
                    try:
                        body.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise ApiError(
                            400,
                            "invalid_utf8",
                            f"request body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset "
                            f"{exc.start}); encode the JSON as UTF-8",
                        ) from None
            return await handler(request)

        return checked
