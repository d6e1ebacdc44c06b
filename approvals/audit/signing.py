"""The signed head: Ed25519 over the head's hash (as ASCII hex), with a key that lives outside the database.

Someone who can edit every table can rewrite the whole chain consistently; they cannot sign its new head without
the key file. Every head signed is kept with its public key, so an export made before a key rotation still
verifies afterwards. The signature is plain Ed25519 over the hex text, so `openssl pkeyutl -verify -rawin` with
the PEM public key checks it with no code of ours.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from approvals.audit.chain import Head
from approvals.store.database import Database, utcnow

DEFAULT_KEY_PATH = Path("data/audit-key.pem")


@dataclass(frozen=True)
class SignedHead:
    seq: int
    hash: str
    signature: str
    """base64 Ed25519 signature over `hash` as ASCII hex."""
    public_key: str
    """PEM (SubjectPublicKeyInfo) of the key that signed it."""


def key_path() -> Path:
    """APPROVAL_AUDIT_KEY, default data/audit-key.pem."""
    return Path(os.environ.get("APPROVAL_AUDIT_KEY") or DEFAULT_KEY_PATH)


def signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The private key, made on first use (mode 0600: only the app's user may read it)."""
    path = path or key_path()
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key.")
        return loaded
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never world-readable, not even briefly
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign_head(db: Database, head: Head, key: Ed25519PrivateKey | None = None) -> SignedHead:
    """Sign `head` and keep the signature with its public key (audit_heads), so it verifies after a rotation."""
    key = key or signing_key()
    signed = SignedHead(head.seq, head.hash, base64.b64encode(key.sign(head.hash.encode("ascii"))).decode(),
                        public_pem(key))
    db.execute(
        "INSERT INTO audit_heads (seq, hash, signature, public_key, signed_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (seq, public_key) DO NOTHING",
        (signed.seq, signed.hash, signed.signature, signed.public_key, utcnow()),
    )
    return signed


def signature_valid(head_hash: str, signature: str, public_key: str) -> bool:
    """Whether `signature` (base64) is Ed25519 over `head_hash` (ASCII hex) by `public_key` (PEM)."""
    try:
        loaded = serialization.load_pem_public_key(public_key.encode())
        if not isinstance(loaded, Ed25519PublicKey):
            return False
        loaded.verify(base64.b64decode(signature, validate=True), head_hash.encode("ascii"))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def known_public_keys(db: Database) -> set[str]:
    """Every public key this installation has signed with (old keys included), plus the current one if it exists."""
    keys = {row["public_key"] for row in db.query("SELECT DISTINCT public_key FROM audit_heads")}
    if key_path().exists():
        keys.add(public_pem(signing_key()))
    return keys


def signed_heads(db: Database) -> list[SignedHead]:
    rows = db.query("SELECT seq, hash, signature, public_key FROM audit_heads ORDER BY seq")
    return [SignedHead(int(r["seq"]), r["hash"], r["signature"], r["public_key"]) for r in rows]
