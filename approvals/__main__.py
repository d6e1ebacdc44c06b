"""Command line: `python -m approvals token|audit|pause|resume|user|policy ...`, on DATABASE_URL or SQLite.

`token create` prints the secret alone on stdout (so `TOKEN=$(python -m approvals token create alice)` works)
and everything meant for a person on stderr. `policy` commands read the policy file and return their own exit
status (`check` exits 1 on any `FILE:LINE: reason`); `token` and `user` commands work on the database.
"""

from __future__ import annotations

import argparse
import sys

from approvals.audit_commands import add_commands as add_audit_commands
from approvals.cli import policy, users
from approvals.core.errors import ApprovalError
from approvals.identity import api_tokens
from approvals.store.database import Database
from approvals.store.schema import open_store


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "standalone", False):
        return int(args.command(args))
    store = open_store()
    try:
        return args.command(store.db, args) or 0
    except ApprovalError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m approvals", description=__doc__.splitlines()[0])
    topics = parser.add_subparsers(required=True, metavar="token|audit|pause|resume|user|policy")
    token = topics.add_parser("token", help="API tokens for the JSON API (/api/approvals)")
    actions = token.add_subparsers(required=True, metavar="create|list|revoke")
    create = actions.add_parser("create", help="make a token for an account and print it once")
    create.add_argument("username")
    create.add_argument("--label", default="", help="what the token is for, shown in the console's list")
    create.set_defaults(command=_create)
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("username", nargs="?")
    listing.set_defaults(command=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.set_defaults(command=_revoke)
    add_audit_commands(topics)
    users.add_commands(topics)
    policy.add_commands(topics)
    return parser


def _create(db: Database, args: argparse.Namespace) -> None:
    token, secret = api_tokens.create_token(db, args.username, args.label)
    print(secret)
    print(f"API token {token.token_id} for {token.username}. It is shown only this once: store it now.",
          file=sys.stderr)


def _list(db: Database, args: argparse.Namespace) -> None:
    for token in api_tokens.list_tokens(db, args.username and args.username.strip().lower()):
        state = f"revoked {token.revoked_at}" if token.revoked_at else (
            f"expires {token.expires_at}, last used {token.last_used_at or 'never'}")
        print(f"{token.token_id}  {token.username}  {token.label!r}  created {token.created_at}  {state}")


def _revoke(db: Database, args: argparse.Namespace) -> None:
    api_tokens.revoke_token(db, args.token_id)
    print(f"Revoked {args.token_id}.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
