"""Approval policy as data: rules (first match wins) and the verdict they give a request. Pure: no I/O.

A rule matches on the tool, the graph and a CEL condition (`when`, over `args`, `tool`, `graph`, `requester`),
and says how the request is decided: `review` by N distinct reviewers (never the requester) from some groups,
`self` (the requester may approve it), or at once by the policy itself (`approve`, `deny`). The file format and
its checks are in approvals/core/policy_file.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import celpy
from celpy import celtypes
from lark import Token, Tree

Decide = Literal["approve", "self", "review", "deny"]
DECIDES: tuple[Decide, ...] = ("approve", "self", "review", "deny")
"""From the most lenient to the strictest: a request with several actions takes the strictest verdict."""
ExpireDecide = Literal["reject", "approve"]
VARIABLES = frozenset({"args", "tool", "graph", "requester"})
MACROS = {"all", "exists", "exists_one", "map", "filter"}
DEFAULT_RULE = "default"
"""The verdict's rule when no rule matches (or there is no file): one reviewer, not the requester."""

logging.getLogger("celpy").setLevel(logging.CRITICAL)  # it logs every failed evaluation; we report them ourselves
_CEL = celpy.Environment(runner_class=celpy.CompiledRunner)  # transpiled to Python: ~4x the interpreter's speed


@dataclass(frozen=True)
class Escalation:
    """What happens to an item nobody decides: minutes after it was requested (None: never)."""

    remind_after: float | None = None
    reassign_after: float | None = None
    reassign_to: tuple[str, ...] = ()
    expire_after: float | None = None
    expire_decide: ExpireDecide = "reject"
    expire_message: str = ""


@dataclass(frozen=True)
class Condition:
    """A compiled CEL `when`; evaluated with JSON numbers as doubles, as CEL reads JSON (so `args.amount > 100.0`)."""

    source: str
    program: Any = field(compare=False, repr=False)
    names: frozenset[str] = frozenset()
    """The free variables it reads: only those are converted to CEL values for each request."""

    @classmethod
    def compile(cls, source: str) -> Condition:
        """Raises celpy's CELParseError for a syntax error."""
        tree = _CEL.compile(source)
        return cls(source, _CEL.program(tree), frozenset(free_names(tree)))

    def holds(self, activation: Mapping[str, Any]) -> bool:
        """True or False; raises ValueError when the expression fails (a missing key, a type mismatch)."""
        try:
            result = self.program.evaluate(activation)
        except celpy.CELEvalError as error:
            raise ValueError(_eval_reason(error)) from None
        if isinstance(result, celpy.CELEvalError):
            raise ValueError(_eval_reason(result))
        if not isinstance(result, celtypes.BoolType):
            raise ValueError(f"`when` gave {type(result).__name__}, not a bool")
        return bool(result)


@dataclass(frozen=True)
class Rule:
    name: str
    line: int
    tools: frozenset[str] | None = None
    graphs: frozenset[str] | None = None
    when: Condition | None = None
    decide: Decide = "review"
    approvers: int = 1
    groups: tuple[str, ...] = ()
    message: str = ""
    escalation: Escalation = Escalation()

    def selects(self, tool: str, graph: str) -> bool:
        return (self.tools is None or tool in self.tools) and (self.graphs is None or graph in self.graphs)


@dataclass(frozen=True)
class Verdict:
    """How one request is decided, by which rule of which policy version."""

    rule: str
    decide: Decide
    approvers: int = 1
    groups: tuple[str, ...] = ()
    message: str = ""
    escalation: Escalation = Escalation()
    version: str = ""
    error: str = ""
    """Why the rule's `when` could not be evaluated (the verdict then fails closed to at least a review)."""

    @property
    def strictness(self) -> tuple[int, int, bool]:
        return DECIDES.index(self.decide), self.approvers, bool(self.groups)

    @property
    def requester_may_approve(self) -> bool:
        return self.decide in ("self", "approve")

    @property
    def by_policy(self) -> bool:
        """`approve` and `deny` are decided by the policy itself, recorded as `policy:<rule>`."""
        return self.decide in ("approve", "deny")

    @property
    def display(self) -> str:
        """The short name the queue shows and filters by ("self" and "reviewer" as before rules were a file)."""
        return "reviewer" if self.decide == "review" else self.decide

    def describe(self) -> str:
        """E.g. `review by 2 approvers from finance (rule "big-refunds")`."""
        what = {"approve": "approved by the policy", "deny": "denied by the policy",
                "self": "the requester (or a reviewer) may approve"}.get(self.decide)
        if what is None:
            who = f"{self.approvers} approvers" if self.approvers > 1 else "1 reviewer"
            what = f"review by {who}{' from ' + ', '.join(self.groups) if self.groups else ''}, not the requester"
        return f'{what} (rule "{self.rule}"{", " + self.error if self.error else ""})'


