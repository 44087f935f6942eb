"""Every benchmark script still imports: they call dior's functions by name, and a rename in
dior_cli must not leave a benchmark that fails before it measures anything. Importing runs no
measurement (each script's work is under ``if __name__ == "__main__"``)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPTS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py"))


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 10


def test_every_benchmark_imports():
    code = ("import importlib, sys, traceback\n"
            "failed = []\n"
            f"for name in {SCRIPTS!r}:\n"
            "    try:\n"
            "        importlib.import_module('benchmarks.' + name)\n"
            "    except Exception:\n"
            "        failed.append(name + ': ' + traceback.format_exc().strip().splitlines()[-1])\n"
            "print('\\n'.join(failed))\n"
            "sys.exit(1 if failed else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
