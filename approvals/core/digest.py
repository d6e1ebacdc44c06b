"""Canonical JSON and the digests made of it: one byte string per value, so a hash means the same everywhere.

Sorted keys, no spaces, UTF-8 as is (`ensure_ascii=False`): what the audit chain hashes and what a reviewer's
screen is bound to (the request digest), reproducible by anyone with a JSON library and sha256.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """The one text of a JSON value; anything JSON cannot hold (a datetime in a raw interrupt) as its str()."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_digest(value: Any) -> str:
    """The digest of an interrupt value as the reviewer saw it: approving binds to exactly this request."""
    return sha256_hex(canonical_json(value))
