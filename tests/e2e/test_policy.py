"""The approval policy engine and its file, with no database: first match, outcomes, CEL, every bad input as
`FILE:LINE: reason`, `[[tests]]`, hot reload, and the CLI (`policy check | explain`) as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from approvals.core.policy import NO_POLICY
from approvals.core.policy_file import PolicyError, group_warnings, parse_policy, run_tests
from approvals.service.policy import PolicySource

ROOT = Path(__file__).resolve().parents[2]

RULES = """
[[rules]]
name = "never-delete"
tool = "delete_customer"
decide = "deny"
message = "Agents never delete customers."

[[rules]]
name = "big-refunds"
tool = "issue_refund"
when = "args.amount > 1000.0"
approvers = 2
groups = ["finance"]

[[rules]]
name = "small-refunds"
tool = ["issue_refund"]
when = "args.amount <= 100.0 && requester != 'mallory'"
decide = "self"

[[rules]]
name = "partner-graph"
graph = "partner"
decide = "approve"

[[rules]]
name = "refunds"
tool = "issue_refund"
"""


def policy(text: str = RULES):
    return parse_policy(text, "approvals.toml")


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, "p.toml")
    return [str(p) for p in refused.value.problems]


def test_the_first_matching_rule_decides():
    rules = policy()
    assert rules.match("issue_refund", {"amount": 5000}, "support", "carol").rule == "big-refunds"
    assert rules.match("issue_refund", {"amount": 50}, "support", "carol").rule == "small-refunds"
    assert rules.match("issue_refund", {"amount": 50}, "support", "mallory").rule == "refunds"
    assert rules.match("issue_refund", {"amount": 500}, "partner", "carol").rule == "partner-graph"
    assert rules.match("send_email", {}, "support", "carol").rule == "default"


def test_each_outcome_with_its_approvers_and_groups():
    rules = policy()
    deny = rules.match("delete_customer", {"customer_id": "7"}, "support", "carol")
    assert (deny.decide, deny.message, deny.by_policy) == ("deny", "Agents never delete customers.", True)
    big = rules.match("issue_refund", {"amount": 1000.5}, "support", "carol")
    assert (big.decide, big.approvers, big.groups, big.requester_may_approve) == ("review", 2, ("finance",), False)
    small = rules.match("issue_refund", {"amount": 100}, "support", "carol")
    assert (small.decide, small.requester_may_approve) == ("self", True)
    assert rules.match("lookup_order", {}, "partner", "x").decide == "approve"
    assert NO_POLICY.match("anything", {}, "any", "x").describe() == \
        'review by 1 reviewer, not the requester (rule "default")'
    assert big.version == rules.version and len(rules.version) == 12


def test_several_actions_and_an_edit_take_the_strictest_outcome():
    rules = policy()
    verdict = rules.verdict([("issue_refund", {"amount": 20}), ("delete_customer", {})], "support", "carol")
    assert verdict.rule == "never-delete"
    proposed_and_edited = [("issue_refund", {"amount": 20}), ("issue_refund", {"amount": 2000})]
    assert rules.verdict(proposed_and_edited, "support", "carol").rule == "big-refunds"


def test_a_when_that_fails_at_run_time_fails_closed_to_a_review():
    rules = policy()
    missing = rules.match("issue_refund", {"order_id": "1"}, "support", "carol")
    assert missing.decide == "review" and "no such member" in missing.error
    text = rules.match("issue_refund", {"amount": "lots"}, "support", "carol")
    assert text.decide == "review" and text.rule == "big-refunds"


def test_every_bad_input_is_a_file_line_reason_and_all_are_reported():
    found = problems("""[[rules]]
name = "a"
when = "args.amount >"
approvers = 0
colour = "red"

[[rules]]
name = "a"
when = "budget.left > 1.0 && args.items.exists(x, x > 1.0)"
decide = "maybe"
[[tests]]
tool = "x"
""")
    assert found == [
        "p.toml:3: `when`: does not parse (line 1 of the expression, column 13): 'args.amount >'",
        "p.toml:4: `approvers`: must be a whole number of at least 1, not 0",
        "p.toml:5: unknown key 'colour' in a rule",
        "p.toml:7: duplicate rule name 'a' (first at line 1)",
        "p.toml:9: `when`: unknown variable budget (use args, graph, requester, tool)",
        "p.toml:10: `decide`: 'maybe' is not one of approve, self, review, deny",
        "p.toml:11: every test needs `expect`",
    ]
    assert problems('[[rules]]\nname = "x"\nwhen = 3\n') == ["p.toml:3: `when`: must be a CEL expression in a string"]
    assert problems("[[rules]\n") == [
        "p.toml:1: TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)"]
    assert problems('rule = 1\n[[rules]]\ndecide = "self"\napprovers = 2\n') == [
        "p.toml:1: unknown key 'rule' (expected deployments, rules, tests)",
        "p.toml:2: every rule needs a `name` (a non-empty string)",
        'p.toml:4: `approvers` applies to decide = "review", not \'self\'',
    ]


def test_a_group_nobody_is_in_is_a_warning_not_an_error():
    rules = policy('[[rules]]\nname = "legal"\ntool = "send_email"\ngroups = ["legal"]\n')
    assert [str(w) for w in group_warnings(rules, {"finance", "support"})] == [
        "approvals.toml:1: warning: rule 'legal': nobody is in group 'legal'"]
    assert group_warnings(rules, {"legal"}) == []


def test_tests_in_the_file_report_each_wrong_outcome_at_its_line():
    rules = policy(RULES + """
