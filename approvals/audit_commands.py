"""`python -m approvals audit export|verify|public-key` and `pause|resume tool|graph NAME --by USER`.

`audit verify` exits 1 naming the first bad seq or the missing head; `audit export` writes JSON Lines to stdout or
`--out`, and exits 1 when the chain's tip has no signed head (the export then cannot verify).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from approvals.core.records import TARGET_KINDS
from approvals.store.database import Database, iso

if TYPE_CHECKING:
    from approvals.audit.evidence import Witness
    from approvals.core.actors import Actor

# Each command imports what it works with when it runs (below), so `python -m approvals token ...` does not load
# the audit chain, the policy engine or LangChain just to build its parser.


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
    verify.add_argument("--public-key", type=Path, action="append",
                        help="trust this PEM public key (repeatable; default: this installation's key, and for a "
                             "FILE every key it has signed with)")
    verify.add_argument("--heads", type=Path, metavar="WITNESS",
                        help="heads kept outside the database (audit.head webhook events or earlier exports, JSON "
                             "Lines): the chain must match each")
    verify.set_defaults(command=_verify)
    public = actions.add_parser("public-key", help="the PEM public key that signs heads")
    public.set_defaults(command=_public_key)
    for action in ("pause", "resume"):
        switch = topics.add_parser(action, help=f"{action} approvals of a tool or a graph (the stop switch)")
        switch.add_argument("kind", choices=TARGET_KINDS)
        switch.add_argument("name")
        switch.add_argument("--by", required=True, help="the reviewer doing it (an account name)")
        switch.set_defaults(command=_pause if action == "pause" else _resume)


def _iso(raw: str) -> str:
    try:
        return iso(datetime.fromisoformat(raw))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO time (e.g. 2026-06-01T00:00:00+00:00)") from error


def _export(db: Database, args: argparse.Namespace) -> int:
    from approvals.audit import evidence

    if args.out is None:
        done = evidence.export(db, sys.stdout, args.since)
    else:
        with args.out.open("w", encoding="utf-8") as out:
            done = evidence.export(db, out, args.since)
    if done.tip is None:
        print("Nothing to export: the audit log has no entry" + (" since then." if args.since else "."),
              file=sys.stderr)
        return 0
    if not done.signed:
        print(f"FAILED: the chain's tip (seq {done.tip.seq}) has no signed head; the export will not verify. "
              "Run `audit verify`.", file=sys.stderr)
        return 1
    print(f"Exported up to seq {done.tip.seq}, head {done.tip.hash}.", file=sys.stderr)
    return 0


def _verify(db: Database, args: argparse.Namespace) -> int:
    from approvals.audit import evidence, signing

    try:
        given = {path.read_text() for path in args.public_key or []}
        witness = _witness(args.heads) if args.heads else None
        if args.file is None:
            problem = evidence.verify_live(db, given, witness)
        else:
            with args.file.open(encoding="utf-8") as lines:
                problem = evidence.verify_export(lines, given or signing.known_public_keys(db), witness)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if problem is not None:
        print(f"FAILED at {problem}", file=sys.stderr)
        return 1
    checked = "the rows it covers" if args.file is None else "the export"
    print(f"OK: the chain, its signed heads{', the witness' if witness else ''} and {checked} verify.",
          file=sys.stderr)
    return 0


def _witness(path: Path) -> Witness:
    from approvals.audit import evidence

    with path.open(encoding="utf-8") as lines:
        return evidence.read_witness(lines)


def _public_key(db: Database, args: argparse.Namespace) -> int:
    from approvals.audit import signing

    print(signing.public_pem(signing.signing_key()), end="")
    return 0


def _pause(db: Database, args: argparse.Namespace) -> int:
    from approvals.service import oversight

    held = oversight.pause(db, args.kind, args.name, _reviewer(db, args.by))
    print(f"{held.kind} {held.name} paused by {held.paused_by} at {held.paused_at}.", file=sys.stderr)
    return 0


def _resume(db: Database, args: argparse.Namespace) -> int:
    from approvals.service import oversight

    done = oversight.resume(db, args.kind, args.name, _reviewer(db, args.by))
    print(f"{args.kind} {args.name} " + ("resumed." if done else "was not paused."), file=sys.stderr)
    return 0


def _reviewer(db: Database, username: str) -> Actor:
    from approvals.core.errors import NotAllowed
    from approvals.identity.accounts import account_actor

    actor = account_actor(db, username)
    if actor is None:
        raise NotAllowed(f"There is no account {username!r}.")
    return actor



