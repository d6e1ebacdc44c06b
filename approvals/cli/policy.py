"""`python -m approvals policy check [FILE] | explain TOOL ARGS_JSON | replay [FILE]`.

`check` prints each problem as `FILE:LINE: reason` and exits 1 on any error or failing `[[tests]]` entry
(warnings, such as a group nobody is in, do not fail it). `explain` names the rule a request meets and what it
decides. `replay` runs a candidate policy over the last N recorded requests and says which outcomes change.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from approvals.core.policy import Policy, Verdict

# The policy engine (CEL) and the database are imported by the commands that use them, when they run: every
# `python -m approvals` start builds this parser, and most of them never read a policy.

REPLAY_EXAMPLES = 5


def add_commands(topics: argparse._SubParsersAction) -> None:
    """`standalone`: these commands open the database themselves, only when they need it."""
    policy = topics.add_parser("policy", help="check, explain and replay the approval policy (approvals.toml)")
    actions = policy.add_subparsers(required=True, metavar="check|explain|replay")
    check = actions.add_parser("check", help="check a policy file and run its [[tests]]")
    check.add_argument("file", nargs="?", type=Path, help="default: APPROVALS_CONFIG or ./approvals.toml")
    check.set_defaults(command=check_command, standalone=True)
    explain = actions.add_parser("explain", help="which rule a request meets, and its outcome")
    explain.add_argument("tool")
    explain.add_argument("args_json", help='the call\'s arguments as a JSON object, e.g. \'{"amount": 250}\'')
    explain.add_argument("--requester", default="someone")
    explain.add_argument("--graph", default="support")
    explain.add_argument("--file", type=Path, help="default: APPROVALS_CONFIG or ./approvals.toml")
    explain.set_defaults(command=explain_command, standalone=True)
    replay = actions.add_parser("replay", help="a candidate policy over the last recorded requests")
    replay.add_argument("file", nargs="?", type=Path, help="the candidate (default: the policy file in force)")
    replay.add_argument("--last", type=int, default=1000, help="how many recent requests (default 1000)")
    replay.set_defaults(command=replay_command, standalone=True)


def check_command(args: argparse.Namespace) -> int:
    from approvals.core.policy_file import run_tests
    from approvals.service.policy import policy_path

    path = args.file or policy_path()
    policy = _load(path)
    if policy is None:
        return 1
    for warning in _warnings(policy):
        print(warning)
    failures = run_tests(policy)
    for failure in failures:
        print(failure)
    passed = len(policy.tests) - len(failures)
    print(f"{path}: {len(policy.rules)} rules, {passed} of {len(policy.tests)} tests passed, version {policy.version}",
          file=sys.stderr)
    return 1 if failures else 0


def explain_command(args: argparse.Namespace) -> int:
    try:
        call_args = json.loads(args.args_json)
    except ValueError as error:
        print(f"error: ARGS_JSON is not JSON: {error}", file=sys.stderr)
        return 1
    if not isinstance(call_args, dict):
        print("error: ARGS_JSON must be a JSON object, e.g. '{\"amount\": 250}'", file=sys.stderr)
        return 1
    from approvals.service.policy import policy_path

    policy = _load(args.file or policy_path())
    if policy is None:
        return 1
    verdict = policy.match(args.tool, call_args, args.graph, args.requester)
    print(f"{args.tool} for {args.requester} on {args.graph}: {verdict.describe()}")
    return 0


def replay_command(args: argparse.Namespace) -> int:
    from approvals.service.policy import policy_path
    from approvals.store.queue_index import recent_requests
    from approvals.store.schema import open_store

    policy = _load(args.file or policy_path())
    if policy is None:
        return 1
    store = open_store()
    try:
        rows = recent_requests(store.db, max(args.last, 1))
    finally:
        store.close()
    changed = [(row, verdict) for row in rows if _changes(row, verdict := _replayed(policy, row))]
    print(f"{len(rows)} recorded requests replayed under {policy.path} (version {policy.version}): "
          f"{len(changed)} outcomes change.")
    for row, verdict in changed[:REPLAY_EXAMPLES]:
        calls = "; ".join(f"{tool} {json.dumps(call_args, sort_keys=True)}"
                          for tool, call_args in json.loads(row["actions"]))
        print(f"  {row['thread_id']}/{row['interrupt_id']} {calls} by {row['requester']}: "
              f"{_recorded(row)} -> {verdict.display} x{verdict.approvers} (rule {verdict.rule!r})")
    return 0


def _replayed(policy: Policy, row: dict) -> Verdict:
    return policy.verdict([(tool, call_args) for tool, call_args in json.loads(row["actions"])], row["graph"],
                          row["requester"])


def _changes(row: dict, verdict: Verdict) -> bool:
    return (verdict.display, verdict.approvers) != (row["policy"], row["approvers"])


def _recorded(row: dict) -> str:
    return f"{row['policy']} x{row['approvers']} (rule {row['rule'] or '?'!r})"


def _load(path: Path) -> Policy | None:
    """The policy, or None after printing each `FILE:LINE: reason` (or why the file cannot be read)."""
    from approvals.core.policy_file import PolicyError
    from approvals.service.policy import read_policy

    try:
        return read_policy(path)
    except PolicyError as error:
        for problem in error.problems:
            print(problem)
    except (OSError, UnicodeDecodeError) as error:
        print(f"{path}:1: cannot read the file: {error}")
    return None


def _warnings(policy: Policy) -> list[str]:
    """Groups nobody is in, when there is a database to ask (a CI checkout has none, and needs none)."""
    from approvals.core.policy_file import group_warnings
    from approvals.identity.accounts import known_groups
    from approvals.store.schema import DEFAULT_SQLITE_PATH, open_store

    if not (os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_PATH.exists()):
        return []
    store = open_store()
    try:
        return [str(w) for w in group_warnings(policy, known_groups(store.db))]
    finally:
        store.close()
