"""Provenance: the source a cell ran (record["code"]), a dirty flag that only source sets, and a manifest and
a leaderboard header that name every commit behind a board's cells."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import extra_models

import vadbench
from vadbench.cli import main
from vadbench.provenance import package_hash, packages_of, source_hash
from vadbench.results import ResultsStore
from vadbench.runner import git_commit

SUITE = """
name = "tiny"
dataset = "synthetic"
seeds = [0, 1]
dataset_options = {n_train = 2, n_test = 3, n_frames = 40, width = 160, height = 112}
profile = {batch_sizes = [1], rounds = 2, warmup = 1, e2e_rounds = 1, videos = 1}
[[models]]
name = "motion-diff"
[[models]]
name = "motion-flow"
"""

HEX12 = re.compile(r"[0-9a-f]{12}")


def _package(root: Path) -> Path:
    pkg = root / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "tests").mkdir()
    (pkg / "__init__.py").write_text("x = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "m.py").write_text("def f():\n    return 1\n")
    (pkg / "README.md").write_text("# pkg\n")
    (pkg / "weights.npz").write_bytes(b"\x00\x01\x02")
    (pkg / "tests" / "test_m.py").write_text("def test_f():\n    pass\n")
    return pkg


def test_source_hash_changes_with_py_files_only(tmp_path):
    pkg = _package(tmp_path)
    first = source_hash(pkg)
    assert HEX12.fullmatch(first)
    (pkg / "README.md").write_text("# pkg, documented at length\n")
    (pkg / "NOTES.md").write_text("new doc\n")
    (pkg / "weights.npz").write_bytes(b"\x09" * 100)
    (pkg / "table.csv").write_text("a,b\n1,2\n")
    (pkg / "tests" / "test_m.py").write_text("def test_f():\n    assert False\n")
    assert source_hash(pkg) == first  # docs, data and tests are not the code a cell runs
    (pkg / "sub" / "m.py").write_text("def f():\n    return 2\n")
    changed = source_hash(pkg)
    assert changed != first
    (pkg / "sub" / "new.py").write_text("")  # a new (even empty) module is new code
    assert source_hash(pkg) not in (first, changed)
    (pkg / "sub" / "new.py").unlink()
    assert source_hash(pkg) == changed
    (pkg / "sub" / "m.py").rename(pkg / "sub" / "m2.py")  # same bytes under another name
    assert source_hash(pkg) != changed


def test_package_hash_is_computed_once_per_process(tmp_path):
    pkg = _package(tmp_path)
    first = package_hash(pkg)
    (pkg / "__init__.py").write_text("x = 2\n")
    assert package_hash(pkg) == first != source_hash(pkg)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def test_dirty_means_changed_source_of_the_packages_involved(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "vadbench").mkdir()
    (tmp_path / "vadbench" / "core.py").write_text("x = 1\n")
    plugin = tmp_path / "plugins" / "mine" / "vadbench_mine"
    other = tmp_path / "plugins" / "other" / "vadbench_other"
    for pkg in (plugin, other):
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
    (tmp_path / "plugins" / "mine" / "README.md").write_text("mine\n")
    (tmp_path / "README.md").write_text("readme\n")
    (tmp_path / "leaderboards").mkdir()
    (tmp_path / "leaderboards" / "ped2.md").write_text("| a |\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "c")
    packages = [tmp_path / "vadbench", plugin]
    clean = git_commit(tmp_path, packages=packages)
    assert clean is not None and re.fullmatch(r"[0-9a-f]{40}", clean)

    (tmp_path / "README.md").write_text("readme, edited\n")                # docs
    (tmp_path / "plugins" / "mine" / "README.md").write_text("edited\n")
    (tmp_path / "leaderboards" / "ped2.md").write_text("| b |\n")          # the published store
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "new.md").write_text("new\n")                    # untracked, not source
    (plugin / "notes.txt").write_text("n\n")
    assert git_commit(tmp_path, packages=packages) == clean
    assert git_commit(tmp_path) == clean                                   # default: vadbench/ and plugins/

    (other / "__init__.py").write_text("y = 1\n")  # another plugin's source: not this cell's code
    assert git_commit(tmp_path, packages=packages) == clean
    assert git_commit(tmp_path) == clean + "+dirty"
    _git(tmp_path, "checkout", "--", ".")
    (tmp_path / "README.md").write_text("readme, edited\n")

    (plugin / "extra.py").write_text("z = 1\n")  # an untracked module in the model's package
    assert git_commit(tmp_path, packages=packages) == clean + "+dirty"
    (plugin / "extra.py").unlink()
    (tmp_path / "vadbench" / "core.py").write_text("x = 2\n")
    assert git_commit(tmp_path, packages=packages) == clean + "+dirty"
    _git(tmp_path, "add", "vadbench/core.py")  # staged counts too
    assert git_commit(tmp_path, packages=packages) == clean + "+dirty"
    assert git_commit(tmp_path, packages=[plugin]) == clean


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """Four cheap cells (motion-diff, motion-flow; seeds 0, 1) on a tiny synthetic dataset, published."""
    root = tmp_path_factory.mktemp("provenance")
    suite = root / "tiny.toml"
    suite.write_text(SUITE)
    assert main(["run", "--suite", str(suite), "--results", str(root / "res")]) == 0
    return root


def test_a_cell_records_the_code_it_ran(tiny_run):
    import vadbench_baselines

    records = ResultsStore(tiny_run / "res").records()
    assert len(records) == 4
    for record in records:
        assert set(record["code"]) == {"vadbench", "vadbench_baselines"}
        assert record["code"]["vadbench"] == package_hash(Path(vadbench.__file__).parent)
        assert record["code"]["vadbench_baselines"] == package_hash(Path(vadbench_baselines.__file__).parent)
        commit = record["git_commit"]
        assert commit is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    manifest = json.loads((tiny_run / "res" / "leaderboards" / "synthetic_manifest.json").read_text())
    assert sum(entry["n_cells"] for entry in manifest["commits"]) == 4
    [code] = manifest["code"]
    assert code["code"] == records[0]["code"] and code["n_cells"] == 4 and len(code["cells"]) == 4
    assert manifest["code_unknown"] == {"n_cells": 0, "cells": []}


def test_manifest_and_header_name_every_commit_behind_the_board(tiny_run, tmp_path):
    """Records from two commits, one made before ``code`` was recorded: both commits, counted, and the
    unknown."""
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    shutil.copytree(tiny_run / "res", tmp_path / "res")
    paths = sorted((tmp_path / "res" / "records").glob("*.json"))
    a, b = "a" * 40, "b" * 40 + "+dirty"
    for k, path in enumerate(paths):
        record = json.loads(path.read_text())
        record["git_commit"] = b if k == 0 else a
        if k == 1:
            del record["code"]  # as a record made before this field existed
        path.write_text(json.dumps(record))
    assert main(["run", "--suite", str(suite), "--results", str(tmp_path / "res")]) == 0  # nothing to rerun
    assert [json.loads(p.read_text())["git_commit"] for p in paths] == [b, a, a, a]

    boards = tmp_path / "res" / "leaderboards"
    manifest = json.loads((boards / "synthetic_manifest.json").read_text())
    cells = [p.stem for p in paths]
    assert manifest["commits"] == [{"commit": a, "n_cells": 3, "cells": sorted(cells[1:])},
                                   {"commit": b, "n_cells": 1, "cells": [cells[0]]}]
    assert manifest["code_unknown"] == {"n_cells": 1, "cells": [cells[1]]}
    [code] = manifest["code"]
    assert code["n_cells"] == 3 and code["commits"] == [a, b] and cells[1] not in code["cells"]
    header = [line for line in (boards / "synthetic.md").read_text().splitlines()
              if line.startswith("- Commit")]
    assert header == ["- Commit: `aaaaaaa` (3 cells), `bbbbbbb+dirty` (1 cell)"]

    assert main(["leaderboard", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "lb")]) == 0
    board = (tmp_path / "lb" / "synthetic.md").read_text()
    assert "- Commit: `aaaaaaa` (3 cells), `bbbbbbb+dirty` (1 cell)" in board


class _Student(vadbench.Model):
    """Fits on a teacher fetched through the run context (as a distilled student), scores frame
    differences."""

    family = "student"

    def fit(self, train, ctx):
        self.level = float(ctx.get_model("prov-teacher").config["level"])

    def score(self, video):
        frames = video.read(gray=True).astype(np.float32)
        return np.r_[0.0, np.abs(np.diff(frames, axis=0)).mean((1, 2))] * self.level

    def state_dict(self):
        return {"level": self.level}

    def load_state_dict(self, state):
        self.level = state["level"]

    def example_input(self, batch_size=1):
        return np.zeros((batch_size, 4), np.float32)

    def forward(self, batch):
        return batch.sum(1)


TEACHER_PACKAGE = '''
import numpy as np
import vadbench


class Teacher(vadbench.Model):
    family = "teacher"

    def __init__(self, **config):
        super().__init__(**{"level": 1, **config})

    def fit(self, train, ctx):
        return None

    def score(self, video):
        return np.full(len(video), float(self.config["level"]))
'''


def test_a_students_record_names_its_teachers_package(tmp_path, monkeypatch):
    teacher_pkg = tmp_path / "site" / "prov_teachers"
    teacher_pkg.mkdir(parents=True)
    (teacher_pkg / "__init__.py").write_text(TEACHER_PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    import prov_teachers

    suite = tmp_path / "student.toml"
    suite.write_text(SUITE.split("[[models]]")[0].replace("seeds = [0, 1]", "seeds = [0]")
                     + '[[models]]\nname = "prov-student"\n')
    with extra_models(**{"prov-teacher": prov_teachers.Teacher, "prov-student": _Student}):
        assert packages_of("prov-teacher")["prov_teachers"] == teacher_pkg
        assert main(["run", "--suite", str(suite), "--results", str(tmp_path / "res")]) == 0
    [record] = ResultsStore(tmp_path / "res").records()
    assert record["status"] == "ok" and "prov-teacher" in record["model"]["depends_on"]
    assert set(record["code"]) == {"vadbench", "prov_teachers", __name__.split(".")[0]}
    assert record["code"]["prov_teachers"] == source_hash(teacher_pkg)
    assert all(HEX12.fullmatch(h) for h in record["code"].values())


def test_code_at_a_clean_commit_is_the_source_hash_of_that_commit(tmp_path):
    """A record without ``code`` whose commit is clean gets back the hash its cell ran; a dirty one does
    not."""
    import subprocess

    from vadbench.provenance import code_at_commit, source_hash

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    pkg = tmp_path / "plugins" / "mine" / "my_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    first, then = git("rev-parse", "HEAD"), source_hash(pkg)
    (pkg / "__init__.py").write_text("x = 2\n")  # edited afterwards, not committed
    assert code_at_commit(tmp_path, first, {"my_pkg": "plugins/mine/my_pkg"}) == {"my_pkg": then}
    assert then != source_hash(pkg)
    with pytest.raises(ValueError, match="uncommitted"):
        code_at_commit(tmp_path, first + "+dirty", {"my_pkg": "plugins/mine/my_pkg"})
    with pytest.raises(ValueError, match="has no"):
        code_at_commit(tmp_path, first, {"other": "plugins/other"})
