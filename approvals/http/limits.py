"""What the API refuses before it does any work: bodies over a cap (read as a stream, never whole), JSON
nested past a limit, paths and methods it does not serve (a JSON 404 or 405), and the error shape every refusal
shares.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_MAX_BODY = 64 * 1024
MAX_JSON_DEPTH = 32
"""A decision is at most a few levels deep (decisions → edit → edited_action → args → a value)."""


def max_body_bytes() -> int:
    """The largest decision body accepted (env APPROVAL_API_MAX_BODY, bytes; default 64 KB)."""
    return int(os.environ.get("APPROVAL_API_MAX_BODY") or DEFAULT_MAX_BODY)


class ApiErrorOut(BaseModel):
    error: str = Field(description="A stable code: unauthorized, invalid_token, not_allowed, not_in_group, "
                                   "not_found, method_not_allowed, already_decided, already_approved, claimed, "
                                   "too_many_pauses, invalid_decision, invalid_query, invalid_json, too_large, "
                                   "unsupported_media_type, refused (any other refusal, 400).")
    detail: str = Field(description="What went wrong, in words meant for a person.")
    decided_by: str | None = None
    decided_at: str | None = None
    claimed_by: str | None = None
    claimed_until: str | None = None
    groups: list[str] | None = Field(None, description="not_in_group: the groups that may decide this item.")
    approved_at: str | None = Field(None, description="already_approved: when you approved it.")


class ApiError(Exception):
    """A refusal with its status code; the body is an ApiErrorOut."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status, self.headers = status, headers
        self.body = ApiErrorOut(error=code, detail=detail, **extra)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body.model_dump(mode="json", exclude_none=True), self.status, self.headers)


async def capped_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk and refused (413) as soon as it passes `limit`: never held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The body is larger than {limit} bytes; a decision is far smaller.")


async def json_body(request: Request) -> Any:
    """A JSON body as every route reads one: declared as JSON (415), at most the cap (413), parsed (422)."""
    require_json(request)
    return parse_json(await capped_body(request, max_body_bytes()))


def require_json(request: Request) -> None:
    """415 for a body that says it is not JSON (a form, text): the API reads JSON only, and says so.

    No Content-Type at all is read as JSON, as curl without -H and older clients send it.
    """
    declared = request.headers.get("content-type", "")
    kind = declared.split(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", f"Send the body as JSON with Content-Type: application/json"
                       f" (this request said {declared[:80]!r}).", {"Accept": "application/json"})


def parse_json(body: bytes) -> Any:
    """The body as JSON (422 when it is not, when an object repeats a key, or when it nests deeper than
    MAX_JSON_DEPTH). A repeated key is refused rather than read as its last value: `{"type": "reject", "type":
    "approve"}` must not approve, and other parsers keep the first one."""
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys)
    except RecursionError as error:
        raise _too_deep() from error
    except DuplicateKey as error:
        raise ApiError(422, "invalid_json", f"The body repeats the key {error.key!r} in one object;"
                       " send each key once.") from error
    except ValueError as error:
        raise ApiError(422, "invalid_json", f"The body is not valid JSON: {error}.") from error
    if json_depth(value) > MAX_JSON_DEPTH:
        raise _too_deep()
    return value


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads' object hook: the object, unless it names a key twice (DuplicateKey)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def _too_deep() -> ApiError:
    return ApiError(422, "invalid_json", f"The body nests deeper than {MAX_JSON_DEPTH} levels.")


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest, counted without recursion (a deep value must not overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_JSON_DEPTH:
            stack.extend((child, depth + 1) for child in children)
    return deepest


def fallback(routes: list[Route]) -> Route:
    """A JSON 404 (or 405) for every other /api/ request, which Streamlit would answer with its HTML page."""

    async def no_such_endpoint(request: Request) -> Response:
        path = request.scope["path"]
        known = [route for route in _app_routes(request) or routes if route.endpoint is not no_such_endpoint]
        allowed = sorted(
            {method for route in known if route.path_regex.fullmatch(path) for method in route.methods or ()}
        )
        if allowed:
            return ApiError(405, "method_not_allowed", f"Use {' or '.join(allowed)} here.",
                            {"Allow": ", ".join(allowed)}).response()
        return ApiError(404, "not_found", "There is no such API endpoint; see /api/openapi.json.").response()

    return Route("/api/{path:path}", no_such_endpoint,
                 methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])


def _app_routes(request: Request) -> list[Route]:
    """Every /api/ route the app serves (other modules add some), so a 405 names their methods too."""
    router = request.scope.get("router")
    return [route for route in getattr(router, "routes", []) if isinstance(route, Route)
            and route.path.startswith("/api/")]
