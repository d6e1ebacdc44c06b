"""The one rule for showing an argument (approvals.core.hidden_text): what is escaped, what is flagged, what is left
alone. No I/O; the screens and the CSV that use it are tested in test_console_page.py and test_access_output.py."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from approvals.core.hidden_text import has_hidden, is_hidden, lookalikes_in, reveal, shown, text_flag, text_warnings

NAMED_IN_THE_ISSUE = {
    "\u202e": "right-to-left override", "\u200b": "zero-width space", "\u034f": "combining grapheme joiner",
    "\u115f": "Hangul choseong filler", "\u1160": "Hangul jungseong filler", "\u3164": "Hangul filler",
    "\uffa0": "halfwidth Hangul filler", "\u2800": "braille blank", "\ufe0f": "variation selector 16",
    "\U000e0100": "variation selector 17", "\u00a0": "no-break space", "\u2028": "line separator",
    "\u2029": "paragraph separator", "\U000e0041": "tag latin capital a", "\u0007": "bell",
}


@pytest.mark.parametrize("char", NAMED_IN_THE_ISSUE, ids=NAMED_IN_THE_ISSUE.values())
def test_each_invisible_character_is_shown_as_its_escape_and_flagged(char: str):
    escape = f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"
    assert reveal(f"jo{char}@example.com") == f"jo{escape}@example.com"
    assert text_flag({"to": f"jo{char}@example.com"}) == "⚠️ hidden characters"
    assert text_warnings({"to": f"jo{char}@example.com"})[0].startswith("Hidden characters in to:")


def test_every_format_character_is_escaped():
    formats = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    assert len(formats) > 150
    assert not any(c in reveal("".join(formats)) for c in formats)


@pytest.mark.parametrize("text", ["jo@example.com", "José Müller", "注文 1234", "Иван Петров", "line one\nline\ttwo",
                                  "👍 $25.00 refund", "naïve café"])
def test_ordinary_text_is_left_alone(text: str):
    assert reveal(text) == text and shown(text) == text
    assert text_flag({"note": text}) == "" and text_warnings({"note": text}) == []


@pytest.mark.parametrize("value, letters", [
    ("p\u0430ypal@example.com", ["\u0430"]),          # Cyrillic a in a Latin address
    ("jo@\u0435\u0445ample.com", ["\u0435", "\u0445"]),  # Cyrillic ie and ha
    ("g\u03bfogle.com", ["\u03bf"]),                    # Greek omicron
    ("ivan@\u043f\u043e\u0447\u0442\u0430.com", ["\u043f", "\u043e", "\u0447", "\u0442", "\u0430"]),
])
def test_latin_words_with_lookalike_letters_are_flagged(value: str, letters: list[str]):
    assert lookalikes_in({"to": value}) == {"to": letters}
    assert text_flag({"to": value}) == "⚠️ lookalike letters"
    [warning] = text_warnings({"to": value})
    assert warning.startswith("Lookalike letters in to:") and f"U+{ord(letters[0]):04X}" in warning


def test_nested_values_and_keys_are_checked_and_both_findings_named():
    args = {"payload": {"recipients": ["ok@example.com", "b\u0430d@example.com"], "no\u200bte": "x"}}
    assert text_flag(args) == "⚠️ hidden characters and lookalike letters"
    assert len(text_warnings(args)) == 2


def test_shown_json_is_escaped_and_reads_back_to_the_exact_value():
    value = {"to": "jo@\u202emoc.elpmaxe.ni", "tag": "\U000e0041", "name": "José"}
    text = shown(value)
    assert "\u202e" not in text and "\U000e0041" not in text and "José" in text
    assert "\\u202e" in text and json.loads(text) == value


def test_the_whole_text_check_agrees_with_the_rule_for_every_character():
    """The queue's fast check (one C pass over a cell) finds exactly the characters the one-at-a-time rule does,
    for every code point, alone and inside ordinary text."""
    disagree = [hex(code) for code in range(sys.maxunicode + 1) if has_hidden(chr(code)) != is_hidden(chr(code))]
    assert disagree == []
    assert not has_hidden("refund\t$25.00\r\nnaïve café") and has_hidden("ok\u202e") and has_hidden("ok\u2800")
