"""The form an MCP tool's question becomes: one widget per property of its requested_schema (MCP's subset of JSON
Schema), labelled by the title, helped by the description, defaults filled in; and what a submitted form sends."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from approvals.core.elicitation import check_responses, elicitation_requests, form_fields
from approvals.core.hitl import InvalidDecision

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Your name", "description": "As on your badge.", "minLength": 2},
        "email": {"type": "string", "format": "email", "title": "Email"},
        "site": {"type": "string", "format": "uri", "title": "Website"},
        "start": {"type": "string", "format": "date", "title": "Start date", "default": "2026-12-24"},
        "at": {"type": "string", "format": "date-time", "title": "When"},
        "ratio": {"type": "number", "title": "Ratio", "minimum": 0, "maximum": 1, "default": 0.5},
        "seats": {"type": "integer", "title": "Seats", "minimum": 1, "maximum": 9},
        "ok": {"type": "boolean", "title": "Agree", "default": True},
        "size": {"type": "string", "title": "Size", "enum": ["s", "m", "l"], "default": "m"},
        "tier": {"type": "string", "title": "Tier", "oneOf": [{"const": "gold", "title": "Gold tier"},
                                                              {"const": "free", "title": "Free tier"}]},
        "tags": {"type": "array", "title": "Tags", "items": {"type": "string", "enum": ["a", "b"]}},
    },
    "required": ["name", "seats", "tier"],
}
VALUE = {"type": "mcp_elicitation", "tool_name": "sign_up",
         "requests": [{"key": "k1", "message": "Who are you?", "mode": "form", "requested_schema": SCHEMA}]}


def test_each_property_becomes_the_field_a_person_expects():
    fields = {f.name: f for f in form_fields(SCHEMA)}
    assert {n: f.kind for n, f in fields.items()} == {
        "name": "text", "email": "email", "site": "uri", "start": "date", "at": "date-time", "ratio": "number",
        "seats": "integer", "ok": "boolean", "size": "choice", "tier": "choice", "tags": "choices"}
    assert (fields["name"].label, fields["name"].help, fields["name"].required) == ("Your name", "As on your badge.",
                                                                                   True)
    assert (fields["seats"].minimum, fields["seats"].maximum, fields["email"].required) == (1, 9, False)
    assert fields["tier"].options == (("gold", "Gold tier"), ("free", "Free tier"))
    assert (fields["size"].default, fields["start"].default) == ("m", "2026-12-24")


@pytest.mark.parametrize(("content", "reason"), [
    ({"name": "Jo", "seats": 2, "tier": "gold", "site": "not a url"}, "is not a 'uri'"),
    ({"name": "Jo", "seats": 2, "tier": "gold", "at": "tomorrow"}, "is not a 'date-time'"),
    ({"name": "Jo", "seats": 2, "tier": "gold", "start": "24/12/2026"}, "is not a 'date'"),
    ({"name": "Jo", "seats": 2, "tier": "bronze"}, "is not valid under any of the given schemas"),
    ({"name": "Jo", "seats": 2.5, "tier": "gold"}, "is not of type 'integer'"),
])
def test_formats_and_titled_enums_are_checked(content, reason):
    requests = elicitation_requests(VALUE)
    with pytest.raises(InvalidDecision, match=reason):
        check_responses(requests, {"responses": {"k1": {"action": "accept", "content": content}}})


def _form(so_far: dict | None = None) -> None:
    import streamlit as st

    from approvals.core.records import ReviewRequest
    from tests.pages.test_elicitation_form import VALUE
    from ui.elicitation_form import elicitation_form

    review = ReviewRequest("mcp_elicitation", VALUE, None, None, "carol", "2026-12-03T09:00:00+00:00", "reviewer")
    if responses := elicitation_form(review, "form", True, so_far):
        st.session_state["sent"] = responses


def test_the_form_is_filled_and_sends_what_the_schema_asks():
    at = AppTest.from_function(_form).run(timeout=30)
    assert not at.exception
    assert [w.label for w in at.text_input] == ["Your name", "Email", "Website", "When"]
    assert at.number_input(key="form_0_ratio").value == 0.5 and at.checkbox(key="form_0_ok").value is True
    assert at.date_input(key="form_0_start").value == date(2026, 12, 24)
    assert at.selectbox(key="form_0_tier").value is None  # required, no default: the person chooses
    at.text_input(key="form_0_name").input("Jo")
    at.text_input(key="form_0_site").input("https://jo.example.com")
    at.number_input(key="form_0_seats").set_value(3)
    at.selectbox(key="form_0_tier").select("free")
    at.multiselect(key="form_0_tags").select("b")
    next(b for b in at.button if b.label == "Accept").click().run(timeout=30)
    content = at.session_state["sent"]["responses"]["k1"]["content"]
    assert content == {"name": "Jo", "site": "https://jo.example.com", "start": "2026-12-24", "ratio": 0.5,
                       "seats": 3, "ok": True, "size": "m", "tier": "free", "tags": ["b"]}
    assert check_responses(elicitation_requests(VALUE), at.session_state["sent"])["responses"]["k1"]["content"] \
        == content
    next(b for b in at.button if b.label == "Cancel").click().run(timeout=30)
    assert at.session_state["sent"] == {"responses": {"k1": {"action": "cancel"}}}


def test_a_second_approver_starts_from_the_answer_approved_so_far():
    so_far = {"responses": {"k1": {"action": "accept", "content": {"name": "Jo", "seats": 4, "tier": "gold"}}}}
    at = AppTest.from_function(_form, args=(so_far,)).run(timeout=30)
    assert (at.text_input(key="form_0_name").value, at.number_input(key="form_0_seats").value) == ("Jo", 4)
    assert at.selectbox(key="form_0_tier").value == "gold" and at.selectbox(key="form_0_size").value == "m"
