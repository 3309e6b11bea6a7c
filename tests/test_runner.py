"""`vadbench run` end to end on a small synthetic suite: records, resume, recomputation, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import extra_models

import vadbench
from vadbench.cli import main
from vadbench.results import ResultsStore

SUITE = """
name = "tiny"
dataset = "synthetic"
seeds = [0]
dataset_options = {n_train = 2, n_test = 3, n_frames = 40, width = 160, height = 112}
profile = {batch_sizes = [1], rounds = 2, warmup = 1, e2e_rounds = 1, videos = 1}
[[models]]
name = "motion-diff"
[[models]]
name = "motion-flow"
"""


@pytest.fixture
def suite_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SUITE)
    return path


def _run(tmp_path, suite_file, *extra) -> int:
    return main(["run", "--suite", str(suite_file), "--results", str(tmp_path / "res"), *extra])


def test_run_writes_records_leaderboard_and_pareto(tmp_path, suite_file):
    assert _run(tmp_path, suite_file) == 0
    store = ResultsStore(tmp_path / "res")
    records = store.records()
    assert sorted(r["model"]["name"] for r in records) == ["motion-diff", "motion-flow"]
    for r in records:
        assert r["status"] == "ok"
        assert 0.5 < r["metrics"]["micro_auc"] <= 1.0
        assert r["metrics"]["rbdc"] is not None and r["metrics"]["conventions"]["sigma"] == 3
        assert r["speed"]["fps_e2e"] > 0 and r["speed"]["machine"]["cpu"]
        scores = store.load_scores(r)
        assert len(scores) == 3 and all(np.isfinite(s).all() for s in scores.values())
    boards = tmp_path / "res" / "leaderboards"
    for name in ("synthetic.md", "synthetic.csv", "synthetic_pareto.png", "synthetic_pareto.svg",
                 "synthetic_manifest.json"):
        assert (boards / name).stat().st_size > 0
    assert "motion-flow" in (boards / "synthetic.md").read_text()


def test_a_shipped_suite_skips_models_no_plugin_registers(capsys):
    from vadbench.commands.run import installed_part
    from vadbench.suites import HERE, load_suite

    suite = load_suite("synthetic")
    suite["models"] = [*suite["models"], {"name": "not-installed-model"}]
    kept = installed_part(suite)
    assert "not-installed-model" not in [m["name"] for m in kept["models"]]
    assert [m["name"] for m in kept["models"]] == [m["name"] for m in load_suite("synthetic")["models"]]
    assert "skipping not-installed-model: not installed" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="none of its models is installed"):
        installed_part({**suite, "models": [{"name": "not-installed-model"}]})
    own = {**suite, "file": "/somewhere/else/mine.toml"}  # a user's suite is taken as written
    assert installed_part(own) is own and HERE.is_dir()


def test_rerun_computes_only_missing_cells(tmp_path, suite_file):
    assert _run(tmp_path, suite_file) == 0
    records = tmp_path / "res" / "records"
    kept, removed = sorted(records.glob("*.json"))
    kept_mtime = kept.stat().st_mtime_ns
    removed.unlink()
    assert _run(tmp_path, suite_file) == 0
    assert removed.exists() and kept.stat().st_mtime_ns == kept_mtime


def test_publish_only_writes_the_boards_of_the_stored_cells_and_runs_none(tmp_path, suite_file):
    assert _run(tmp_path, suite_file) == 0
    records = tmp_path / "res" / "records"
    kept, removed = sorted(records.glob("*.json"))
    removed.unlink()
    board = tmp_path / "res" / "leaderboards" / "synthetic.md"
    board.unlink()
    assert _run(tmp_path, suite_file, "--publish-only") == 0
    assert not removed.exists() and kept.exists()  # no cell ran
    text = board.read_text()
    assert kept.name.split("__")[0] in text and removed.name.split("__")[0] not in text


def test_rerun_redoes_a_cell_whose_model_settings_changed(tmp_path, suite_file, capsys):
    """A record made under another registered default is not taken for the current model's."""
    assert _run(tmp_path, suite_file) == 0
    old, kept = sorted((tmp_path / "res" / "records").glob("*.json"))
    kept_mtime = kept.stat().st_mtime_ns
    record = json.loads(old.read_text())
    record["model"]["config"]["a_setting_since_removed"] = 1  # as if written by an older version
    old.write_text(json.dumps(record))
    capsys.readouterr()
    assert _run(tmp_path, suite_file) == 0
    assert "settings changed since its record was written" in capsys.readouterr().err
    assert "a_setting_since_removed" not in json.loads(old.read_text())["model"]["config"]
    assert kept.stat().st_mtime_ns == kept_mtime


