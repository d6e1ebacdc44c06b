"""LangGraph Agent Server deployments as a source of items, through `langgraph-sdk` (LangSmith Deployment, self-hosted,
`langgraph dev`, or any compatible server).

Configured by `APPROVAL_DEPLOYMENTS="name=url,..."` or `[deployments.NAME]` tables in approvals.toml (`url`,
`api_key_env`: the variable holding its x-api-key, `headers`: extra headers for custom auth). Their interrupts
live behind the server's API, not in our database: this module reads them incrementally (a quiet poll costs two
requests: the threads newer than a cursor, then a count), turns a server thread into the same ThreadSnapshot a
local checkpoint gives, and resumes an interrupt by id with `multitask_strategy="reject"`. `AgentServer` is a
deployment as an agent backend (approvals/service/ports.py). It knows nothing of the service: the service indexes
what it reports.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import convert_to_messages
from langgraph.types import Interrupt
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import APIStatusError

from approvals.core.errors import ApprovalError
from approvals.core.interrupts import ThreadSnapshot
from approvals.core.records import BUILTIN_GRAPH, PendingApproval
from approvals.core.runs import Run

log = logging.getLogger(__name__)

FIELDS: list[Any] = ["thread_id", "updated_at", "created_at", "status", "metadata", "interrupts"]
"""What a poll reads of each thread: no values (the conversation is read when an item is opened)."""
FIRST_PAGE, PAGE = 20, 500
TIMEOUT_S = 10.0
RUN_TIMEOUT_S = 120.0


class DeploymentUnavailable(ApprovalError):
    """The deployment is down, refuses the key, or answered with an error: named, with the reason."""


class RemoteRunFailed(ApprovalError):
    """A run the deployment carried out ended in error: the agent's failure, not the server's."""


@dataclass(frozen=True)
class Deployment:
    """One Agent Server as configured: its name (shown on items), URL, the variable holding its key, extra headers."""

    name: str
    url: str
    api_key_env: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def configured(env: str | None = None, config_file: Path | None = None) -> dict[str, Deployment]:
    """approvals.toml's `[deployments.NAME]` tables, then APPROVAL_DEPLOYMENTS (which wins on a name both define)."""
    path = config_file or Path(os.environ.get("APPROVALS_CONFIG") or "approvals.toml")
    try:
        found = from_toml(path) if path.exists() else {}
    except tomllib.TOMLDecodeError as error:  # the policy reads the same file and shows reviewers its errors
        log.error("%s does not parse (%s): no deployments are read from it", path, error)
        found = {}
    found.update(parse_env(os.environ.get("APPROVAL_DEPLOYMENTS", "") if env is None else env))
    return found


def parse_env(raw: str) -> dict[str, Deployment]:
    """`name=url,...`; a malformed entry is an error, not skipped silently."""
    found = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, url = (part.strip() for part in entry.partition("="))
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"APPROVAL_DEPLOYMENTS entry {entry!r} is not name=http(s)://url")
        found[name] = Deployment(name, url.rstrip("/"))
    return found


def from_toml(path: Path) -> dict[str, Deployment]:
    """Only the `deployments` table of the file (the rest is the policy's): url, api_key_env, headers."""
    tables = tomllib.loads(path.read_text()).get("deployments", {})
    found = {}
    for name, table in tables.items():
        unknown = set(table) - {"url", "api_key_env", "headers"}
        if unknown or not str(table.get("url", "")).startswith(("http://", "https://")):
            raise ValueError(f"{path}: [deployments.{name}] needs url = \"http(s)://...\" and knows only url,"
                             f" api_key_env, headers (got {sorted(table)})")
        headers = {str(k): str(v) for k, v in (table.get("headers") or {}).items()}
        found[name] = Deployment(name, str(table["url"]).rstrip("/"), str(table.get("api_key_env", "")), headers)
    return found


