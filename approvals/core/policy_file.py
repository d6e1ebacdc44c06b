"""Reading `approvals.toml`: every mistake becomes a `FILE:LINE: reason`, and a file with any error is refused.

tomllib keeps no positions, so lines are found in the text: the n-th `[[rules]]` header, then the key's line
within that table. `[[tests]]` entries (a request and the outcome it must get) are run by `run_tests`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from celpy.celparser import CELParseError

from approvals.core.policy import DECIDES, VARIABLES, Condition, Decide, Escalation, Policy, PolicyTest, Rule

RULE_KEYS = {"name", "tool", "graph", "when", "decide", "approvers", "groups", "message", "remind_after_minutes",
             "reassign_after_minutes", "reassign_to", "expire_after_minutes", "expire_decide", "expire_message"}
TEST_KEYS = {"name", "tool", "args", "graph", "requester", "expect", "rule", "approvers"}
TOP_KEYS = {"rules", "tests", "deployments"}
"""`[deployments.NAME]` is read by the Agent Server sources, not here."""
DEFAULT_TEST_GRAPH, DEFAULT_TEST_REQUESTER = "support", "someone"


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    reason: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {'warning: ' if self.warning else ''}{self.reason}"


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` holds each `FILE:LINE: reason`."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def version_of(text: str) -> str:
    """The policy version every decision records: the first 12 hex digits of the file's SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def parse_policy(text: str, path: str) -> Policy:
    """The policy in `text`, or PolicyError listing every problem found (not just the first)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"at line (\d+)", str(error))
        raise PolicyError([Problem(path, int(line.group(1)) if line else 1, f"TOML: {error}")]) from None
    lines = _Lines(text, path)
    problems = [lines.problem(1, f"unknown key {key!r} (expected {', '.join(sorted(TOP_KEYS))})")
                for key in data if key not in TOP_KEYS]
    rules = [_rule(entry, lines.table("rules", n), problems) for n, entry in enumerate(_tables(data, "rules"))]
    tests = [_test(entry, lines.table("tests", n), problems) for n, entry in enumerate(_tables(data, "tests"))]
    seen: dict[str, int] = {}
    for rule in rules:
        if rule.name in seen:
            first = seen[rule.name]
            problems.append(lines.problem(rule.line, f"duplicate rule name {rule.name!r} (first at line {first})"))
        seen.setdefault(rule.name, rule.line)
    if problems:
        raise PolicyError(sorted(problems, key=lambda problem: problem.line))
    return Policy(tuple(rules), version_of(text), path, tuple(tests))


def group_warnings(policy: Policy, known: Iterable[str]) -> list[Problem]:
    """A group nobody is in cannot decide anything: worth a warning, not a refusal (people join groups later)."""
    members = set(known)
    return [Problem(policy.path, rule.line, f"rule {rule.name!r}: nobody is in group {group!r}", warning=True)
            for rule in policy.rules for group in (*rule.groups, *rule.escalation.reassign_to) if group not in members]


def run_tests(policy: Policy) -> list[Problem]:
    """Each `[[tests]]` request through the policy; a problem for every outcome that is not the expected one."""
    failures = []
    for test in policy.tests:
        verdict = policy.match(test.tool, test.args, test.graph, test.requester)
        wrong = [f"{what} is {got!r}, expected {want!r}" for what, got, want in (
            ("outcome", verdict.decide, test.expect), ("rule", verdict.rule, test.rule),
            ("approvers", verdict.approvers, test.approvers)) if want is not None and got != want]
        if wrong:
            failures.append(Problem(policy.path, test.line, f"test {test.name!r}: {'; '.join(wrong)}"))
    return failures


class _Lines:
    """Where things are in the file text, for messages."""

    def __init__(self, text: str, path: str):
        self.path, self.lines = path, text.splitlines()

    def problem(self, line: int, reason: str) -> Problem:
        return Problem(self.path, line, reason)

    def table(self, name: str, index: int) -> _Table:
        header = re.compile(rf"^\s*\[\[\s*{name}\s*\]\]")
        starts = [n for n, line in enumerate(self.lines, 1) if header.match(line)]
        start = starts[index] if index < len(starts) else 1
        following = [n for n, line in enumerate(self.lines, 1) if n > start and re.match(r"^\s*\[", line)]
        return _Table(self, start, following[0] if following else len(self.lines) + 1)


@dataclass(frozen=True)
class _Table:
    lines: _Lines
    start: int
    end: int

    def line_of(self, key: str) -> int:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(self.start, self.end):
            if pattern.match(self.lines.lines[n - 1]):
                return n
        return self.start

    def problem(self, key: str | None, reason: str) -> Problem:
        return self.lines.problem(self.line_of(key) if key else self.start, reason)


def _tables(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    return value if isinstance(value, list) else [value]


def _rule(entry: Any, table: _Table, problems: list[Problem]) -> Rule:
    if not isinstance(entry, dict):
        problems.append(table.problem(None, "each [[rules]] entry must be a table"))
        return Rule(f"#{table.start}", table.start)
    problems.extend(table.problem(key, f"unknown key {key!r} in a rule") for key in entry if key not in RULE_KEYS)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(table.problem("name" if "name" in entry else None,
                                      "every rule needs a `name` (a non-empty string)"))
        name = f"#{table.start}"
    check = _Checker(entry, table, problems)
    decide = check.choice("decide", DECIDES, "review")
    approvers = check.integer("approvers", 1)
    if decide != "review" and "approvers" in entry and approvers != 1:
        problems.append(table.problem("approvers", f"`approvers` applies to decide = \"review\", not {decide!r}"))
    return Rule(
        name=name, line=table.start, tools=_set(check.names("tool")), graphs=_set(check.names("graph")),
        when=check.condition("when"), decide=cast(Decide, decide), approvers=approvers,
        groups=tuple(check.names("groups") or ()), message=check.text("message"),
        escalation=Escalation(
            remind_after=check.minutes("remind_after_minutes"), reassign_after=check.minutes("reassign_after_minutes"),
            reassign_to=tuple(check.names("reassign_to") or ()), expire_after=check.minutes("expire_after_minutes"),
            expire_decide=cast(Any, check.choice("expire_decide", ("reject", "approve"), "reject")),
            expire_message=check.text("expire_message"),
        ),
    )


def _set(names: tuple[str, ...] | None) -> frozenset[str] | None:
    return frozenset(names) if names is not None else None


def _test(entry: Any, table: _Table, problems: list[Problem]) -> PolicyTest:
    check = _Checker(entry if isinstance(entry, dict) else {}, table, problems)
    problems.extend(table.problem(key, f"unknown key {key!r} in a test") for key in check.entry if key not in TEST_KEYS)
    for required in ("tool", "expect"):
        if required not in check.entry:
            problems.append(table.problem(None, f"every test needs `{required}`"))
    args = check.entry.get("args", {})
    if not isinstance(args, dict):
        problems.append(table.problem("args", "`args` must be a table"))
        args = {}
    rule = check.entry.get("rule")
    return PolicyTest(
        line=table.start, name=check.text("name") or f"line {table.start}", tool=check.text("tool"), args=args,
        graph=check.text("graph") or DEFAULT_TEST_GRAPH, requester=check.text("requester") or DEFAULT_TEST_REQUESTER,
        expect=cast(Decide, check.choice("expect", DECIDES, "review")), rule=str(rule) if rule is not None else None,
        approvers=check.integer("approvers", 1) if "approvers" in check.entry else None,
    )


class _Checker:
    """Typed reads of one table's keys; each bad value adds a problem and yields a harmless default."""

    def __init__(self, entry: dict[str, Any], table: _Table, problems: list[Problem]):
        self.entry, self.table, self.problems = entry, table, problems

    def _bad(self, key: str, reason: str) -> None:
        self.problems.append(self.table.problem(key, f"`{key}`: {reason}"))

    def text(self, key: str) -> str:
        value = self.entry.get(key, "")
        if not isinstance(value, str):
            self._bad(key, "must be a string")
            return ""
        return value

    def names(self, key: str) -> tuple[str, ...] | None:
        """A name or a list of names, in the file's order, each once."""
        value = self.entry.get(key)
        if value is None:
            return None
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            self._bad(key, "must be a name or a non-empty list of names")
            return None
        return tuple(dict.fromkeys(names))

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.entry.get(key, default)
        if value not in allowed:
            self._bad(key, f"{value!r} is not one of {', '.join(allowed)}")
            return default
        return str(value)

    def integer(self, key: str, default: int) -> int:
        value = self.entry.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self._bad(key, f"must be a whole number of at least 1, not {value!r}")
            return default
        return value

    def minutes(self, key: str) -> float | None:
        value = self.entry.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            self._bad(key, f"must be a number of minutes above 0, not {value!r}")
            return None
        return float(value)

    def condition(self, key: str) -> Condition | None:
        source = self.entry.get(key)
        if source is None:
            return None
        if not isinstance(source, str) or not source.strip():
            self._bad(key, "must be a CEL expression in a string")
            return None
        try:
            condition = Condition.compile(source)
        except CELParseError as error:
            where = f" (line {error.line} of the expression, column {error.column})" if error.line else ""
            self._bad(key, f"does not parse{where}: {str(error).strip().splitlines()[0]!r}")
            return None
        unknown = sorted(condition.names - VARIABLES)
        if unknown:
            self._bad(key, f"unknown variable {', '.join(unknown)} (use {', '.join(sorted(VARIABLES))})")
            return None
        return condition