class _Teacher(vadbench.Model):
    """A trainable stand-in teacher whose one setting, ``level``, a test can change between runs."""

    level = 1

    def __init__(self, **config):
        super().__init__(**{"level": self.level, **config})

    def fit(self, train, ctx):
        return None

    def score(self, video):
        return np.full(len(video), float(self.config["level"]))


class _TeacherChanged(_Teacher):
    level = 2


STUDENT_FITS: list[int] = []  # the teacher level each fit of _Student saw


class _Student(vadbench.Model):
    """Asks the run context for ``toy-teacher`` while it fits, as a distilled student does."""

    def fit(self, train, ctx):
        self.level = ctx.get_model("toy-teacher").config["level"]
        STUDENT_FITS.append(self.level)

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


def test_a_student_runs_again_when_its_teacher_changed(tmp_path):
    """Its record and its cached fit name the teacher's settings; a changed teacher makes both stale."""
    suite = tmp_path / "student.toml"
    suite.write_text(SUITE.split("[[models]]")[0] + '[[models]]\nname = "toy-student"\n')
    STUDENT_FITS.clear()
    with extra_models(**{"toy-teacher": _Teacher, "toy-student": _Student}):
        assert _run(tmp_path, suite) == 0
    [path] = (tmp_path / "res" / "records").glob("toy-student*.json")
    depends = json.loads(path.read_text())["model"]["depends_on"]
    assert depends == {"toy-teacher": {"requested": {}, "config": {"level": 1}}}
    with extra_models(**{"toy-teacher": _TeacherChanged, "toy-student": _Student}):
        assert _run(tmp_path, suite) == 0
        assert json.loads(path.read_text())["model"]["depends_on"]["toy-teacher"]["config"] == {"level": 2}
        mtime = path.stat().st_mtime_ns
        assert _run(tmp_path, suite) == 0  # now current: neither the cell nor the fit is redone
    assert path.stat().st_mtime_ns == mtime
    assert STUDENT_FITS == [1, 2]  # refitted, not reloaded from the model cache
    [deps] = (tmp_path / "res" / "models").glob("toy-student*.deps.json")
    # damaged: the cached fit counts as stale, as a damaged record counts as missing
    deps.write_text("{not json")
    path.unlink()
    with extra_models(**{"toy-teacher": _TeacherChanged, "toy-student": _Student}):
        assert _run(tmp_path, suite) == 0
    assert STUDENT_FITS == [1, 2, 2] and json.loads(deps.read_text())["toy-teacher"]["config"] == {"level": 2}


def test_stored_scores_recompute_the_recorded_metrics(tmp_path, suite_file, capsys):
    assert _run(tmp_path, suite_file) == 0
    assert main(["eval", "--results", str(tmp_path / "res")]) == 0
    assert "largest difference from stored metrics: 0.00e+00" in capsys.readouterr().out


