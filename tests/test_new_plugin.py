"""`vadbench new-plugin`: the scaffold installs with pip, is listed at once, and passes its own contract
test."""

from __future__ import annotations

import os
import subprocess
import sys

from vadbench.cli import main


def test_scaffolded_plugin_installs_and_passes_its_contract_test(tmp_path):
    out = tmp_path / "my-comp"
    assert main(["new-plugin", "my-comp", "--out", str(out)]) == 0
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(out)], check=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    listed = subprocess.run([sys.executable, "-m", "vadbench.cli", "list", "models", "my-*"], env=env,
                            capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and "my-comp" in listed.stdout, listed.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(out / "tests")], env=env, capture_output=True, text=True, check=False,
                           cwd=tmp_path)
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout + tests.stderr
