"""Leaderboards: mean ± std over seeds, failed cells, the md/csv/tex files."""

import csv

import numpy as np
import pytest

from vadbench.publish.leaderboard import aggregate, write_leaderboard

MACHINE = {"cpu": "Test CPU 3000", "usable_cores": 2, "torch_threads": 2, "torch": "2.x"}


def rec(model, seed, micro=None, *, status="ok", error=None, config=None, family="baseline", fps=None,
        rbdc=None, dataset="synthetic"):
    r = {"cell": f"{model}__{dataset}__s{seed}__00000000", "status": status, "error": error, "seed": seed,
         "model": {"name": model, "family": family, "config": config or {}},
         "dataset": {"name": dataset, "label_source": "masks"}}
    if status == "ok":
        r["metrics"] = {"micro_auc": micro, "macro_auc": micro - 0.01, "rbdc": rbdc, "tbdc": None,
                        "conventions": {"sigma": 3.0, "single_class": "drop"}}
        r["speed"] = {"fps_e2e": fps, "fps_model_b1": 2 * fps if fps else None, "fps_model_best": None,
                      "params": 1234, "gmacs": 0.5, "machine": MACHINE}
        r["train_seconds"] = 10.0 + seed
    return r


RECORDS = [
    rec("student", 0, 0.90, family="student", fps=1000.0),
    rec("student", 1, 0.92, family="student", fps=1100.0),
    rec("student", 2, 0.94, family="student", fps=1200.0),
    rec("teacher", 0, 0.97, family="teacher", fps=5.0, rbdc=0.5),
    rec("teacher", 1, None, status="failed", error="RuntimeError: out of memory", family="teacher"),
    rec("broken", 0, status="failed", error="ValueError: bad config"),
    rec("broken", 1, status="failed", error="ValueError: bad config"),
    rec("student", 0, 0.50, family="student", fps=9.0, config={"width": 2}),  # another configuration
    rec("student", 0, 0.99, family="student", fps=1.0, dataset="other"),
]


def test_mean_and_std_over_three_seeds():
    rows = aggregate(RECORDS)
    [s] = [r for r in rows if r["model"] == "student" and r["dataset"] == "synthetic" and r["n_seeds"] == 3]
    assert s["micro_auc_mean"] == pytest.approx(0.92)
    assert s["micro_auc_std"] == pytest.approx(np.std([0.90, 0.92, 0.94], ddof=1))
    assert s["macro_auc_mean"] == pytest.approx(0.91)
    assert s["fps_e2e_mean"] == pytest.approx(1100.0) and s["fps_e2e_std"] == pytest.approx(100.0)
    assert s["fps_model_b1_mean"] == pytest.approx(2200.0)
    assert s["fps_model_best_mean"] is None and s["rbdc_mean"] is None
    assert s["train_seconds_mean"] == pytest.approx(11.0)
    assert s["params"] == 1234 and s["gmacs"] == 0.5 and s["family"] == "student"
    assert s["seeds"] == [0, 1, 2] and s["status"] == "ok" and s["n_failed"] == 0


def test_rows_per_configuration_and_dataset_sorted_by_micro_auc():
    rows = aggregate(RECORDS)
    keys = [(r["model"], r["dataset"], r["micro_auc_mean"]) for r in rows]
    assert len(rows) == 5  # student x2 configs, teacher, broken on synthetic; student on other
    micro = [r["micro_auc_mean"] for r in rows if r["micro_auc_mean"] is not None]
    assert micro == sorted(micro, reverse=True)
    assert keys[-1][0] == "broken"  # no AUC: last


def test_failed_cells_show_as_failed_with_reason():
    rows = {r["model"]: r for r in aggregate(RECORDS) if r["dataset"] == "synthetic" and r["config"] == {}}
    assert rows["broken"]["status"] == "failed: ValueError: bad config"
    assert rows["broken"]["n_seeds"] == 0 and rows["broken"]["micro_auc_mean"] is None
    teacher = rows["teacher"]
    assert teacher["status"] == "ok" and teacher["n_seeds"] == 1 and teacher["n_failed"] == 1
    assert teacher["failed"] == "seed 1: RuntimeError: out of memory"
    assert teacher["micro_auc_std"] is None  # one seed: no spread


def test_write_leaderboard_files(tmp_path):
    paths = write_leaderboard(RECORDS, tmp_path / "lb", "synthetic", command="vadbench run", commit="abc1234",
                              latex=True)
    assert set(paths) == {"md", "csv", "tex"}
    md = paths["md"].read_text()
    assert "`vadbench run`" in md and "`abc1234`" in md and "Test CPU 3000" in md
    assert "92.0 ± 2.0" in md                     # student micro AUC in %
    assert "| 1100 |" in md and "| 5.0 |" in md   # FPS: 0 decimals, 1 below 10
    assert "failed: ValueError: bad config" in md
    assert "1 failed: seed 1: RuntimeError: out of memory" in md
    assert "sigma: 3.0" in md and "scores/<cell>.npz" in md
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[1].split("|")[2].strip() == "teacher"   # sorted by micro AUC: 97 > 92 > 50
    with open(paths["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["teacher", "student", "student", "broken"]
    assert float(rows[1]["micro_auc_mean"]) == pytest.approx(0.92)
    assert float(rows[1]["micro_auc_std"]) == pytest.approx(0.02)
    assert rows[0]["micro_auc_std"] == "" and rows[3]["status"].startswith("failed")
    tex = paths["tex"].read_text()
    assert r"\toprule" in tex and r"$\pm$" in tex
    assert not [p for p in (tmp_path / "lb").iterdir() if p.name.endswith(".tmp")]


def test_empty_dataset_writes_an_empty_table(tmp_path):
    paths = write_leaderboard([], tmp_path, "nothing", command=None, commit=None)
    assert "vadbench leaderboard: nothing" in paths["md"].read_text()
    assert paths["csv"].read_text().startswith("rank,model")