def test_per_video_breakdown_of_stored_cells(tmp_path, suite_file, capsys):
    assert _run(tmp_path, suite_file) == 0
    capsys.readouterr()
    assert main(["eval", "--results", str(tmp_path / "res"), "--per-video", "motion-diff*"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| video")]
    # one row per synthetic test video
    assert out.startswith("motion-diff__synthetic__s0") and len(table) == 3
    assert main(["eval", "--results", str(tmp_path / "res"), "--per-video", "no-such-model*"]) == 2
    assert "no finished cell matches 'no-such-model*'" in capsys.readouterr().err


class _Raises(vadbench.Model):
    family = "baseline"
    trainable = False

    def fit(self, train, ctx):
        return None

    def score(self, video):
        raise RuntimeError("scoring exploded")


class _NaN(_Raises):
    def score(self, video):
        return np.full(len(video), np.nan)


@pytest.fixture
def broken_plugins():
    with extra_models(**{"broken-raises": _Raises, "broken-nan": _NaN}):
        yield


def test_failing_cells_are_recorded_and_the_grid_goes_on(tmp_path, broken_plugins, capsys):
    suite = tmp_path / "broken.toml"
    suite.write_text(SUITE.replace('name = "motion-flow"', 'name = "broken-raises"\n[[models]]\n'
                                   'name = "broken-nan"\n[[models]]\nname = "no-such-model"'))
    assert _run(tmp_path, suite) == 1
    by_model = {r["model"]["name"]: r for r in ResultsStore(tmp_path / "res").records()}
    assert by_model["motion-diff"]["status"] == "ok"
    assert "scoring exploded" in by_model["broken-raises"]["error"]
    assert "NaN" in by_model["broken-nan"]["error"]
    assert "unknown model" in by_model["no-such-model"]["error"]
    board = (tmp_path / "res" / "leaderboards" / "synthetic.md").read_text()
    assert "failed" in board and "scoring exploded" in board
    assert "FAILED" in capsys.readouterr().err


def test_datasets_check_reports_the_known_ped2_counts(ped2_root, capsys):
    assert main(["datasets", "check", "ped2", "--root", str(ped2_root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["train_videos"], summary["test_videos"]) == (16, 12)
    assert (summary["train_frames"], summary["test_frames"]) == (2550, 2010)
    assert summary["anomalous_test_frames"] == 1648


def test_bad_input_is_one_line_naming_the_path(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["datasets", "check", "ped2", "--root", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0]
    assert os.path.exists(tmp_path) and not missing.exists()


def test_curves_figure_from_stored_scores(tmp_path, suite_file):
    assert _run(tmp_path, suite_file) == 0
    out = tmp_path / "curves"
    assert main(["curves", "--results", str(tmp_path / "res"), "--dataset", "synthetic",
                 "--models", "motion-diff,motion-flow", "--videos", "01,02", "--out", str(out)]) == 0
    assert out.with_suffix(".png").stat().st_size > 0 and out.with_suffix(".svg").stat().st_size > 0


def test_curves_draw_a_threshold_calibrated_on_training_frames(tmp_path, suite_file, capsys):
    from vadbench.runner import open_dataset
    from vadbench.watch import calibrate_threshold

    assert _run(tmp_path, suite_file) == 0
    capsys.readouterr()
    out = tmp_path / "curves"
    assert main(["curves", "--results", str(tmp_path / "res"), "--dataset", "synthetic", "--models",
                 "motion-diff", "--videos", "01", "--out", str(out), "--false-alarm-rate", "0.05"]) == 0
    said = capsys.readouterr().err
    printed = float(said.split("motion-diff: threshold ")[1].split()[0])
    [record] = [r for r in ResultsStore(tmp_path / "res").records() if r["model"]["name"] == "motion-diff"]
    train = open_dataset("synthetic", record["dataset"].get("options") or {}, root=None,
                         cache_dir=tmp_path / "res" / "cache").train
    expected = calibrate_threshold(vadbench.create_model("motion-diff"), train, 0.05, sigma=3)
    assert printed == pytest.approx(expected, rel=1e-5)
    in_sample = calibrate_threshold(vadbench.create_model("motion-diff"), train, 0.05)
    assert expected != pytest.approx(in_sample, rel=1e-3)
    assert out.with_suffix(".png").stat().st_size > 0


def test_run_writes_the_reproduction_table_of_models_that_name_a_published_method(tmp_path):
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE.replace('name = "motion-diff"\n',
                                   'name = "motion-diff"\nreproduces = "Sparse combination (Lu et al.)"\n'
                                   'deviation = "not the method"\n'))
    assert _run(tmp_path, suite) == 0
    table = (tmp_path / "res" / "leaderboards" / "synthetic_reproduction.md").read_text()
    [row] = [line for line in table.splitlines() if line.startswith("| motion-diff")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    record = next(r for r in ResultsStore(tmp_path / "res").records() if r["model"]["name"] == "motion-diff")
    assert cells[1] == "Sparse combination (Lu et al.)"
    assert cells[3] == f"{100 * record['metrics']['micro_auc']:.1f}"
    assert cells[7:11] == ["—"] * 4  # no published synthetic figures
    assert cells[12].startswith("150 (") and cells[13] == "not the method"
    assert "motion-flow" not in table
    manifest = json.loads((tmp_path / "res" / "leaderboards" / "synthetic_manifest.json").read_text())
    assert manifest["command"] == f"vadbench run --suite {suite} --results {tmp_path / 'res'}"  # main's argv


def test_the_reproduction_table_says_how_the_seed_claim_fares_from_the_board_and_a_profiling_run(tmp_path):
    suite = tmp_path / "tiny.toml"
    claim = ('[claim]\nstudent = "motion-diff"\nteachers = ["motion-flow"]\nprofile = "prof.json"\n\n'
             '[[models]]\nname = "motion-diff"\nreproduces = "Sparse combination (Lu et al.)"\n')
    suite.write_text(SUITE.replace('[[models]]\nname = "motion-diff"\n', claim, 1))
    boards = tmp_path / "res" / "leaderboards"
    boards.mkdir(parents=True)
    (boards / "prof.json").write_text(json.dumps([{"model": "motion-diff", "fps_e2e": 900.0},
                                                  {"model": "motion-flow", "fps_e2e": 30.0}]))
    assert _run(tmp_path, suite) == 0
    text = (boards / "synthetic_reproduction.md").read_text()
    records = {r["model"]["name"]: r for r in ResultsStore(tmp_path / "res").records()}
    micro = {name: 100 * r["metrics"]["micro_auc"] for name, r in records.items()}
    gap = micro["motion-flow"] - micro["motion-diff"]
    assert "**The seed's claim, measured.** `motion-diff` reaches" in text
    assert f"{gap:.1f} points below `motion-flow`" in text and "30x its slowest teacher `motion-flow`" in text
    assert "(`prof.json`)" in text


def test_models_pick_part_of_a_suite_with_its_settings(tmp_path, suite_file, capsys):
    assert _run(tmp_path, suite_file, "--models", "motion-flow") == 0
    [record] = ResultsStore(tmp_path / "res").records()
    assert record["model"]["name"] == "motion-flow"
    assert record["dataset"]["options"]["n_test"] == 3  # the suite's dataset options came along
    with pytest.raises(SystemExit, match="no model motion-nope"):
        _run(tmp_path, suite_file, "--models", "motion-nope")


def test_git_commit_marks_uncommitted_code(tmp_path):
    import shutil
    import subprocess

    from vadbench.runner import git_commit

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert git_commit(tmp_path) is None  # not a checkout
    def run(*a: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=tmp_path,
                              check=True, capture_output=True)
    run("init", "-q")
    (tmp_path / "vadbench").mkdir()
    (tmp_path / "vadbench" / "m.py").write_text("x = 1\n")
    (tmp_path / "results.json").write_text("{}\n")
    run("add", ".")
    run("commit", "-q", "-m", "c")
    clean = git_commit(tmp_path)
    assert clean is not None and len(clean) == 40
    (tmp_path / "results.json").write_text('{"a": 1}\n')  # a results file changed: still clean
    assert git_commit(tmp_path) == clean
    (tmp_path / "vadbench" / "m.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == clean + "+dirty"
