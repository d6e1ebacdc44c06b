"""`python -m approvals user add|list|set|remove`: local accounts, their roles, groups, passwords and the addresses
channels reach them at (email, Slack user id).

A password is read from stdin (one line; typed without echo on a terminal), never from the command line,
where it would stay in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from approvals.identity import accounts
from approvals.store.database import Database


def add_commands(topics: argparse._SubParsersAction) -> None:
    user = topics.add_parser("user", help="local accounts: roles, groups, passwords (password on stdin)")
    actions = user.add_subparsers(required=True, metavar="add|list|set|remove")
    add = actions.add_parser("add", help="make an account; its password is read from stdin")
    add.add_argument("username")
    add.add_argument("--role", default="requester", choices=accounts.ACCOUNT_ROLES)
    add.add_argument("--groups", default="", help="comma-separated, e.g. finance,legal")
    _address_options(add, "")
    add.set_defaults(command=_add)
    listing = actions.add_parser("list", help="every account with its role and groups")
    listing.set_defaults(command=_list)
    change = actions.add_parser("set", help="change an account's role, groups or (from stdin) password")
    change.add_argument("username")
    change.add_argument("--role", choices=accounts.ACCOUNT_ROLES)
    change.add_argument("--groups", help='comma-separated; "" for none')
    change.add_argument("--password", action="store_true", help="read a new password from stdin")
    _address_options(change, None)
    change.set_defaults(command=_set)
    remove = actions.add_parser("remove", help="delete an account; its sessions and API tokens end")
    remove.add_argument("username")
    remove.set_defaults(command=_remove)


def _address_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument("--email", default=default, metavar="ADDRESS", help='where email notifications go; "" for none')
    parser.add_argument("--slack-id", default=default, metavar="ID", help='Slack user id (U…); "" for none')


def read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _add(db: Database, args: argparse.Namespace) -> None:
    account = accounts.add_account(db, args.username, args.role, read_password(), accounts.parse_groups(args.groups),
                                   email=args.email, slack_id=args.slack_id)
    print(f"Added {_line(account)}.", file=sys.stderr)


def _list(db: Database, args: argparse.Namespace) -> None:
    for account in accounts.list_accounts(db):
        print(_line(account))


def _set(db: Database, args: argparse.Namespace) -> None:
    groups = accounts.parse_groups(args.groups) if args.groups is not None else None
    password = read_password() if args.password else None
    account = accounts.set_account(db, args.username, role=args.role, groups=groups, password=password,
                                   email=args.email, slack_id=args.slack_id)
    print(f"Now {_line(account)}.", file=sys.stderr)


def _remove(db: Database, args: argparse.Namespace) -> None:
    accounts.remove_account(db, args.username)
    print(f"Removed {args.username}; its sessions and API tokens are revoked.", file=sys.stderr)


def _line(account: accounts.Account) -> str:
    addresses = "".join(f"  {name}: {value}" for name, value in (("email", account.email),
                                                                    ("slack", account.slack_id)) if value)
    return f"{account.username}  {account.role}  groups: {', '.join(sorted(account.groups)) or '-'}{addresses}"
