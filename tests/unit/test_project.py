"""The project's own promises about installing and checking it: one pin list, the README command CI runs."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins(lines: list[str]) -> dict[str, Requirement]:
    """Requirement lines (comments and blanks skipped) by canonical package name."""
    requirements = [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in requirements}


def described(requirement: Requirement) -> tuple[str, tuple[str, ...], str]:
    return canonicalize_name(requirement.name), tuple(sorted(requirement.extras)), str(requirement.specifier)


def test_requirements_txt_and_pyproject_pin_the_same_packages_exactly():
    installs = pins((ROOT / "requirements.txt").read_text().splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pins([*project["dependencies"], *project["optional-dependencies"]["test"]])
    assert sorted(map(described, installs.values())) == sorted(map(described, declared.values()))
    unpinned = [str(r) for r in installs.values() if not re.fullmatch(r"==[\w.]+", str(r.specifier))]
    assert unpinned == [], "every install is pinned to one version"


def test_what_is_installed_is_what_is_pinned():
    installs = pins((ROOT / "requirements.txt").read_text().splitlines())
    drift = {name: (str(r.specifier), version(name)) for name, r in installs.items()
             if str(r.specifier) != f"=={version(name)}"}
    assert drift == {}


def test_the_readme_test_command_installs_the_pins_and_runs_ruff_mypy_and_the_suite():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```\s*<!-- /test-command -->", readme, re.S)
    assert block, "the README keeps its test command between the test-command markers"
    command = block[1].strip()
    assert "pip install -r requirements.txt" in command
    assert command.endswith("&& ruff check . && mypy && python -m pytest")
    assert "apt-get install -y chromium postgresql" in command
    assert "npm ci --prefix tests/oidc" in command, "the st.login tests' OpenID Connect provider is installed"
