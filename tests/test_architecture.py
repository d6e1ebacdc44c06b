"""The layout holds by itself: no import cycles, no oversized modules, and the linters the README runs pass.

Computed from the source (the AST of every .py outside tests/), so a cycle through an import inside a
function or under `if TYPE_CHECKING:` counts as much as one at the top of a module: each still ties the two
modules together, and a type-only cycle becomes a real one as soon as someone needs the name at run time.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {"tests", "data", "__pycache__"}
MODULE_LINES = 400
PAGE_LINES = 250


def project_files() -> list[Path]:
    """Every .py file of the project outside tests/ (and outside hidden or generated folders)."""
    return sorted(
        path for path in ROOT.rglob("*.py")
        if not any(part in SKIPPED_DIRS or part.startswith(".") for part in path.relative_to(ROOT).parts[:-1])
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every module name an import statement anywhere in the tree may refer to (`from a import b` yields a.b
    and a; the caller keeps the ones that are project modules)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Project module → the project modules it imports."""
    files = {module_name(path): path for path in project_files()}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        names = imported_names(tree, module, path.name == "__init__.py")
        graph[module] = {name for name in names if name in files and name != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None (depth-first search, three colours)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_project_has_no_import_cycle_type_only_imports_included():
    graph = import_graph()
    assert {"approvals.service.facade", "pages.console", "graphs.lab"} <= graph.keys()  # the walk found the code
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


LAYERS = {
    "approvals.core": 0,
    "graphs": 1,
    "approvals.store": 2, "approvals.sources": 2, "approvals.notify": 2, "approvals.identity": 2,
    "approvals.audit": 2,
    "approvals.service": 3,
    "approvals.http": 4, "approvals.__main__": 4, "approvals.audit_commands": 4, "approvals.cli": 4,
}
"""Lower imports nothing higher (README, "How it fits together"); everything outside approvals/ and graphs/
(pages, ui, app, bench, examples, ...) is on top. A new package under approvals/ gets its line here."""
TOP = max(LAYERS.values()) + 1


def layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    name = ".".join(parts[:2]) if parts[0] == "approvals" and len(parts) > 1 else parts[0]
    if name.startswith("approvals."):
        assert name in LAYERS, f"{name} has no layer: add it to LAYERS in tests/test_architecture.py"
    return name, LAYERS.get(name, TOP)


def test_imports_point_down_the_layers_only():
    upward = [
        f"{module} ({layer(module)[0]}) imports {target} ({layer(target)[0]})"
        for module, targets in import_graph().items() for target in sorted(targets)
        if layer(target)[1] > layer(module)[1]
    ]
    assert upward == []


def test_the_cycle_finder_names_a_type_only_cycle():
    """The detector itself: a cycle that exists only under TYPE_CHECKING is found and named."""
    first = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    second = ast.parse("from pkg import a\n")
    graph = {
        "pkg.a": {name for name in imported_names(first, "pkg.a", False) if name in {"pkg.a", "pkg.b"}},
        "pkg.b": {name for name in imported_names(second, "pkg.b", False) if name in {"pkg.a", "pkg.b"}},
    }
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
    assert find_cycle({"pkg.a": {"pkg.b"}, "pkg.b": set()}) is None


def test_relative_imports_resolve_to_the_module_they_name():
    tree = ast.parse("from . import base\nfrom ..store import schema\n")
    names = set(imported_names(tree, "approvals.service.queue", False))
    assert {"approvals.service.base", "approvals.store.schema"} <= names


def test_no_module_over_400_lines_and_no_page_over_250():
    too_long = []
    for path in project_files():
        limit = PAGE_LINES if path.parent == ROOT / "pages" else MODULE_LINES
        if (lines := len(path.read_text().splitlines())) > limit:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines (limit {limit})")
    assert not too_long, "\n".join(too_long)


@pytest.mark.parametrize("command", [["ruff", "check", "."], ["mypy"]], ids=["ruff", "mypy"])
def test_ruff_and_mypy_pass_with_the_project_configuration(command: list[str]):
    """Run here as well as in the README's command, so the suite proves them even if that command is edited."""
    done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


# -- one way to decide -------------------------------------------------------------------------------------

COMMAND = "approvals/service/decisions.py"
"""The decision command: the only code that records a decision or counts an approval."""
TALLY = "approvals/service/tally.py"
"""The N-of-M tally the command counts an approval with."""
DELIVERY = "approvals/service/delivery.py"
"""Where the command's run delivers a recorded decision: the only caller of an agent backend's `resume`."""
DECIDING: dict[str, set[str]] = {
    "inserts into decisions": {"approvals/store/decisions.py"},
    "inserts into approvals (the N-of-M tally)": {"approvals/store/tally.py"},
    "calls the decisions repository's insert": {COMMAND},
    "calls the tally repository's upsert": {TALLY},
    "calls the tally's add": {COMMAND},
    "calls the compare-and-set": {COMMAND},
    "resumes a graph with Command(resume=...)": {"approvals/sources/local_graphs.py", "graphs/lab.py",
                                                 "bench/decision.py", "bench/bulk.py"},
    "resumes a deployment's thread": {DELIVERY, "approvals/sources/deployments.py"},
}
"""What decides, and the only files allowed to do it. The two agent backends (approvals/service/ports.py) carry a
resume to a graph here (local_graphs.py) or a deployment (deployments.py); only delivery calls them. graphs/lab.py
resumes the durability lab's own experiment graphs (no decision of the app); the benchmarks' bare resume is the
baseline they measure the command against.
The statements live in the store's repositories; each has one caller, so the command stays the only way in."""
_SQL_INSERT = re.compile(r"\bINSERT\s+INTO\s+(decisions|approvals)\b", re.I)


def deciding_acts(tree: ast.Module) -> Iterator[str]:
    """Each act of deciding in a module's AST, named as DECIDING names it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for table in _SQL_INSERT.findall(node.value):
                yield "inserts into decisions" if table.lower() == "decisions" else \
                    "inserts into approvals (the N-of-M tally)"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        keywords = {k.arg for k in node.keywords}
        if name == "add" and owner == "tally":
            yield "calls the tally's add"
        if name == "insert_decision":
            yield "calls the decisions repository's insert"
        if name == "upsert_approval":
            yield "calls the tally repository's upsert"
        if name in {"_insert_decision", "_write_decision"}:
            yield "calls the compare-and-set"
        if name == "Command" and "resume" in keywords:
            yield "resumes a graph with Command(resume=...)"
        if (name == "resume" and owner != "oversight") or (name == "create" and "command" in keywords):
            yield "resumes a deployment's thread"


def test_nothing_but_the_decision_command_decides():
    """Every page, route, job and channel decides through the service's one command (DESIGN.md, "One decision
    command"): a second way in would skip its checks (claim, stop switch, policy, digest, schema) or its run row."""
    found = {act: set() for act in DECIDING}
    for path in project_files():
        for act in deciding_acts(ast.parse(path.read_text(), filename=str(path))):
            found[act].add(path.relative_to(ROOT).as_posix())
    outside = {act: sorted(files - DECIDING[act]) for act, files in found.items() if files - DECIDING[act]}
    assert outside == {}, f"a second way to decide: {outside}"
    # the scan sees the command itself, and the statement its repository runs for it
    assert found["calls the decisions repository's insert"] == {COMMAND}
    assert found["inserts into decisions"] == {"approvals/store/decisions.py"}


def test_the_decision_scan_names_a_page_that_resumes_or_records_by_itself():
    page = ast.parse(
        "graph.invoke(Command(resume={iid: {'decisions': [{'type': 'approve'}]}}), config)\n"
        "db.execute('insert into  decisions (thread_id) values (?)', (t,))\n"
        "service._insert_decision(pending, decision, actor, 'reviewer')\n"
        "decisions.insert_decision(tx, row)\n"
        "remote.resume(thread_id, assistant_id, iid, value)\n"
        "oversight.resume(db, 'tool', 'issue_refund', actor)\n"
    )
    assert sorted(deciding_acts(page)) == ["calls the compare-and-set", "calls the decisions repository's insert",
                                            "inserts into decisions",
                                            "resumes a deployment's thread", "resumes a graph with Command(resume=...)"]


# -- one clock ---------------------------------------------------------------------------------------------

THREADS = {"approvals/service/scheduler.py": "the one clock",
           "approvals/sources/async_graphs.py": "the event loop async graphs run on (no timed work)"}
TIMED_WORK = {"expire_overdue", "deliver_due", "discover_all", "poll_deployments", "take_over_cut_runs",
              "renew_leases", "purge"}
"""The timed jobs' entry points: only the scheduler calls them on a timer."""


def calls(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            yield func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def test_timed_work_runs_on_the_one_clock_never_in_a_page_a_fragment_or_a_route():
    """DESIGN.md: timed work runs in one scheduler started by the app's lifespan, with leases, never in a page or
    a fragment (a console tab would run it once more per tab; with none open it would not run at all); and no
    other background loop of the app's own starts a thread."""
    in_pages = {path.relative_to(ROOT).as_posix(): sorted(set(calls(ast.parse(path.read_text()))) & TIMED_WORK)
                for path in project_files() if path.relative_to(ROOT).parts[0] in {"pages", "ui", "navigation.py"}
                or path.relative_to(ROOT).as_posix().startswith("approvals/http/")}
    assert {path: names for path, names in in_pages.items() if names} == {}
    threads = {path.relative_to(ROOT).as_posix() for path in project_files()
               if path.relative_to(ROOT).parts[0] == "approvals" and "Thread" in calls(ast.parse(path.read_text()))}
    assert threads == THREADS.keys()


# -- the store owns SQL ---------------------------------------------------------------------------------------

_SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|"
                  r"ON\s+CONFLICT|pg_advisory\w*|PRAGMA)\b", re.S)
"""Keywords in capitals, as every statement here writes them: prose ("Select the items ... from") is not SQL."""
STORE = "approvals/store/"
APP_DIRS = ("approvals/", "pages/", "ui/", "graphs/")
APP_FILES = ("app.py", "navigation.py", "resources.py")
"""The app: examples/, bench/ and scripts/ stand for other people's code and tools, which keep their own SQL."""


def app_files() -> list[Path]:
    return [path for path in project_files()
            if (rel := path.relative_to(ROOT).as_posix()).startswith(APP_DIRS) or rel in APP_FILES]


def sql_strings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every string constant (f-string parts included) that reads as a SQL statement, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
            yield node.lineno, node.value.strip().splitlines()[0][:60]


def test_sql_lives_only_in_the_store():
    """Repositories in approvals/store/ own every statement, so a table has one owner and the SQLite/PostgreSQL
    differences live in one place; a statement anywhere else in the app fails here, naming where it is."""
    found = [f"{path.relative_to(ROOT)}:{line}: {text}" for path in app_files()
             if not path.relative_to(ROOT).as_posix().startswith(STORE)
             for line, text in sql_strings(ast.parse(path.read_text(), filename=str(path)))]
    assert found == [], "SQL outside approvals/store/:\n" + "\n".join(found)


def test_the_sql_scan_names_a_statement_in_a_page():
    tree = ast.parse('rows = db.query(f"SELECT * FROM pending WHERE thread_id = ?", (thread,))\n')
    assert [line for line, _ in sql_strings(tree)] == [1]
    assert list(sql_strings(ast.parse('st.caption("Select the items to approve from the queue")\n'))) == []


_HANDLES = {"db", "Database", "Transaction", "Store", "connect", "open_store"}
"""What holds or opens a database: a page, a widget or a route asks the service (or an adapter) instead."""
_TIME_FORMAT = {"iso", "utcnow"}
"""The store's timestamp format, which pages and routes may use to show and compare times."""


def database_handles(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _HANDLES:
            yield node.lineno, f".{node.attr}"
        elif isinstance(node, ast.Name) and node.id in _HANDLES:
            yield node.lineno, node.id
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("approvals.store"):
            yield from ((node.lineno, f"from {node.module} import {alias.name}") for alias in node.names
                        if alias.name not in _TIME_FORMAT)


def test_pages_widgets_and_routes_hold_no_database_handle():
    """Data flows page/route -> service -> store: a page that reads a table by itself skips the service's rules."""
    found = [f"{path.relative_to(ROOT)}:{line}: {what}" for path in project_files()
             if path.relative_to(ROOT).as_posix().startswith(("pages/", "ui/", "approvals/http/"))
             for line, what in database_handles(ast.parse(path.read_text(), filename=str(path)))]
    assert found == [], "a database handle in pages/, ui/ or approvals/http/:\n" + "\n".join(found)
