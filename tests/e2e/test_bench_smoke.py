"""The benchmark scripts still run, at tiny sizes (no timing is asserted: bench/ measures).

The database benchmarks run on both backends; the browser benchmarks need chromium, so they are browser tests.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

TINY = {
    "api.py": ["--rounds", "2"],
    "audit.py": ["--rounds", "2", "--entries", "50"],
    "decision.py": ["--rounds", "2"],
    "bulk.py": ["--items", "3"],
    "runs.py": ["--conversations", "2", "--many", "3", "--delay-ms", "50"],
    "deployments.py": ["--threads", "3", "--lag-rounds", "2"],
    "notify.py": ["--items", "3"],
    "queue.py": ["--threads", "80", "--pending", "5", "--foreign", "8", "--foreign-pending", "2", "--rounds", "2"],
}


@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_script_runs_and_prints_baseline_ours_and_ratio(script, db_url):
    assert_runs(script, db_url, *TINY[script])


@pytest.mark.browser
@pytest.mark.parametrize(("script", "sizes"), [
    ("reload.py", ["--rounds", "1"]),
    ("console.py", ["--threads", "80", "--pending", "10", "--rounds", "1"]),
])
def test_browser_bench_runs_in_a_real_browser(script, sizes, tmp_path):
    assert_runs(script, str(tmp_path / "app.db"), *sizes)


def assert_runs(script: str, db_url: str, *sizes: str) -> None:
    done = subprocess.run([sys.executable, f"bench/{script}", "--database-url", db_url, *sizes],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for label in ("baseline", "ours", "ratio"):
        assert f"  {label} " in done.stdout
