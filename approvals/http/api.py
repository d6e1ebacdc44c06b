"""The JSON API, served by the same server as the pages (st.App routes): list, read and decide approvals.

Routes are thin: authenticate the bearer token, call the same service the console calls (policy, visibility,
compare-and-set, audit), and turn its refusals into status codes. The service is synchronous (graph work and
database calls), so each request runs it in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from approvals.core.actors import Actor
from approvals.core.errors import (
    AlreadyDecided,
    ApprovalError,
    AwaitingApprovals,
)
from approvals.core.hitl import HITLRequest, HITLResponse, InvalidDecision, describe
from approvals.core.records import DecisionRecord
from approvals.core.visibility import MAX_AGE_MINUTES, MAX_OFFSET, QueueFilter
from approvals.http.api_bodies import DIGEST_FIELD, DIGEST_FORM, ElicitationBody
from approvals.http.limits import (
    DEFAULT_MAX_BODY,
    MAX_JSON_DEPTH,
    ApiError,
    ApiErrorOut,
    fallback,
    json_body,
)
from approvals.http.progress import ProgressOut
from approvals.http.refusals import refusal
from approvals.notify.webhooks import console_link
from approvals.service import claims
from approvals.service.facade import ApprovalService
from approvals.store.database import iso

MAX_PAGE = 200


# -- what goes over the wire (also the OpenAPI document's schemas) ------------------------------------------


class QueueQuery(BaseModel):
    """GET /api/approvals query parameters: the console's filters and paging."""

    model_config = ConfigDict(extra="forbid")
    tool: list[str] = Field(default=[], description="Only these tools (repeat the parameter for several).")
    policy: list[Literal["self", "reviewer"]] = Field(default=[], description="Only these approval policies.")
    requester: list[str] = Field(default=[], description="Only items requested by these people.")
    min_age: float = Field(default=0, ge=0, le=MAX_AGE_MINUTES, allow_inf_nan=False,
                           description="Only items waiting at least this many minutes.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    def queue_filter(self, now: datetime) -> QueueFilter:
        cutoff = iso(now - timedelta(minutes=self.min_age)) if self.min_age else None
        return QueueFilter(tuple(self.tool), tuple(self.policy), tuple(self.requester), cutoff)


DIGEST_MEANING = ("sha256 (hex) of the interrupt value's canonical JSON (sorted keys, no spaces, UTF-8). Send it "
                  "back with the decision to approve exactly what you saw.")


class QueueEntry(BaseModel):
    thread_id: str
    interrupt_id: str
    tool: str
    requester: str
    policy: str
    args_summary: str
    created_at: str
    graph: str = Field(description="The registered graph (langgraph.json / APPROVAL_GRAPHS) the thread runs on, or"
                                   " a deployment's graph_id.")
    deployment: str = Field("", description="The Agent Server deployment the item lives on; empty for local ones.")
    kind: Literal["hitl", "tool_approval", "raw", "mcp_elicitation"] = Field(
        description='"hitl" and "tool_approval" take {"decisions": [...]}; "mcp_elicitation" (an MCP tool asking) '
                    'takes {"responses": {...}} (ElicitationBody); "raw" is answered with any JSON value.')
    claimed_by: str | None = Field(description="Who has the item open in the console right now, if anyone.")
    url: str = Field(description="The item in the reviewer console.")
    request_digest: str = Field(description=DIGEST_MEANING)
    rule: str = Field("", description="The approval policy rule that decides it.")
    approvers: int = Field(1, description="How many distinct reviewers must approve it.")
    progress: str = Field("", description='For several approvers: e.g. "1 of 2 approvals (alice)".')


class QueuePage(BaseModel):
    items: list[QueueEntry] = Field(description="Oldest first, as in the console.")
    total: int = Field(description="How many items match the filters, on every page.")
    limit: int
    offset: int


class DecisionOut(BaseModel):
    decision_id: str
    thread_id: str
    interrupt_id: str
    decision: str = Field(description='"approve", "edit", "reject", "respond", "mixed" for several actions or '
                                      'answers, "answer" for a raw interrupt, "accept", "decline" or "cancel" for an '
                                      'MCP tool\'s questions.')
    tool: str
    requested_by: str
    requested_at: str
    decided_by: str
    decided_at: str
    edit_diff: list[dict[str, Any]] = Field(description="Per edited action, each changed argument as [before, after].")
    message: str
    applied_at: str | None = Field(description="When the agent got the decision (its checkpoint or deployment shows"
                                               " the interrupt resolved); null while not yet delivered.")
    delivery_error: str = Field("", description="Why the last delivery did not take (decided, not yet delivered).")
    delivery_attempts: int = Field(0, description="How many deliveries were tried and did not take.")
    next_delivery_at: str | None = Field(None, description="When recovery tries again, while not yet delivered; null"
                                                           " once applied.")


class ApprovalOut(BaseModel):
    thread_id: str
    interrupt_id: str
    status: Literal["pending", "decided", "undelivered"] = Field(
        description='"undelivered": decided, not yet delivered to the agent (see decision.delivery_error).')
    request: HITLRequest | None = Field(description="What to decide (while pending): actions, args, allowed decisions.")
    value: Any = Field(None, description="The interrupt value exactly as the graph wrote it (while pending).")
    decision: DecisionOut | None = Field(description="The decision (once decided).")
    claimed_by: str | None
    url: str
    request_digest: str | None = Field(None, description=DIGEST_MEANING + " (while pending)")


class DecisionBody(HITLResponse):
    """The decision, and the digest of the request it was made on."""

    request_digest: str | None = DIGEST_FIELD


# -- routes ----------------------------------------------------------------------------------------------


def api_routes(get_service: Callable[[], ApprovalService]) -> list[BaseRoute]:
    """The API's routes for `st.App(..., routes=...)`; `get_service` returns the app's shared service."""
    api = _Api(get_service)
    routes = [
        Route("/api/openapi.json", api.openapi, methods=["GET"]),
        Route("/api/approvals", api.queue, methods=["GET"]),
        Route("/api/approvals/{thread_id}/{interrupt_id}", api.approval, methods=["GET"]),
        Route("/api/approvals/{thread_id}/{interrupt_id}/decision", api.decide, methods=["POST"]),
    ]
    return [*routes, fallback(routes)]


class _Api:
    def __init__(self, get_service: Callable[[], ApprovalService]):
        self._service = get_service

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def queue(self, request: Request) -> Response:
        return await _answer(lambda: self._queue(request))

    async def approval(self, request: Request) -> Response:
        thread_id, interrupt_id = request.path_params["thread_id"], request.path_params["interrupt_id"]
        return await _answer(lambda: self._approval(request, thread_id, interrupt_id))

    async def decide(self, request: Request) -> Response:
        """Limits before work: the token first, then a body read no further than the cap, then its nesting."""
        thread_id, interrupt_id = request.path_params["thread_id"], request.path_params["interrupt_id"]
        try:
            actor = await run_in_threadpool(_actor, self._service(), request)
            response = await json_body(request)
        except ApiError as error:
            return error.response()
        return await _answer(lambda: self._decide(actor, thread_id, interrupt_id, response))

    # The methods below run in the thread pool.

    def _queue(self, request: Request) -> BaseModel:
        service = self._service()
        actor = _actor(service, request)
        params = request.query_params
        try:
            query = QueueQuery.model_validate({key: params.getlist(key) if key in _LIST_PARAMS else params[key]
                                               for key in params})
        except ValidationError as error:
            raise ApiError(422, "invalid_query", describe(error)) from error
        filters = query.queue_filter(datetime.now(UTC))
        items = service.list_pending(filters, query.limit, query.offset, viewer=actor)
        held = service.active_claims() if items else {}
        entries = [
            QueueEntry.model_validate({**asdict(item), "progress": item.progress,
                                       "url": console_link(item.thread_id, item.interrupt_id),
                                       "claimed_by": _holder(held.get((item.thread_id, item.interrupt_id)))})
            for item in items
        ]
        total = service.count_pending(filters, viewer=actor)
        return QueuePage(items=entries, total=total, limit=query.limit, offset=query.offset)

    def _approval(self, request: Request, thread_id: str, interrupt_id: str) -> BaseModel:
        service = self._service()
        actor = _actor(service, request)
        link = console_link(thread_id, interrupt_id)
        common = {"thread_id": thread_id, "interrupt_id": interrupt_id, "url": link}
        try:  # unknown, or not the caller's to see: UnknownThread (404); an unknown interrupt: NotPending (404)
            pending = service.approval(thread_id, interrupt_id, viewer=actor)
        except AlreadyDecided:
            decided = service.decision(thread_id, interrupt_id, viewer=actor)
            status: Literal["decided", "undelivered"] = "decided" if decided and decided.applied_at else "undelivered"
            return ApprovalOut(status=status, request=None, decision=_decision_out(decided) if decided else None,
                               claimed_by=None, **common)
        claim = service.claim_holder(thread_id, interrupt_id)
        service.note_open(thread_id, interrupt_id, actor)  # the oversight metrics' "opened"
        return ApprovalOut(status="pending", request=pending.request, value=pending.value, decision=None,
                           claimed_by=_holder(claim), request_digest=pending.request_digest, **common)

    def _decide(self, actor: Actor, thread_id: str, interrupt_id: str, response: Any) -> BaseModel:
        """The service's decision command checks everything (visibility first, then the claim and the rest)."""
        service = self._service()
        digest = _request_digest(response)  # a malformed body is 422 whatever the item's state
        try:
            return _decision_out(service.decide(thread_id, interrupt_id, response, actor, request_digest=digest))
        except AwaitingApprovals as waiting:
            return ProgressOut.of(thread_id, interrupt_id, waiting)


def _request_digest(body: Any) -> str | None:
    """Take `request_digest` out of a decision body (the decision itself is validated without it)."""
    if not isinstance(body, dict) or "request_digest" not in body:
        return None
    digest = body.pop("request_digest")
    if digest is None:  # the schema allows null: the same as not sending it
        return None
    if not isinstance(digest, str) or not DIGEST_FORM.fullmatch(digest):
        raise ApiError(422, "invalid_decision", "request_digest must be the item's request_digest as you read it:"
                       " 64 hex digits. Nothing was saved.")
    return digest.lower()


def _actor(service: ApprovalService, request: Request) -> Actor:
    """The account the request's bearer token acts as; 401 without one, or for an unknown or revoked one."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "Send an API token: Authorization: Bearer <token>.",
                       {"WWW-Authenticate": 'Bearer realm="approvals"'})
    actor = service.identity.actor_for_token(secret.strip())
    if actor is None:
        raise ApiError(401, "invalid_token", "This API token is unknown or has been revoked.",
                       {"WWW-Authenticate": 'Bearer realm="approvals", error="invalid_token"'})
    return actor


_LIST_PARAMS = {name for name, field in QueueQuery.model_fields.items() if get_origin(field.annotation) is list}


def _holder(claim: claims.Claim | None) -> str | None:
    return claim.claimed_by if claim is not None else None


def _decision_out(record: DecisionRecord) -> DecisionOut:
    """The decision as the API shows it: once applied, nothing about retries (the row keeps its last lease)."""
    out = DecisionOut.model_validate(record, from_attributes=True)
    if out.applied_at is not None:
        out.next_delivery_at, out.delivery_error = None, ""
    return out


async def _answer(work: Callable[[], BaseModel]) -> Response:
    """Run `work` off the event loop; its result is the 200 body, and each refusal becomes its status code."""
    try:
        result = await run_in_threadpool(work)
    except (ApprovalError, InvalidDecision, ApiError) as error:
        return refusal(error).response()
    return JSONResponse(result.model_dump(mode="json"), 202 if isinstance(result, ProgressOut) else 200)


# -- the OpenAPI document ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for the routes above; every schema comes from the pydantic models the routes use."""
    _, definitions = models_json_schema(
        [(DecisionBody, "validation"), (ElicitationBody, "validation"), (QueuePage, "serialization"),
         (ApprovalOut, "serialization"), (DecisionOut, "serialization"), (ProgressOut, "serialization"),
         (ApiErrorOut, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    item = [_path_param("thread_id", "The conversation id."), _path_param("interrupt_id", "The interrupt id.")]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Agent approvals API", "version": "1",
                 "description": "List, read and decide pending approvals of AI agent actions. Every call needs "
                                "`Authorization: Bearer <token>` (`python -m approvals token create USERNAME`, or "
                                "API tokens in the console)."},
        "components": {"schemas": definitions["$defs"],
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/approvals": {"get": {
                "summary": "The pending approvals you may see, oldest first (the console's queue)",
                "parameters": _query_params(),
                "responses": _responses(("200", "QueuePage"), "401", "422"),
            }},
            "/api/approvals/{thread_id}/{interrupt_id}": {"get": {
                "summary": "One approval: the request while pending, the decision once decided",
                "parameters": item,
                "responses": _responses(("200", "ApprovalOut"), "401", "404"),
            }},
            "/api/approvals/{thread_id}/{interrupt_id}/decision": {"post": {
                "summary": "Decide an approval (one decision per action request, in order) and resume the agent",
                "description": "`decisions` holds exactly one decision per action request of the approval, in the "
                               "order of its `action_requests`; a different count is 422. An edit is judged by the "
                               "policy for the edited arguments too: the stricter outcome applies. The body is at "
                               f"most {DEFAULT_MAX_BODY} bytes (413) and nests at most {MAX_JSON_DEPTH} levels. "
                               "An `mcp_elicitation` item (an MCP tool asking a person) takes `ElicitationBody`: "
                               "one answer per request, each form's content checked against its schema (422).",
                "parameters": item,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/DecisionBody"},
                    {"$ref": "#/components/schemas/ElicitationBody"}]}}}},
                "responses": {**_responses(("200", "DecisionOut"), "401", "403", "404", "409", "413", "415", "422"),
                              "202": {"description": "Approval recorded; waiting for more approvers",
                                      "content": _json_ref("ProgressOut")}},
            }},
        },
    }


