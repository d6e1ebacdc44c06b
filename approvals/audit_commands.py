"""`python -m approvals audit export|verify|public-key` and `pause|resume tool|graph NAME --by USER`.

`audit verify` exits 1 naming the first bad seq; `audit export` writes JSON Lines to stdout or `--out`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from approvals.audit import evidence, signing
from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed
from approvals.identity.accounts import account_actor
from approvals.service import oversight
from approvals.store.database import Database, iso


def add_commands(topics: Any) -> None:
    """Register the audit and stop-switch commands on the CLI's subparsers."""
    audit = topics.add_parser("audit", help="the signed, hash-chained audit log")
    actions = audit.add_subparsers(required=True, metavar="export|verify|public-key")
    export = actions.add_parser("export", help="the chain as JSON Lines, then its signed head")
    export.add_argument("--out", type=Path, help="write here instead of stdout")
    export.add_argument("--since", type=_iso, help="only entries recorded at or after this ISO time")
    export.set_defaults(command=_export)
    verify = actions.add_parser("verify", help="check an export (or, without FILE, the live database)")
    verify.add_argument("file", nargs="?", type=Path)
    verify.add_argument("--public-key", type=Path, help="trust only this PEM public key (default: this "
                                                        "installation's keys, old ones included)")
    verify.set_defaults(command=_verify)
    public = actions.add_parser("public-key", help="the PEM public key that signs heads")
    public.set_defaults(command=_public_key)
    for action in ("pause", "resume"):
        switch = topics.add_parser(action, help=f"{action} approvals of a tool or a graph (the stop switch)")
        switch.add_argument("kind", choices=oversight.TARGET_KINDS)
        switch.add_argument("name")
        switch.add_argument("--by", required=True, help="the reviewer doing it (an account name)")
        switch.set_defaults(command=_pause if action == "pause" else _resume)


def _iso(raw: str) -> str:
    try:
        return iso(datetime.fromisoformat(raw))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO time (e.g. 2026-06-01T00:00:00+00:00)") from error


def _export(db: Database, args: argparse.Namespace) -> int:
    if args.out is None:
        head = evidence.export(db, sys.stdout, args.since)
    else:
        with args.out.open("w", encoding="utf-8") as out:
            head = evidence.export(db, out, args.since)
    print(f"Exported up to seq {head.seq}, head {head.hash}.", file=sys.stderr)
    return 0


def _verify(db: Database, args: argparse.Namespace) -> int:
    if args.file is None:
        problem = evidence.verify_live(db)
    else:
        trusted = {args.public_key.read_text()} if args.public_key else signing.known_public_keys(db)
        with args.file.open(encoding="utf-8") as lines:
            problem = evidence.verify_export(lines, trusted)
    if problem is not None:
        print(f"FAILED at {problem}", file=sys.stderr)
        return 1
    print("OK: the chain, its signed head and " + ("the decision rows" if args.file is None else "the export")
          + " verify.", file=sys.stderr)
    return 0


def _public_key(db: Database, args: argparse.Namespace) -> int:
    print(signing.public_pem(signing.signing_key()), end="")
    return 0


def _pause(db: Database, args: argparse.Namespace) -> int:
    held = oversight.pause(db, args.kind, args.name, _reviewer(db, args.by))
    print(f"{held.kind} {held.name} paused by {held.paused_by} at {held.paused_at}.", file=sys.stderr)
    return 0


def _resume(db: Database, args: argparse.Namespace) -> int:
    done = oversight.resume(db, args.kind, args.name, _reviewer(db, args.by))
    print(f"{args.kind} {args.name} " + ("resumed." if done else "was not paused."), file=sys.stderr)
    return 0


def _reviewer(db: Database, username: str) -> Actor:
    actor = account_actor(db, username)
    if actor is None:
        raise NotAllowed(f"There is no account {username!r}.")
    return actor



