"""The oversight routes of the JSON API: the metrics a lead reads, and the stop switch.

`GET /api/metrics[?since=ISO]` (reviewers): per reviewer and per tool, decisions, approve / edit / reject shares,
median seconds from request and from opening to the decision, approvals faster than APPROVAL_FAST_SECONDS.
`GET /api/pauses`, `POST /api/pauses` with `{"kind": "tool" | "graph", "name": ...}`, `DELETE
/api/pauses/{kind}/{name}`: pause and resume (reviewers; both chained into the audit log). Mounted before the
API's catch-all, with its token check and refusals.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from approvals.core.actors import Actor
from approvals.core.hitl import describe
from approvals.http.api import ApiError, _actor, _answer, _json_ref, _responses, openapi_document
from approvals.http.limits import json_body
from approvals.service import metrics, oversight
from approvals.service.facade import ApprovalService
from approvals.store.database import iso


class MetricsOut(BaseModel):
    by_reviewer: list[metrics.OversightRow] = Field(description="In name order: numbers to read, not a ranking.")
    by_tool: list[metrics.OversightRow]
    fast_seconds: float
    since: str | None


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["tool", "graph"]
    name: str = Field(min_length=1, max_length=200)


class PausesOut(BaseModel):
    paused: list[oversight.PausedTarget]


def oversight_routes(get_service: Callable[[], ApprovalService]) -> list[BaseRoute]:
    """Routes for `st.App(..., routes=[*oversight_routes(...), *api_routes(...)])`."""

    async def read_metrics(request: Request) -> Response:
        return await _answer(lambda: _metrics(get_service(), request))

    async def pauses(request: Request) -> Response:
        if request.method == "GET":
            return await _answer(lambda: _paused(get_service(), request))
        try:  # the token before the body, as every write of the API
            actor = await run_in_threadpool(_actor, get_service(), request)
            body = await json_body(request)
        except ApiError as error:
            return error.response()
        return await _answer(lambda: _pause(get_service(), actor, body))

    async def unpause(request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        return await _answer(lambda: _resume(get_service(), request, kind, name))

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_with_oversight())

    return [Route("/api/openapi.json", openapi, methods=["GET"]),
            Route("/api/metrics", read_metrics, methods=["GET"]),
            Route("/api/pauses", pauses, methods=["GET", "POST"]),
            Route("/api/pauses/{kind}/{name}", unpause, methods=["DELETE"])]


@lru_cache(maxsize=1)
def openapi_with_oversight() -> dict[str, Any]:
    """The API's OpenAPI document with these routes added (served in its place, before the API's routes)."""
    document = copy.deepcopy(openapi_document())
    _, definitions = models_json_schema(
        [(MetricsOut, "serialization"), (PauseIn, "validation"), (PausesOut, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    document["components"]["schemas"].update(definitions["$defs"])
    since = {"name": "since", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
             "description": "Only decisions recorded at or after this ISO time."}
    target = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in ("kind", "name")]
    document["paths"].update({
        "/api/metrics": {"get": {
            "summary": "Oversight metrics per reviewer and per tool (reviewers only), in name order",
            "parameters": [since], "responses": _responses(("200", "MetricsOut"), "401", "403", "422")}},
        "/api/pauses": {
            "get": {"summary": "What is paused (the stop switch)",
                    "responses": _responses(("200", "PausesOut"), "401")},
            "post": {"summary": "Pause a tool or a graph: its items refuse every decision but a reject (reviewers)",
                     "requestBody": {"required": True, "content": _json_ref("PauseIn")},
                     "responses": _responses(("200", "PausesOut"), "401", "403", "409", "415", "422")}},
        "/api/pauses/{kind}/{name}": {"delete": {
            "summary": "Resume a paused tool or graph (reviewers)", "parameters": target,
            "responses": _responses(("200", "PausesOut"), "401", "403", "404")}},
    })
    return document


def _metrics(service: ApprovalService, request: Request) -> MetricsOut:
    actor = _actor(service, request)
    raw = request.query_params.get("since")
    try:
        since = iso(datetime.fromisoformat(raw)) if raw is not None else None  # an empty one is not a time
    except ValueError as error:
        raise ApiError(422, "invalid_query", f"since must be an ISO time, not {raw!r}.") from error
    found = service.oversight_metrics(actor, since)
    return MetricsOut(by_reviewer=found.by_reviewer, by_tool=found.by_tool, fast_seconds=found.fast_seconds,
                      since=found.since)


def _paused(service: ApprovalService, request: Request) -> PausesOut:
    _actor(service, request)
    return _listed(service)


def _listed(service: ApprovalService) -> PausesOut:
    return PausesOut(paused=service.paused_targets())


def _pause(service: ApprovalService, actor: Actor, body: object) -> PausesOut:
    try:
        wanted = PauseIn.model_validate(body)
    except ValidationError as error:
        raise ApiError(422, "invalid_decision", describe(error)) from error
    service.pause(wanted.kind, wanted.name, actor)
    return _listed(service)


def _resume(service: ApprovalService, request: Request, kind: str, name: str) -> PausesOut:
    actor = _actor(service, request)
    if kind not in ("tool", "graph") or not service.unpause(kind, name, actor):  # documented: 404
        raise ApiError(404, "not_found", f"The {kind} {name!r} is not paused.")
    return _listed(service)