_ERROR_MEANINGS = {
    "401": "No API token, or an unknown or revoked one.",
    "403": "The approval policy does not let you decide this (`groups`: the groups that may).",
    "404": "No such approval, or one you may not see.",
    "409": "Already decided (by whom, when), already approved by you (`already_approved`), claimed by someone "
           "else in the console, the request changed since you read it (`request_changed`: your request_digest "
           "no longer matches), or its tool or graph is paused (`paused`: only a reject goes through).",
    "413": "The body is larger than the cap (64 KB unless APPROVAL_API_MAX_BODY says otherwise).",
    "415": "The body is not declared as JSON: send Content-Type: application/json.",
    "422": "The decision, query or JSON body is invalid (a key repeated in one object too); `detail` says why. "
           "Nothing was saved.",
}


def _responses(success: tuple[str, str], *errors: str) -> dict[str, Any]:
    status, model = success
    answers = {status: {"description": "OK", "content": _json_ref(model)}}
    for code in errors:
        answers[code] = {"description": _ERROR_MEANINGS[code], "content": _json_ref("ApiErrorOut")}
    return answers


def _json_ref(model: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query_params() -> list[dict[str, Any]]:
    schema = QueueQuery.model_json_schema()
    return [{"name": name, "in": "query", "required": False, "schema": prop, "explode": True}
            for name, prop in schema["properties"].items()]