[[tests]]
name = "a big refund needs two"
tool = "issue_refund"
args = { amount = 5000 }
expect = "review"
approvers = 2

[[tests]]
name = "wrong on purpose"
tool = "issue_refund"
args = { amount = 20 }
expect = "approve"
rule = "refunds"
""")
    [failure] = run_tests(rules)
    assert str(failure).startswith("approvals.toml:")
    assert "test 'wrong on purpose': outcome is 'self', expected 'approve'; rule is 'small-refunds'" in str(failure)


def test_the_shipped_file_reproduces_the_demo_policy_and_its_tests_pass():
    shipped = parse_policy((ROOT / "approvals.toml").read_text(), "approvals.toml")
    assert run_tests(shipped) == []
    assert shipped.match("issue_refund", {"amount": 100}, "support", "carol").decide == "self"
    assert shipped.match("issue_refund", {"amount": 100.01}, "support", "carol").decide == "review"
    for tool in ("send_email", "delete_customer"):
        verdict = shipped.match(tool, {}, "support", "carol")
        assert (verdict.decide, verdict.approvers, verdict.groups) == ("review", 1, ())


def test_hot_reload_takes_a_changed_file_and_refuses_a_broken_one(tmp_path):
    path = tmp_path / "approvals.toml"
    path.write_text('[[rules]]\nname = "all-self"\ndecide = "self"\n')
    source = PolicySource(path, check_seconds=0)
    first = source.current()
    assert first.match("x", {}, "g", "r").rule == "all-self" and source.error == ""
    path.write_text('[[rules]]\nname = "all-deny"\ndecide = "deny"\n')
    assert source.current().match("x", {}, "g", "r").rule == "all-deny"
    good = source.current().version
    path.write_text('[[rules]]\nname = "oops"\ndecide = "sometimes"\n')
    assert source.current().version == good
    assert source.error == f"{path}:3: `decide`: 'sometimes' is not one of approve, self, review, deny"
    path.unlink()
    assert source.current() is NO_POLICY and source.error == ""


def test_hot_reload_within_the_check_interval(tmp_path):
    path = tmp_path / "approvals.toml"
    path.write_text('[[rules]]\nname = "one"\n')
    source = PolicySource(path, check_seconds=0.2)
    path.write_text('[[rules]]\nname = "two"\n')
    deadline = time.monotonic() + 5
    while source.current().rules[0].name != "two":
        assert time.monotonic() < deadline, "the changed file was not picked up within 5 s"
        time.sleep(0.05)


def cli(*args: str, cwd: Path = ROOT, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "approvals", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_policy_check_passes_the_shipped_file_and_names_each_problem_of_a_bad_one(tmp_path):
    ok = cli("policy", "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "4 rules, 6 of 6 tests passed" in ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "x"\nwhen = "args.amount >"\nfoo = 1\n')
    refused = cli("policy", "check", str(bad))
    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        f"{bad}:3: `when`: does not parse (line 1 of the expression, column 13): 'args.amount >'",
        f"{bad}:4: unknown key 'foo' in a rule"]
    failing = tmp_path / "failing.toml"
    failing.write_text('[[rules]]\nname = "x"\n[[tests]]\ntool = "t"\nexpect = "self"\n')
    result = cli("policy", "check", str(failing))
    assert result.returncode == 1
    assert f"{failing}:3: test 'line 3': outcome is 'review', expected 'self'" in result.stdout


def test_policy_explain_names_the_rule_and_its_outcome(tmp_path):
    (tmp_path / "p.toml").write_text(RULES)
    env = {"APPROVALS_CONFIG": str(tmp_path / "p.toml")}
    big = cli("policy", "explain", "issue_refund", '{"order_id": "9", "amount": 2500}', "--requester", "carol", env=env)
    assert big.returncode == 0
    assert big.stdout.strip() == ('issue_refund for carol on support: review by 2 approvers from finance, '
                                  'not the requester (rule "big-refunds")')
    partner = cli("policy", "explain", "lookup_order", "{}", "--graph", "partner", env=env)
    assert 'approved by the policy (rule "partner-graph")' in partner.stdout
    bad = cli("policy", "explain", "issue_refund", "[1]", env=env)
    assert bad.returncode == 1 and "must be a JSON object" in bad.stderr


def test_groups_come_from_the_id_token_claim_named_by_the_setting(monkeypatch):
    from approvals.identity.accounts import groups_from_claims

    token = {"email": "dana@example.com", "groups": ["finance", "legal"], "roles": "approvers, treasury"}
    assert groups_from_claims(token) == {"finance", "legal"}
    monkeypatch.setenv("APPROVAL_GROUPS_CLAIM", "roles")
    assert groups_from_claims(token) == {"approvers", "treasury"}
    assert groups_from_claims({"email": "x@example.com"}) == frozenset()
    assert groups_from_claims({"roles": 7}) == frozenset()  # a claim of another shape grants nothing
