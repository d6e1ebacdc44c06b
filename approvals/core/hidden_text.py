"""Characters that change how text looks without being seen: bidi controls, zero-width and other invisibles.

"jo@\u202emoc.elpmaxe.ni" displays as "jo@in.example.com": a reviewer must see what will really be sent, so these
characters are shown as escapes (`\\u202e`) and the item carries a warning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

_BIDI_AND_INVISIBLE = re.compile(
    "[\u061c\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)


def _hidden(char: str) -> bool:
    """Bidi controls, zero-width characters and other format/control characters (tab and newline excepted)."""
    return bool(_BIDI_AND_INVISIBLE.match(char)) or (
        unicodedata.category(char) in ("Cc", "Cf") and char not in "\t\n\r")


def reveal(text: str) -> str:
    """`text` with every hidden character written as its escape, e.g. `\\u202e`."""
    return "".join(f"\\u{ord(c):04x}" if _hidden(c) else c for c in text)


def hidden_in(args: dict[str, Any]) -> list[str]:
    """The names of the arguments whose values (at any depth) contain hidden characters."""
    return [name for name, value in args.items() if any(map(_hidden, json.dumps(value, ensure_ascii=False)))]
