"""MCP elicitation: an MCP tool's server asks a person for input mid-call, and what a valid answer is.

`langchain.mcp` turns the server's request into the interrupt `{"type": "mcp_elicitation", "tool_name",
"requests": [{"key", "message", "mode": "form", "requested_schema"} | {"key", "message", "mode": "url", "url"}]}`
and resumes the call with `{"responses": {key: {"action": "accept", "content": {...}} | {"action": "decline"} |
{"action": "cancel"}}}`. It checks neither the content nor that every key is answered before the server sees it,
so the decision command does, here: a bad answer is refused with a reason and nothing is saved. The form a person
fills is described by `form_fields`, from the schema's MCP subset (flat object of primitives, enums, titled enums
and multi-select lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import jsonschema

from approvals.core.hitl import InvalidDecision

ELICITATION: Final = "mcp_elicitation"
ACTIONS: Final = ("accept", "decline", "cancel")
Action = Literal["accept", "decline", "cancel"]
FieldKind = Literal["text", "email", "uri", "date", "date-time", "number", "integer", "boolean", "choice", "choices"]

_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    """An absolute address (scheme and host); jsonschema checks "uri" only with a package we do not ship."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.scheme in {"mailto", "urn"}))


@dataclass(frozen=True)
class ElicitationRequest:
    """One question of a round: a form built from `schema`, or an address (`url`) the person visits."""

    key: str
    message: str
    mode: Literal["form", "url"]
    schema: dict[str, Any]
    url: str = ""

    @property
    def host(self) -> str:
        """The host the address leads to, shown plainly beside the link."""
        return urlsplit(self.url).hostname or ""

    @property
    def linkable(self) -> bool:
        """Only a web address is offered as a link (never `javascript:` and the like)."""
        return urlsplit(self.url).scheme in {"http", "https"} and bool(self.host)


def elicitation_requests(value: Any) -> list[ElicitationRequest] | None:
    """The round's requests when `value` is an `mcp_elicitation` interrupt of the shape langchain.mcp writes."""
    if not (isinstance(value, dict) and value.get("type") == ELICITATION and isinstance(value.get("tool_name"), str)
            and isinstance(value.get("requests"), list) and value["requests"]):
        return None
    found = []
    for raw in value["requests"]:
        if not (isinstance(raw, dict) and isinstance(raw.get("key"), str) and raw.get("mode") in ("form", "url")):
            return None
        schema = raw.get("requested_schema") if raw["mode"] == "form" else {}
        if not isinstance(schema, dict) or (raw["mode"] == "url" and not isinstance(raw.get("url"), str)):
            return None
        found.append(ElicitationRequest(raw["key"], str(raw.get("message") or ""), raw["mode"], schema,
                                        str(raw.get("url") or "")))
    return found


def check_responses(requests: list[ElicitationRequest], raw: Any) -> dict[str, Any]:
    """The resume value for `raw` (`{"responses": {key: {"action", "content"?}}}`): every request answered, no
    other key, each form's content valid against its requested_schema. InvalidDecision says what is wrong."""
    responses = raw.get("responses") if isinstance(raw, dict) else None
    if not isinstance(responses, dict):
        raise InvalidDecision('The answer must be {"responses": {KEY: {"action": "accept", "content": {...}} | '
                              '{"action": "decline"} | {"action": "cancel"}}}, one per request.')
    keys = [r.key for r in requests]
    if missing := [k for k in keys if k not in responses]:
        raise InvalidDecision(f"Every request needs an answer; missing: {', '.join(missing)}.")
    if unknown := sorted(set(responses) - set(keys)):
        raise InvalidDecision(f"No request has the key {', '.join(map(repr, unknown))}.")
    return {"responses": {r.key: _checked(r, responses[r.key]) for r in requests}}


def _checked(request: ElicitationRequest, answer: Any) -> dict[str, Any]:
    action = answer.get("action") if isinstance(answer, dict) else None
    if action not in ACTIONS:
        raise InvalidDecision(f"The answer to {request.key!r} needs an action: accept, decline or cancel.")
    if action != "accept" or request.mode == "url":
        return {"action": action}
    content = answer.get("content")
    if not isinstance(content, dict):
        raise InvalidDecision(f"Accepting {request.key!r} needs its form's content (an object).")
    problems = sorted(jsonschema.Draft202012Validator(request.schema, format_checker=_FORMATS).iter_errors(content),
                      key=lambda e: list(e.absolute_path))
    if problems:
        raise InvalidDecision(f"The answer to “{request.message}” does not fit its form: " + "; ".join(
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" if e.absolute_path else e.message
            for e in problems))
    return {"action": "accept", "content": content}


def decision_name(resume: dict[str, Any]) -> str:
    """"accept", "decline" or "cancel" when every request got it, else "mixed"."""
    actions = {answer["action"] for answer in resume["responses"].values()}
    return actions.pop() if len(actions) == 1 else "mixed"


def answer_text(requests: list[ElicitationRequest], resume: dict[str, Any]) -> str:
    """What was answered, one line per request, for history, the CSV and the audit."""
    lines = []
    for request in requests:
        answer = resume["responses"][request.key]
        content = answer.get("content")
        shown = ", ".join(f"{k}={v}" for k, v in content.items()) if content else ""
        lines.append(f"{answer['action']}: {request.message}" + (f" → {shown}" if shown else ""))
    return "\n".join(lines)


# -- the form a person fills ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One property of a requested_schema, as a form shows it."""

    name: str
    kind: FieldKind
    label: str
    help: str
    required: bool
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[tuple[Any, str], ...] = ()
    """For choices: (value, what the person reads)."""


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """One field per property, labelled by its title (else its name), helped by its description."""
    required = set(schema.get("required") or [])
    return [_field(name, prop, name in required) for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict)]


def _field(name: str, prop: dict[str, Any], required: bool) -> FormField:
    kind, options = _kind(prop)
    return FormField(name=name, kind=kind, label=str(prop.get("title") or name),
                     help=str(prop.get("description") or ""), required=required, default=prop.get("default"),
                     minimum=_bound(prop, "minimum"), maximum=_bound(prop, "maximum"), options=options)


def _kind(prop: dict[str, Any]) -> tuple[FieldKind, tuple[tuple[Any, str], ...]]:
    if options := _options(prop):
        return "choice", options
    if prop.get("type") == "array":
        return "choices", _options(prop.get("items") or {})
    if prop.get("type") in ("number", "integer", "boolean"):
        return prop["type"], ()
    fmt = prop.get("format")
    return (fmt if fmt in ("email", "uri", "date", "date-time") else "text"), ()


def _options(prop: dict[str, Any]) -> tuple[tuple[Any, str], ...]:
    """enum (titles from the legacy `enumNames`), or oneOf/anyOf of {const, title}."""
    titled = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(titled, list) and titled and all(isinstance(o, dict) and "const" in o for o in titled):
        return tuple((o["const"], str(o.get("title") or o["const"])) for o in titled)
    if isinstance(prop.get("enum"), list):
        names = prop.get("enumNames") or []
        return tuple((v, str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(prop["enum"]))
    return ()


def _bound(prop: dict[str, Any], name: str) -> float | None:
    value = prop.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