@dataclass(frozen=True)
class PolicyTest:
    """A `[[tests]]` entry: a request and the outcome the policy must give it."""

    line: int
    name: str
    tool: str
    args: dict[str, Any]
    graph: str
    requester: str
    expect: Decide
    rule: str | None = None
    approvers: int | None = None


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    version: str
    """A hash of the file it came from ("none" without a file): every decision records it."""
    path: str = ""
    tests: tuple[PolicyTest, ...] = ()

    def match(self, tool: str, args: Mapping[str, Any], graph: str, requester: str) -> Verdict:
        """The first rule that matches decides; no rule matching means one reviewer, not the requester."""
        request = _Request(tool, args, graph, requester)
        for rule in self.rules:
            if not rule.selects(tool, graph):
                continue
            if rule.when is None:
                return self._verdict(rule)
            try:
                if rule.when.holds(request.activation(rule.when.names)):
                    return self._verdict(rule)
            except ValueError as error:  # fail closed: a rule that cannot tell is at least a review
                return self._verdict(rule, f"`when` failed: {error}")
        return Verdict(DEFAULT_RULE, "review", version=self.version)

    def verdict(self, actions: Iterable[tuple[str, Mapping[str, Any]]], graph: str, requester: str) -> Verdict:
        """One request may carry several actions (and edited args next to the proposed ones): the strictest wins."""
        verdicts = [self.match(tool, args, graph, requester) for tool, args in actions]
        if not verdicts:
            return Verdict(DEFAULT_RULE, "review", version=self.version)
        return max(verdicts, key=lambda v: v.strictness)

    def _verdict(self, rule: Rule, error: str = "") -> Verdict:
        decide = rule.decide
        if error and decide in ("approve", "self"):
            decide = "review"
        return Verdict(rule.name, decide, rule.approvers, rule.groups, rule.message, rule.escalation,
                       self.version, error)


NO_POLICY = Policy((), "none")
"""No file: one reviewer, not the requester, for everything."""


def stricter(first: Verdict, second: Verdict) -> Verdict:
    return second if second.strictness > first.strictness else first


class _Request:
    """One request's variables, each converted to CEL once and only when a `when` reads it."""

    def __init__(self, tool: str, args: Mapping[str, Any], graph: str, requester: str):
        self._raw: dict[str, Any] = {"args": args, "tool": tool, "graph": graph, "requester": requester}
        self._cel: dict[str, Any] = {}

    def activation(self, names: frozenset[str]) -> dict[str, Any]:
        for name in names - self._cel.keys():
            self._cel[name] = to_cel(self._raw[name])
        return {name: self._cel[name] for name in names}


def free_names(tree: Tree) -> set[str]:
    """Free names in a CEL expression: every bare identifier but those a macro binds (`x` in `l.exists(x, ...)`)."""
    names, bound = set(), set()
    for node in tree.iter_subtrees():
        if node.data == "ident" and node.children and isinstance(node.children[0], Token):
            names.add(str(node.children[0]))
        if node.data == "member_dot_arg" and len(node.children) > 2 and str(node.children[1]) in MACROS:
            first = next(node.children[2].iter_subtrees_topdown(), None) if isinstance(node.children[2], Tree) else None
            variable = next((n for n in first.iter_subtrees_topdown() if n.data == "ident"), None) if first else None
            if variable is not None:
                bound.add(str(variable.children[0]))
    return names - bound


def to_cel(value: Any) -> Any:
    """JSON to CEL, every number a double (CEL's JSON mapping), so `args.amount > 100.0` works for 250 and 250.5."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return celtypes.ListType([to_cel(v) for v in value])
    return None if value is None else celtypes.StringType(str(value))


def _eval_reason(error: BaseException) -> str:
    """celpy wraps its reasons as (message, type, details); unwrap to the message that says what went wrong."""
    args: tuple = error.args
    while len(args) > 2 and args[1] is celpy.CELEvalError and isinstance(args[2], tuple) and args[2]:
        args = args[2]
    if len(args) > 2 and args[1] is TypeError and isinstance(args[2], tuple) and args[2]:
        return str(args[2][0])  # the overload that is missing, e.g. a string compared with a number
    return str(args[0]) if args else type(error).__name__
