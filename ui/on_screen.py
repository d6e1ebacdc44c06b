"""Keys that decide only what the reviewer had time to read.

Each decision button is keyed by the item (and the step: the card, a confirmation) it was drawn for, so a press
that reaches the server after the next item was drawn finds no button to call: Streamlit drops it. Each step
records when this screen first drew it; the service refuses a decision less than READ_SECONDS later. Meanwhile
the step's buttons are faded and take no clicks, and "Ready" appears when they become live (CSS, timed in the
browser from when it drew them, so it never shows before the server would accept the press).
"""

from __future__ import annotations

import hashlib

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from approvals.core.reading import READ_SECONDS
from approvals.core.records import PendingApproval
from approvals.store.database import utcnow

SHOWN_KEY = "console_shown"

GATE_STYLE = """<style>
@keyframes console_live_{token} {{ to {{ opacity: 1; pointer-events: auto; visibility: visible; }} }}
.st-key-console_gate_{token} {{ opacity: .45; pointer-events: none;
  animation: console_live_{token} 0s linear {delay}s forwards; }}
.st-key-console_live_{token} {{ visibility: hidden; animation: console_live_{token} 0s linear {delay}s forwards; }}
</style>"""


def step_token(pending: PendingApproval, step: str) -> str:
    """A short name for one step of one version of an item, safe in a widget key and a CSS class."""
    return hashlib.sha256(f"{pending.interrupt_id}|{pending.request_digest}|{step}".encode()).hexdigest()[:12]


def shown_at(pending: PendingApproval, step: str) -> str:
    """When this screen first drew `step` of the item as it is now (a changed request starts again)."""
    token = step_token(pending, step)
    seen: dict[str, str] = st.session_state.setdefault(SHOWN_KEY, {})
    if token not in seen:
        if len(seen) > 16:  # only the open item's steps matter
            seen.clear()
        seen[token] = utcnow()
    return seen[token]


def gate(pending: PendingApproval, step: str, parent: DeltaGenerator | None = None) -> DeltaGenerator:
    """A row for `step`'s buttons, faded and deaf to clicks until READ_SECONDS after it is drawn."""
    token = step_token(pending, step)
    shown_at(pending, step)
    st.html(GATE_STYLE.format(token=token, delay=READ_SECONDS))
    return (parent or st).container(horizontal=True, vertical_alignment="center", key=f"console_gate_{token}")


def ready_sign(row: DeltaGenerator, pending: PendingApproval, step: str) -> None:
    """The visible sign that the step's keys are live."""
    row.container(key=f"console_live_{step_token(pending, step)}", width="content").caption("● Ready")


def bound_key(name: str, pending: PendingApproval, step: str) -> str:
    """A button key naming the item and step it was drawn for (in a container keyed `name`, for tests and CSS)."""
    return f"{name}_{step_token(pending, step)}"
