"""One rule for showing an argument anywhere (queue, bulk confirmation, card, toasts, history, CSV, email, Slack).

"jo@\\u202emoc.elpmaxe.ni" (with a right-to-left override) displays as "jo@in.example.com", and
"p\\u0430ypal.com" (a Cyrillic a) as "paypal.com": a reviewer must see what will really be sent. So characters
that change how text looks without being seen are written as escapes (`\\u202e`) and the item carries a warning;
a word that mixes Latin letters with Cyrillic, Greek, Armenian or Cherokee ones (which look the same) is flagged.
Every screen and message calls `shown` (a value as display text) and `text_warnings` (what to warn about);
nothing here knows about Streamlit.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
"""Controls, format characters (bidi, zero-width, tags), private use, unassigned, surrogates, line and paragraph
separators (U+2028/U+2029): none of them shows as what it is."""
VISIBLE_CONTROLS = frozenset("\t\n\r")
"""Tabs and line breaks are ordinary text (a message body has them); every screen shows them as such."""
IGNORABLE_RANGES = (
    (0x034F, 0x034F),    # combining grapheme joiner
    (0x115F, 0x1160),    # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),    # Khmer inherent vowels
    (0x180B, 0x180F),    # Mongolian free variation selectors
    (0x2800, 0x2800),    # braille pattern blank
    (0x3164, 0x3164),    # Hangul filler
    (0xFE00, 0xFE0F),    # variation selectors
    (0xFFA0, 0xFFA0),    # halfwidth Hangul filler
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
"""Unicode's Default_Ignorable_Code_Point characters outside those categories (drawn as nothing), and U+2800."""
LOOKALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"})
"""Scripts with letters that look like Latin ones (а/a, ο/o, Տ/S, Ꭺ/A)."""


_IGNORABLE = re.compile("[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in IGNORABLE_RANGES) + "]")
_VISIBLE_CONTROLS_GONE = str.maketrans("", "", "".join(VISIBLE_CONTROLS))


def is_hidden(char: str) -> bool:
    """A character that does not show as itself: invisible, direction-changing, or a space that is not a space."""
    if char in VISIBLE_CONTROLS:
        return False
    category, code = unicodedata.category(char), ord(char)
    return category in INVISIBLE_CATEGORIES or (category == "Zs" and char != " ") \
        or any(low <= code <= high for low, high in IGNORABLE_RANGES)


def has_hidden(text: str) -> bool:
    """Whether any character of `text` is hidden (`is_hidden`), in C rather than one Python call per character: the
    queue checks every cell of 200 rows on each refresh. `str.isprintable` is false exactly for Unicode's "Other"
    and "Separator" categories except the space, which is `is_hidden`'s category rule; the ignorable ranges are
    a regular expression."""
    return not text.translate(_VISIBLE_CONTROLS_GONE).isprintable() or _IGNORABLE.search(text) is not None


def reveal(text: str) -> str:
    """`text` with every hidden character written as its escape: `\\u202e`, `\\U000e0041`."""
    if not has_hidden(text):
        return text
    return "".join((f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}") if is_hidden(c) else c
                   for c in text)


def shown(value: Any) -> str:
    """Any argument value as display text, hidden characters escaped: text as it is, anything else as JSON (valid
    JSON that reads back to the exact value: its escapes are JSON's own, `\\udb40\\udc41` for a tag character).

    The plain function every place that shows an argument calls (emails and Slack messages too)."""
    if isinstance(value, str):
        return reveal(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return "".join(json.dumps(c)[1:-1] if is_hidden(c) else c for c in text)


def lookalike_letters(text: str) -> list[str]:
    """The non-Latin lookalike letters in each word (a run without spaces) that also has Latin letters."""
    found: list[str] = []
    if text.isascii():  # no letter of another script
        return found
    for word in text.split():
        scripts = {char: _script(char) for char in word if char.isalpha()}
        if "LATIN" in scripts.values():
            found += [c for c, script in scripts.items() if script in LOOKALIKE_SCRIPTS and c not in found]
    return found


def hidden_in(args: dict[str, Any]) -> list[str]:
    """The names of the arguments whose values (at any depth, keys included) contain hidden characters."""
    return [name for name, value in args.items() if any(has_hidden(text) for text in _texts(name, value))]


def lookalikes_in(args: dict[str, Any]) -> dict[str, list[str]]:
    """Argument name → the lookalike letters mixed into its Latin words (only arguments that have some)."""
    found = {name: [c for text in _texts(name, value) for c in lookalike_letters(text)] for name, value in args.items()}
    return {name: letters for name, letters in found.items() if letters}


def text_warnings(args: dict[str, Any]) -> list[str]:
    """What a reviewer is warned about, one sentence per finding (empty when the arguments are plain text)."""
    warnings = []
    if names := hidden_in(args):
        warnings.append(f"Hidden characters in {', '.join(reveal(n) for n in names)}: invisible or direction-changing"
                        " characters are shown as \\u escapes; what you see elsewhere may not be what will be used.")
    for name, letters in lookalikes_in(args).items():
        listed = ", ".join(f"{c} ({_script(c).title()}, U+{ord(c):04X})" for c in letters[:3])
        warnings.append(f"Lookalike letters in {reveal(name)}: {listed} among Latin letters; it may not be the"
                        " address or name it looks like.")
    return warnings


def text_flag(args: dict[str, Any]) -> str:
    """A short mark for one-line places (a queue cell, a bulk line): "" when there is nothing to warn about."""
    marks = (["hidden characters"] if hidden_in(args) else []) + (["lookalike letters"] if lookalikes_in(args) else [])
    return f"⚠️ {' and '.join(marks)}" if marks else ""


def _script(char: str) -> str:
    """The script a letter belongs to, from its Unicode name ("CYRILLIC SMALL LETTER A" → "CYRILLIC")."""
    return unicodedata.name(char, "").split(" ", 1)[0]


def _texts(name: str, value: Any) -> Iterator[str]:
    """Every piece of text in an argument: its name, and each string and key inside its value."""
    yield name
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(str(key), item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts("", item)
