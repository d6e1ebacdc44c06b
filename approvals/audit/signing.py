"""The signed head: Ed25519 over the head's hash (as ASCII hex), with a key that lives outside the database.

Every append signs the new head in its own transaction, so the tip of the chain is always signed: someone who
can edit every table can rewrite the chain consistently, but cannot sign its new tip without the key file (kept
outside `data/` by default, so a copy of the data directory is not enough). Every head is kept with its public
key, so an export made before a key rotation still verifies afterwards. The signature is plain Ed25519 over the
hex text, so `openssl pkeyutl -verify -rawin` with the PEM public key checks it with no code of ours.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from approvals.store import audit_log
from approvals.store.database import Database, Row, Transaction, utcnow

LEGACY_KEY_PATH = Path("data/audit-key.pem")
"""Where releases before this one made the key: still used while it is there and the new default is not."""

log = logging.getLogger(__name__)
_making = threading.Lock()


@dataclass(frozen=True)
class SignedHead:
    seq: int
    hash: str
    signature: str
    """base64 Ed25519 signature over `hash` as ASCII hex."""
    public_key: str
    """PEM (SubjectPublicKeyInfo) of the key that signed it."""


def default_key_path() -> Path:
    """$XDG_CONFIG_HOME/agent-approvals/audit-key.pem (XDG_CONFIG_HOME defaults to ~/.config): outside the app's
    data directory, so the database, its backups and the key are not copied together."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "agent-approvals" / "audit-key.pem"


def key_path() -> Path:
    """APPROVAL_AUDIT_KEY, else the default; an installation whose key is still at data/audit-key.pem keeps it."""
    configured = os.environ.get("APPROVAL_AUDIT_KEY")
    if configured:
        return Path(configured)
    default = default_key_path()
    if LEGACY_KEY_PATH.exists() and not default.exists():  # one stat per append where there is no legacy key
        _warn_legacy(str(default))
        return LEGACY_KEY_PATH
    return default


@functools.cache
def _warn_legacy(default: str) -> None:
    log.warning("The audit key is at %s, beside the database; move it to %s (or set APPROVAL_AUDIT_KEY).",
                LEGACY_KEY_PATH, default)


def signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The private key, made on first use (mode 0600: only the app's user may read it)."""
    return _key_and_public(path or key_path())[0]


def _key_and_public(path: Path) -> tuple[Ed25519PrivateKey, str]:
    try:
        made = path.stat()
    except FileNotFoundError:
        _make_key(path)
        made = path.stat()
    return _load(str(path), made.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> tuple[Ed25519PrivateKey, str]:
    """The key and its public PEM, read once per file version: every append signs, so it must not parse a PEM."""
    loaded = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key.")
    return loaded, public_pem(loaded)


def _make_key(path: Path) -> None:
    """Write a new key whole under a temporary name, then link it into place: a replica or thread that loses the
    race keeps the winner's key and never reads a half-written file."""
    with _making:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never world-readable
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: its key is the one
        finally:
            draft.unlink(missing_ok=True)


def current_public_key() -> str | None:
    """The PEM public key of the configured key, or None when there is no key file (verify never makes one)."""
    path = key_path()
    return _key_and_public(path)[1] if path.exists() else None


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signed(seq: int, head_hash: str, path: Path | None = None) -> SignedHead:
    """The head (seq, hash) signed with the key at `path` (default: the configured key)."""
    key, public = _key_and_public(path or key_path())
    return SignedHead(seq, head_hash, base64.b64encode(key.sign(head_hash.encode("ascii"))).decode(), public)


def sign_tip(tx: Transaction, seq: int, head_hash: str) -> SignedHead:
    """Sign the entry just appended and keep the head in the appending transaction: the tip is never unsigned."""
    head = signed(seq, head_hash)
    audit_log.insert_head(tx, head.seq, head.hash, head.signature, head.public_key, utcnow())
    return head


def signature_valid(head_hash: str, signature: str, public_key: str) -> bool:
    """Whether `signature` (base64) is Ed25519 over `head_hash` (ASCII hex) by `public_key` (PEM)."""
    try:
        loaded = _public_key(public_key)
        if loaded is None:
            return False
        loaded.verify(base64.b64decode(signature, validate=True), head_hash.encode("ascii"))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@functools.lru_cache(maxsize=16)
def _public_key(pem: str) -> Ed25519PublicKey | None:
    loaded = serialization.load_pem_public_key(pem.encode())
    return loaded if isinstance(loaded, Ed25519PublicKey) else None


def known_public_keys(db: Database) -> set[str]:
    """Every public key this installation has signed with (old keys included), plus the current one if it exists."""
    keys = audit_log.public_keys(db)
    current = current_public_key()
    return keys | {current} if current else keys


def signed_heads(db: Database, from_seq: int = 1) -> list[SignedHead]:
    return [head_of(row) for row in audit_log.heads_from(db, from_seq)]


def head_of(row: Row) -> SignedHead:
    """A stored head row as a SignedHead."""
    return SignedHead(int(row["seq"]), row["hash"], row["signature"], row["public_key"])


def first_bad_signature(heads: Iterable[SignedHead]) -> SignedHead | None:
    """Given heads in seq order whose last one does not verify, the first that does not (a rewrite invalidates
    every head from the rewritten seq on): a binary search, so a long chain costs a few dozen checks, not one each."""
    ordered = list(heads)
    if not ordered:
        return None
    low, high = 0, len(ordered) - 1
    while low < high:
        middle = (low + high) // 2
        head = ordered[middle]
        if signature_valid(head.hash, head.signature, head.public_key):
            low = middle + 1
        else:
            high = middle
    return ordered[low]
