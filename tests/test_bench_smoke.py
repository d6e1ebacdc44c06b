"""The benchmark scripts still run, at tiny sizes, on both backends (no timing is asserted: bench/ measures)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

TINY = {
    "decision.py": ["--rounds", "2"],
    "bulk.py": ["--items", "3"],
    "queue.py": ["--threads", "80", "--pending", "5", "--rounds", "2"],
}


@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_script_runs_and_prints_baseline_ours_and_ratio(script, db_url):
    done = subprocess.run([sys.executable, f"bench/{script}", "--database-url", db_url, *TINY[script]],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for label in ("baseline", "ours", "ratio"):
        assert f"  {label} " in done.stdout
