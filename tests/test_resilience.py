"""Scale-out and crash safety: a Ray grid matches the local one; a SIGKILLed run resumes cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from vadbench.results import ResultsStore
from vadbench.runner import Cell, run_grid

TINY = {"n_train": 2, "n_test": 3, "n_frames": 40, "width": 160, "height": 112}
PROFILE = {"batch_sizes": [1], "rounds": 2, "warmup": 1, "e2e_rounds": 1, "videos": 1}


def _cells(seeds=(0, 1)):
    return [Cell(model=m, dataset="synthetic", seed=s, dataset_options=TINY, profile=PROFILE)
            for m in ("motion-diff", "motion-flow") for s in seeds]


def _comparable(record):
    return {k: record[k] for k in ("cell", "status", "seed", "model", "metrics")}


def test_ray_grid_gives_the_same_records_as_local(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'vadbench[ray]'")
    from vadbench.executors import get_executor

    local = ResultsStore(tmp_path / "local")
    run_grid(_cells(), local)
    executor = get_executor("ray", num_cpus=2)
    try:
        remote = ResultsStore(tmp_path / "ray")
        records = run_grid(_cells(), remote, executor=executor)
    finally:
        ray.shutdown()
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    by_cell = {r["cell"]: r for r in local.records()}
    for r in remote.records():
        assert _comparable(r) == _comparable(by_cell[r["cell"]])
        a, b = remote.load_scores(r), local.load_scores(by_cell[r["cell"]])
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


SUITE = """
name = "kill"
dataset = "synthetic"
seeds = [0, 1, 2]
dataset_options = {n_train = 2, n_test = 3, n_frames = 40, width = 160, height = 112}
profile = {batch_sizes = [1, 8], rounds = 20, warmup = 2, e2e_rounds = 3, videos = 3}
[[models]]
name = "motion-flow"
"""


def test_sigkill_mid_cell_then_rerun_completes_only_the_rest(tmp_path):
    suite = tmp_path / "kill.toml"
    suite.write_text(SUITE)
    results = tmp_path / "res"
    cmd = [sys.executable, "-m", "vadbench.cli", "run", "--suite", str(suite), "--results", str(results)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records, locks = results / "records", results / "locks"
    deadline = time.monotonic() + 240
    # Wait until one cell is finished and the next one is in progress (its lock is held).
    while time.monotonic() < deadline and proc.poll() is None:
        done = list(records.glob("*.json")) if records.exists() else []
        held = [p for p in locks.glob("*.lock")] if locks.exists() else []
        if done and held and all(h.stem != d.stem for h in held for d in done):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed mid-cell"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    finished = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 1 <= len(finished) < 3
    for path in records.glob("*.json"):  # no half record is ever visible under its final name
        assert json.loads(path.read_text())["status"] == "ok"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    after = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert len(after) == 3
    assert all(after[name] == mtime for name, mtime in finished.items())  # not recomputed
    store = ResultsStore(results)
    assert not store.warnings
    for record in store.records():
        assert record["status"] == "ok" and len(store.load_scores(record)) == 3


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_publishes_the_finished_cells(tmp_path, stop):
    """SIGINT even when the run started with it ignored, as a background job of a shell script does."""
    suite = tmp_path / "term.toml"
    suite.write_text(SUITE.replace("seeds = [0, 1, 2]", "seeds = [0, 1, 2, 3, 4, 5]"))
    results = tmp_path / "res"
    cmd = [sys.executable, "-m", "vadbench.cli", "run", "--suite", str(suite), "--results", str(results)]
    # started as a shell script starts a background job: SIGINT ignored, and exec keeps it so
    cmd = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    records = results / "records"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not list(records.glob("*.json")):
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be stopped"
    os.kill(proc.pid, stop)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: publishing the finished cells" in err
    finished = sorted(p.stem for p in records.glob("*.json"))
    assert 1 <= len(finished) < 6
    manifest = json.loads((results / "leaderboards" / "synthetic_manifest.json").read_text())
    assert manifest["cells"] == finished
    assert "motion-flow" in (results / "leaderboards" / "synthetic.md").read_text()