class Remote:
    """One deployment behind langgraph-sdk's sync client; counts its requests (the benchmark reads them)."""

    def __init__(self, deployment: Deployment, timeout: float = TIMEOUT_S):
        self.deployment, self.name = deployment, deployment.name
        api_key = os.environ.get(deployment.api_key_env) if deployment.api_key_env else None
        self._client = get_sync_client(url=deployment.url, api_key=api_key, headers=deployment.headers or None,
                                       timeout=(timeout, RUN_TIMEOUT_S, timeout, timeout))
        self.requests = 0
        self._lock = threading.Lock()

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """One request; any failure becomes DeploymentUnavailable naming the deployment and why."""
        with self._lock:
            self.requests += 1
        try:
            return call(*args, **kwargs)
        except APIStatusError as error:
            raise DeploymentUnavailable(f"Deployment {self.name!r} ({self.deployment.url}) {refusal(error)}"
                                        f" ({what}).") from error
        except httpx.HTTPError as error:
            raise DeploymentUnavailable(f"Deployment {self.name!r} ({self.deployment.url}) is unreachable"
                                        f" ({what}): {type(error).__name__}: {error}") from error

    # -- polling -------------------------------------------------------------------------------------------

    def newer_than(self, cursor: str) -> list[dict]:
        """Interrupted threads updated after `cursor`, newest first: one request when nothing changed."""
        return list(self._newer_than(cursor))

    def count(self) -> int:
        """How many threads are interrupted: compared with the index, it tells whether one left or arrived unseen."""
        return int(self._call("count interrupted threads", self._client.threads.count, status="interrupted"))

    def interrupted(self) -> list[dict]:
        """Every interrupted thread (pages of 500): the first poll, and a poll whose count did not add up."""
        return list(self._interrupted())

    def _newer_than(self, cursor: str) -> Iterator[dict]:
        offset, limit = 0, FIRST_PAGE
        while True:
            page = self._search(limit, offset)
            for thread in page:
                if str(thread["updated_at"]) <= cursor:
                    return
                yield thread
            if len(page) < limit:
                return
            offset, limit = offset + limit, PAGE

    def _interrupted(self) -> Iterator[dict]:
        offset = 0
        while True:
            page = self._search(PAGE, offset)
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE

    def _search(self, limit: int, offset: int) -> list[dict]:
        return list(self._call("list interrupted threads", self._client.threads.search, status="interrupted",
                               sort_by="updated_at", sort_order="desc", limit=limit, offset=offset, select=FIELDS))

    # -- one thread ------------------------------------------------------------------------------------------

    def snapshot(self, thread_id: str, thread: dict | None = None) -> ThreadSnapshot:
        """The server's thread as a snapshot: from `thread` (a poll's row) or read now (with its conversation)."""
        if thread is None:
            thread = dict(self._call("read a thread", self._client.threads.get, thread_id))
        interrupts = server_interrupts(thread)
        if not interrupts and thread.get("status") == "interrupted" and "values" in thread:
            interrupts = self._interrupts_from_state(thread_id)  # some servers leave `interrupts` empty (#6362)
        metadata = thread.get("metadata") or {}
        raw_values = thread.get("values")
        values: dict[str, Any] = dict(raw_values) if isinstance(raw_values, dict) else {}
        if isinstance(values.get("messages"), list):
            values["messages"] = convert_to_messages(values["messages"])
        requester = metadata.get("requester")
        return ThreadSnapshot(
            thread_id=thread_id, checkpoint_id=str(thread.get("updated_at")), created_at=str(thread["updated_at"]),
            graph=str(metadata.get("graph_id") or "agent"), requester=str(requester) if requester else None,
            values=values, interrupts=interrupts, deployment=self.name,
            assistant_id=str(metadata.get("assistant_id") or metadata.get("graph_id") or ""),
        )

    def _interrupts_from_state(self, thread_id: str) -> list[Interrupt]:
        state = self._call("read a thread's state", self._client.threads.get_state, thread_id)
        return [Interrupt(value=i.get("value"), id=str(i["id"])) for task in state.get("tasks") or []
                for i in task.get("interrupts") or []]

    def resume(self, thread_id: str, assistant_id: str, interrupt_id: str, value: Any) -> None:
        """Resume one interrupt by id and wait for the run to end; a busy thread (409) or a down server raises."""
        run = self._call("resume the thread", self._client.runs.create, thread_id, assistant_id,
                         command={"resume": {interrupt_id: value}}, multitask_strategy="reject")
        self._call("wait for the run", self._client.runs.join, thread_id, run["run_id"])

    def start_run(self, assistant_id: str, input: Any, metadata: dict | None = None,
                  thread_id: str | None = None) -> tuple[str, str]:
        """Create (or continue) a thread and start a run on it: (thread_id, run_id). For agents run remotely."""
        if thread_id is None:
            thread_id = str(self._call("create a thread", self._client.threads.create, metadata=metadata)["thread_id"])
        run = self._call("start a run", self._client.runs.create, thread_id, assistant_id, input=input,
                         metadata=metadata, multitask_strategy="reject")
        return thread_id, str(run["run_id"])

    def wait(self, thread_id: str, run_id: str) -> None:
        """Until the run ends; a run the server ended in error (the agent raised, a timeout) raises with its status."""
        self._call("wait for the run", self._client.runs.join, thread_id, run_id)
        status = self._call("read the run", self._client.runs.get, thread_id, run_id).get("status")
        if status in ("error", "timeout"):
            raise RemoteRunFailed(f"The run on deployment {self.name!r} ended with status {status!r}; "
                                  "its log there has the reason.")

    def ensure_thread(self, thread_id: str, metadata: dict) -> None:
        """The thread under the id the app already uses (a conversation keeps one id wherever it runs)."""
        self._call("create the thread", self._client.threads.create, thread_id=thread_id, metadata=metadata,
                   graph_id=metadata.get("graph_id"), if_exists="do_nothing")

    def find(self, thread_id: str) -> ThreadSnapshot | None:
        """The thread as a snapshot, or None while the server has no such thread (its first run not created yet)."""
        try:
            return self.snapshot(thread_id)
        except DeploymentUnavailable as error:
            cause = error.__cause__
            if isinstance(cause, APIStatusError) and cause.response.status_code == 404:
                return None
            raise

    def settle(self, thread_id: str) -> None:
        """Wait for the thread's runs still pending or running (a replica cut while it waited for one)."""
        for status in ("running", "pending"):
            for run in self._call("list the thread's runs", self._client.runs.list, thread_id, status=status):
                self.wait(thread_id, str(run["run_id"]))

    def state(self, thread_id: str) -> dict:
        """The thread's current state as the server reports it (values, next, tasks with their interrupts)."""
        return dict(self._call("read a thread's state", self._client.threads.get_state, thread_id))


