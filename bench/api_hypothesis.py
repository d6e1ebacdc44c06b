"""Hypothesis against the served JSON API: generated bodies, content types, query strings, ids and methods for every
route, with a reviewer's token, through `streamlit run app.py` itself (middleware, limits and routes as deployed).

For when schemathesis is not installed (bench/api_fuzz.py needs it): the same idea as tests/service/test_fuzz.py, over
HTTP. Passes when no answer is a 5xx and every /api/ answer is JSON; prints the number of cases and the statuses
seen, and exits 1 on a failure (with the request that caused it).
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store
from bench.api_fuzz import seed, serve
from bench.common import REVIEWER, arguments, fresh_database

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
decision_types = st.sampled_from(["approve", "edit", "reject", "respond", "accept", "", "APPROVE"]) | json_values
decisions = st.fixed_dictionaries(
    {"type": decision_types},
    optional={
        "message": st.text(max_size=30) | st.just("x" * 4001) | json_values,
        "edited_action": st.fixed_dictionaries(
            {"name": st.sampled_from(["issue_refund", "send_email", "delete_customer"]) | json_values},
            optional={"args": json_values}),
        "extra": json_values,
    },
)
digests = st.none() | st.text(max_size=70) | st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True) | json_values
decision_bodies = json_values | st.fixed_dictionaries(
    {"decisions": st.lists(decisions, max_size=3) | json_values},
    optional={"request_digest": digests, "responses": json_values, "extra": json_values})
pause_bodies = json_values | st.fixed_dictionaries(
    {"kind": st.sampled_from(["tool", "graph", "thread", ""]) | json_values,
     "name": st.text(max_size=30) | st.just("x" * 300) | json_values})


@st.composite
def raw_bodies(draw: st.DrawFn, structured: st.SearchStrategy) -> bytes:
    """JSON as clients send it, and what they get wrong: repeated keys, truncation, deep nesting, other bytes."""
    text = json.dumps(draw(structured))
    return draw(st.sampled_from([
        text.encode(),
        text[: draw(st.integers(0, len(text)))].encode(),
        ('{"decisions": [{"type": "reject", "type": "approve"}]' + (', "x": 1}' if draw(st.booleans()) else "}"))
        .encode(),
        b"[" * draw(st.integers(1, 200)) + b"]" * draw(st.integers(0, 200)),
    ])) if draw(st.integers(0, 9)) else draw(st.binary(max_size=200))


content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "", "text/plain",
                                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                 "application/merge-patch+json"]) | st.text(
    st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
query_values = st.text(max_size=12) | st.sampled_from(["0", "-1", "1e12", "inf", "nan", "99999999999", "²",
                                                       "9223372036854775808", "self", "reviewer"])
query_names = st.sampled_from(["tool", "policy", "requester", "min_age", "limit", "offset", "since", "x"])
queries = st.lists(st.tuples(query_names, query_values), max_size=5)
ids = st.text(min_size=1, max_size=40) | st.from_regex(r"[0-9a-f]{32}", fullmatch=True)


def requests(items: list[tuple[str, str]]) -> st.SearchStrategy:
    """(method, path, body, content type): one request to one of the API's routes, or next to them."""
    item = st.sampled_from(items) | st.tuples(ids, ids)
    path = item.map(lambda pair: f"/api/approvals/{quote(pair[0], safe='')}/{quote(pair[1], safe='')}")
    return st.one_of(
        queries.map(lambda q: ("GET", "/api/approvals?" + urlencode(q), b"", "")),
        path.map(lambda p: ("GET", p, b"", "")),
        st.tuples(st.just("POST"), path.map(lambda p: p + "/decision"), raw_bodies(decision_bodies),
                  content_types),
        st.tuples(st.just("POST"), st.just("/api/pauses"), raw_bodies(pause_bodies), content_types),
        st.tuples(st.sampled_from(["tool", "graph", "x"]), ids).map(
            lambda t: ("DELETE", f"/api/pauses/{t[0]}/{quote(t[1], safe='')}", b"", "")),
        queries.map(lambda q: ("GET", "/api/metrics?" + urlencode(q), b"", "")),
        st.tuples(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
                  st.sampled_from(["/api/approvals", "/api/pauses", "/api/metrics", "/api/openapi.json", "/api/x"])
                  ).map(lambda t: (t[0], t[1], b"", "")),
    )


class Client:
    """One keep-alive connection to the served app, reopened when the server closes it."""

    def __init__(self, base: str, token: str):
        self.parts, self.token = urlsplit(base), token
        self.connection = self._open()

    def _open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.parts.hostname or "127.0.0.1", self.parts.port, timeout=60)

    def send(self, method: str, path: str, body: bytes, content_type: str) -> tuple[int, str, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body or None, headers=headers)
                answer = self.connection.getresponse()
                return answer.status, answer.getheader("Content-Type", ""), answer.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = self._open()
                if attempt:
                    raise
        raise AssertionError("unreachable")


def pending_items(database: str) -> list[tuple[str, str]]:
    store = open_store(database)
    try:
        return [(item.thread_id, item.interrupt_id) for item in ApprovalService(store).list_pending(viewer=REVIEWER)]
    finally:
        store.close()


def fuzz(client: Client, items: list[tuple[str, str]], examples: int) -> tuple[Counter, list[str]]:
    """Run `examples` generated requests; the statuses seen, and what went wrong (5xx, or an /api/ answer that is
    not JSON)."""
    statuses: Counter = Counter()
    failures: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(requests(items))
    def one(request: tuple[str, str, bytes, str]) -> None:
        method, path, body, content_type = request
        status, answered_type, answer = client.send(method, path, body, content_type)
        statuses[status] += 1
        if status >= 500 or (method != "HEAD" and "application/json" not in answered_type):
            failures.append(f"{method} {path} ({content_type!r}, {body[:120]!r}) -> {status} {answer[:200]!r}")

    one()
    return statuses, failures


def main() -> int:
    args = arguments(__doc__.splitlines()[0], examples=2000)
    with fresh_database(args.database_url) as database, tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        token = seed(database)
        items = pending_items(database)
        process, base = serve(database, Path(scratch) / "app.log")
        try:
            statuses, failures = fuzz(Client(base, token), items, args.examples)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"cases: {sum(statuses.values())}  statuses: {dict(sorted(statuses.items()))}  5xx or non-JSON: "
          f"{len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
