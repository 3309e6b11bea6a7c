"""Names that become file names (dataset, model, cell id) cannot write outside the output folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vadbench.cli import main
from vadbench.errors import DataError
from vadbench.names import UnsafeNameError, safe_name
from vadbench.publish.leaderboard import write_leaderboard
from vadbench.results import ResultsStore, cell_id

UNSAFE = ["../x", "../../x", "..", ".", ".hidden", "a/b", "a\\b", "/abs", "", "a..b", "x y", "x" * 201]


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", UNSAFE)
def test_safe_name_refuses_with_one_line(name):
    with pytest.raises(UnsafeNameError) as err:
        safe_name(name)
    assert "\n" not in str(err.value) and repr(name)[:30] in str(err.value)
    with pytest.raises(UnsafeNameError):
        cell_id("motion-diff", name, 0, {})
    with pytest.raises(UnsafeNameError):
        write_leaderboard([], "out", name, command=None, commit=None)


@pytest.mark.parametrize("name", ["ped2", "motion-diff", "fastaed_s.v2", "A1"])
def test_safe_name_accepts_registry_names(name):
    assert safe_name(name) == name


@pytest.mark.parametrize("argv", [
    ["leaderboard", "--dataset", "../x"],
    ["pareto", "--dataset", "../../x"],
    ["curves", "--dataset", "ped2", "--models", "motion-diff,../m", "--out", "curves"],
    ["run", "--models", "motion-diff", "--datasets", "synthetic,../x"],
])
def test_cli_refuses_an_unsafe_name_before_writing(argv, tmp_path, capsys):
    out = tmp_path / "a" / "out"
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--results", str(tmp_path / "a" / "results"),
              *(["--out", str(out)] if "--out" not in argv else [])])
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "is not safe in a file name" in errors[0], errors
    assert _files(tmp_path) == []


def _plant(results, dataset, model="motion-diff"):
    """A record file written by hand (the store's own ``write`` refuses unsafe names)."""
    cell = f"{model.replace('/', '_').replace('.', '_')}__planted__s0__00000000"
    rec = {"cell": cell, "status": "ok", "seed": 0,
           "model": {"name": model, "family": "baseline", "config": {}},
           "dataset": {"name": dataset}, "metrics": {"micro_auc": 0.9, "macro_auc": 0.9},
           "scores_file": None}
    path = results / "records" / f"{cell}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return path


@pytest.mark.parametrize("dataset, model", [("../../x", "motion-diff"), ("synthetic", "../../m")])
def test_leaderboard_refuses_a_record_with_an_unsafe_name(dataset, model, tmp_path, capsys):
    results, out = tmp_path / "a" / "results", tmp_path / "a" / "out"
    store = ResultsStore(results)
    good = cell_id("motion-diff", "synthetic", 1, {})
    store.write({"cell": good, "status": "ok", "model": {"name": "motion-diff"},
                 "dataset": {"name": "synthetic"}, "seed": 1,
                 "metrics": {"micro_auc": 0.8, "macro_auc": 0.8}}, {"01": np.zeros(3)})
    planted = _plant(results, dataset, model)
    before = _files(tmp_path)
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(planted) in err[0] and "is not safe in a file name" in err[0], err
    assert _files(tmp_path) == before  # nothing written anywhere, in --out or outside it
    with pytest.raises(DataError, match="not safe"):
        store.records(dataset="synthetic")


def test_store_write_refuses_an_unsafe_dataset_name(tmp_path):
    store = ResultsStore(tmp_path / "results")
    with pytest.raises(DataError, match=r"dataset name '\.\./x'"):
        store.write({"cell": "c1", "status": "failed", "error": "x", "dataset": {"name": "../x"}}, None)
    assert _files(tmp_path) == []