class AgentServer:
    """A deployment as an agent backend: its threads read, resumed and run through langgraph-sdk (`Remote`)."""

    def __init__(self, remote: Remote, *, starts_threads: bool = False):
        """`starts_threads`: the app creates the threads it reads here (APPROVAL_RUNS_ON, the built-in agent's
        conversations), so one the server does not have yet is not started rather than an error; a thread listed
        from the server must be there."""
        self.remote, self.name = remote, remote.name
        self._starts_threads = starts_threads

    def snapshot(self, thread_id: str) -> ThreadSnapshot | None:
        return self.remote.find(thread_id) if self._starts_threads else self.remote.snapshot(thread_id)

    def identify(self, snapshot: ThreadSnapshot) -> ThreadSnapshot:
        """The server records each thread's `graph_id` (and its assistant) itself: nothing to find out."""
        return snapshot

    def check_resumable(self, graph: str) -> None:
        """The server holds the graph; whether it answers is known only by asking (a failed resume is retried)."""

    def resume(self, pending: PendingApproval, value: Any, clearance: str) -> None:
        """By interrupt id with the thread's assistant; the clearance stays here (the server's graph is its own)."""
        self.remote.resume(pending.thread_id, pending.assistant_id, pending.interrupt_id, value)

    def finish_cut(self, snapshot: ThreadSnapshot, clearance: str) -> None:
        """The server carries its runs to the end itself, whoever started them: nothing of ours was cut."""

    def advance(self, run: Run) -> None:
        """The same run on the server: its thread has the conversation's id, its metadata the requester and graph
        (what a poll reads); a message already there is not sent again."""
        if not server_thread_id(run.thread_id):
            raise ApprovalError(f"Deployment {self.name!r} keeps conversations under UUIDs; "
                                f"{run.thread_id!r} is not one. Start a new conversation.")
        remote = self.remote
        remote.ensure_thread(run.thread_id, {"requester": run.requester, "graph_id": BUILTIN_GRAPH})
        remote.settle(run.thread_id)  # a run this replica was waiting for when it was cut
        snapshot = remote.find(run.thread_id)
        written = snapshot is not None and any(m.id == run.run_id for m in snapshot.messages)
        payload: dict | None
        if run.kind == "message" and not written:
            payload = {"messages": [{"type": "human", "content": run.input, "id": run.run_id}],
                       "requester": run.requester}
        elif snapshot is not None and not snapshot.interrupts and remote.state(run.thread_id).get("next"):
            payload = None  # the server's run failed or was cut mid-way: finish the steps cut off
        else:
            return
        _, server_run = remote.start_run(BUILTIN_GRAPH, payload, {"requester": run.requester},
                                         thread_id=run.thread_id)
        remote.wait(run.thread_id, server_run)


def server_thread_id(thread_id: str) -> bool:
    """An Agent Server stores a thread under its canonical UUID: any other spelling would be another thread."""
    try:
        return str(uuid.UUID(thread_id)) == thread_id
    except ValueError:
        return False


def server_interrupts(thread: dict) -> list[Interrupt]:
    """`{task_id: [{"id", "value"}]}` → one Interrupt per entry, in the server's order."""
    found = thread.get("interrupts") or {}
    return [Interrupt(value=i.get("value"), id=str(i["id"])) for entries in found.values() for i in entries or []]


def refusal(error: APIStatusError) -> str:
    status = error.response.status_code
    if status in (401, 403):
        return f"refuses the API key (HTTP {status})"
    if status == 409:
        return "says the thread is busy with another run (HTTP 409); it is tried again"
    return f"answered HTTP {status}"


def newest(threads: list[dict], cursor: str) -> str:
    """The cursor after these threads: the latest `updated_at` seen."""
    return max([cursor, *(str(t["updated_at"]) for t in threads)])
