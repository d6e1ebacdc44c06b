"""A request in human terms, the same words on every screen and channel: amounts as money, arguments labelled by
their schema's titles, hidden characters shown as escapes, destructive tools flagged, ages as "12 min".

Pure (no Streamlit, no I/O): the console draws these with its widgets, and an email or a Slack message writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from approvals.core.hidden_text import reveal, text_warnings
from approvals.core.hitl import ArgsModels, HITLRequest
from approvals.core.records import age_seconds

MONEY_ARGS = ("amount", "total", "price", "value")
"""Arguments shown as dollars wherever they appear."""
DESTRUCTIVE_PREFIXES = ("delete", "drop", "remove", "destroy", "purge", "wipe")
DESTRUCTIVE_WORDS = ("permanently", "cannot be undone", "irreversible")


def money(value: Any) -> str:
    """`250` → `$250.00`; a value that is not a number is shown as it is."""
    try:
        return f"${float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def arg_text(name: str, value: Any) -> str:
    """One argument's value as a person reads it: money as money, text as text, the rest as written; hidden
    characters escaped (approvals.core.hidden_text), so a queue cell or a confirmation shows what will be used."""
    if name in MONEY_ARGS:
        return reveal(money(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return reveal(value if isinstance(value, str) else str(value))


def is_destructive(tool: str, description: str = "") -> bool:
    """Deleting tools, or tools that say they cannot be undone: their approval asks for a confirmation."""
    return tool.lower().startswith(DESTRUCTIVE_PREFIXES) or any(w in description.lower() for w in DESTRUCTIVE_WORDS)


def age_text(created_at: str, now: datetime | None = None) -> str:
    """`40 s`, `12 min`, `3 h 05 min`, `2 d 4 h`: a fresh item does not read "0 min"."""
    seconds = max(int(age_seconds(created_at, now)), 0)
    minutes = seconds // 60
    if minutes < 1:
        return f"{seconds} s"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} d {minutes // 60 % 24} h"


@dataclass(frozen=True)
class ActionText:
    """One proposed call as a reviewer reads it."""

    tool: str
    description: str
    destructive: bool
    args: tuple[tuple[str, str], ...]
    """(label, value) per argument: the schema's title, the value in human terms with hidden characters revealed."""
    warnings: tuple[str, ...] = ()
    """Hidden characters or lookalike letters in the arguments, one sentence each (approvals/core/hidden_text.py)."""


def actions_text(request: HITLRequest, args_models: ArgsModels) -> tuple[ActionText, ...]:
    """Every action of the request, as the console's review pane shows it; an action without an args schema takes
    its labels from our own tool's model of that name (`args_models`), if there is one."""
    texts = []
    for index, action in enumerate(request.action_requests):
        schema = (request.review_configs[index].args_schema if index < len(request.review_configs) else None) or {}
        own = args_models[action.name].model_json_schema() if action.name in args_models else {}
        properties = schema.get("properties") or own.get("properties") or {}
        args = tuple(
            (reveal((properties.get(name) or {}).get("title") or name),
             reveal(arg_text(name, value) if isinstance(value, str | int | float | bool)
                    else json.dumps(value, indent=2, ensure_ascii=False)))
            for name, value in action.args.items()
        )
        description = action.description or ""
        texts.append(ActionText(reveal(action.name), reveal(description), is_destructive(action.name, description),
                                args, tuple(text_warnings(action.args))))
    return tuple(texts)
