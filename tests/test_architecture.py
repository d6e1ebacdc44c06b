"""The layout holds by itself: no import cycles, no oversized modules, and the linters the README runs pass.

Computed from the source (the AST of every .py outside tests/), so a cycle through an import inside a
function or under `if TYPE_CHECKING:` counts as much as one at the top of a module: each still ties the two
modules together, and a type-only cycle becomes a real one as soon as someone needs the name at run time.
"""

from __future__ import annotations

import ast
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
    "graphs": 0,
    "approvals.core": 1,
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
