"""The development scripts under plugins/*/scripts refuse bad arguments in one line, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parents[1] / "plugins"


@pytest.mark.parametrize("script, args, message", [
    ("fastano/scripts/pseudo_val.py", ["fastano", "--config", "{epochs: 4}"],
     "argument --config: not JSON (Expecting property name enclosed in double quotes at column 2): '{epochs: 4}'"),
    ("fastano/scripts/pseudo_val.py", ["fastano", "--variants", "{}"], "argument --variants: must be a JSON list, got '{}'"),
    ("fastaed/scripts/measure_ped2.py", ["--config", "[1]"], "argument --config: must be a JSON object, got '[1]'"),
    ("teachers/scripts/measure_ped2.py", ["teacher-attr", "--json", "{tmp}"], "argument --json: is a folder, not a file: {tmp}"),
    ("fastaed/scripts/imitation_ceiling.py", ["--json", "{tmp}/f/x.json"],
     "argument --json: {tmp}/f is a file, so {tmp}/f/x.json cannot be written"),
])
def test_script_arguments_are_checked_in_one_line(script, args, message, tmp_path):
    (tmp_path / "f").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = subprocess.run([sys.executable, str(PLUGINS / script), *args],
                          check=False, capture_output=True, text=True, timeout=120)
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert err[-1] == f"{Path(script).name}: error: {message.replace('{tmp}', str(tmp_path))}"
