"""The results store: atomic records, scores round-trip, locks, safe cell ids."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from vadbench.atomic import atomic_save_npz, atomic_write_json, load_npz
from vadbench.results import CellBusy, ResultsStore, cell_id


def _record(cell, status="ok", **extra):
    rec = {"cell": cell, "status": status, "seed": 0,
           "model": {"name": "m", "family": "baseline", "config": {}},
           "dataset": {"name": "synthetic", "label_source": "masks"}, "metrics": {"micro_auc": 0.9}}
    rec.update(extra)
    return rec


@pytest.fixture
def store(tmp_path):
    return ResultsStore(tmp_path / "results")


def test_cell_id_is_stable_and_depends_on_config():
    a = cell_id("m", "ped2", 0, {"k": 1, "j": 2})
    assert a == cell_id("m", "ped2", 0, {"j": 2, "k": 1})
    assert a.startswith("m__ped2__s0__") and len(a.rsplit("__", 1)[1]) == 8
    assert a != cell_id("m", "ped2", 0, {"k": 2, "j": 2})
    assert a != cell_id("m", "ped2", 0, {"k": 1, "j": 2}, {"size": 64})
    assert a != cell_id("m", "ped2", 1, {"k": 1, "j": 2})


@pytest.mark.parametrize("model, dataset", [("../m", "ped2"), ("m", "a/b"), ("..", "ped2"), ("m", ""),
                                            (".hidden", "ped2"), ("m", "x\\y")])
def test_cell_ids_cannot_escape_the_root(model, dataset):
    with pytest.raises(ValueError):
        cell_id(model, dataset, 0, {})


@pytest.mark.parametrize("cell", ["../x", "a/b", "/abs", "..", "a..b", "", ".x"])
def test_store_refuses_unsafe_cells(store, cell):
    for call in (store.has, store.read, store.record_path, store.lock_path):
        with pytest.raises(ValueError):
            call(cell)
    with pytest.raises(ValueError):
        store.write(_record(cell), {"v": np.zeros(2)})


def test_load_refuses_scores_file_outside_root(store, tmp_path):
    with pytest.raises(ValueError, match="outside"):
        store.load_scores({"cell": "x", "scores_file": "../elsewhere.npz"})


def test_scores_and_regions_round_trip(store):
    cell = cell_id("m", "synthetic", 0, {})
    scores = {"01": np.array([0.1, 0.5, 0.25]), "02_0014": np.arange(5, dtype=np.float32)}
    regions = {"01": np.array([[0, 1, 2, 3, 4, 0.5]]), "02_0014": np.zeros((0, 6))}
    path = store.write(_record(cell), scores, regions)
    rec = store.read(cell)
    assert path == store.record_path(cell) and rec["status"] == "ok" and rec["schema"] == 1
    assert rec["scores_file"] == f"scores/{cell}.npz" and rec["regions_file"] == f"regions/{cell}.npz"
    got = store.load_scores(rec)
    assert sorted(got) == ["01", "02_0014"]
    np.testing.assert_array_equal(got["01"], scores["01"])
    np.testing.assert_array_equal(got["02_0014"], scores["02_0014"])
    assert got["01"].dtype == np.float64
    reg = store.load_regions(rec)
    np.testing.assert_array_equal(reg["01"], regions["01"])
    assert reg["02_0014"].shape == (0, 6)


def test_npz_is_loaded_without_pickle(store, tmp_path):
    bad = tmp_path / "obj.npz"
    np.savez(bad, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        load_npz(bad)
    with pytest.raises(TypeError):
        atomic_save_npz(tmp_path / "o.npz", {"v": np.array([{}], dtype=object)})  # never written with pickle


def test_record_is_written_last_and_atomically(store, monkeypatch):
    cell = cell_id("m", "synthetic", 0, {})
    from vadbench import results

    def boom(path, arrays):
        raise OSError("disk full")

    monkeypatch.setattr(results, "atomic_save_npz", boom)
    with pytest.raises(OSError):
        store.write(_record(cell), {"01": np.zeros(3)})
    assert not store.has(cell) and store.records() == []


def test_temp_and_half_written_files_are_not_records(store):
    good = cell_id("m", "synthetic", 0, {})
    store.write(_record(good), {"01": np.zeros(2)})
    d = store.records_dir
    (d / f".{good}.json.abc123.tmp").write_text('{"cell": "half')            # leftover temp file
    (d / "m__synthetic__s1__deadbeef.json").write_text('{"cell": "m__synthe')  # half-written json
    (d / "m__synthetic__s2__deadbeef.json").write_text("[1, 2]")              # not a record
    (d / "notes.txt").write_text("hello")
    recs = store.records()
    assert [r["cell"] for r in recs] == [good]
    joined = "\n".join(store.warnings)
    assert "s1__deadbeef" in joined and "s2__deadbeef" in joined and "notes.txt" in joined
    assert ".tmp" not in joined
    assert store.has(good) and not store.has("m__synthetic__s1__deadbeef")  # a broken record is missing


def test_records_filter_by_dataset_and_status(store):
    ok = cell_id("m", "ped2", 0, {})
    bad = cell_id("m", "ped2", 1, {})
    other = cell_id("m", "avenue", 0, {})
    store.write(_record(ok, dataset={"name": "ped2"}), {"01": np.zeros(2)})
    store.write(_record(bad, status="failed", error="ValueError: broken\nsecond line",
                        dataset={"name": "ped2"}), None)
    store.write(_record(other, dataset={"name": "avenue"}), {"01": np.zeros(2)})
    assert [r["cell"] for r in store.records(dataset="ped2")] == [ok, bad]
    [failed] = store.records(status="failed")
    assert failed["error"] == "ValueError: broken second line"
    assert failed["scores_file"] is None and not (store.scores_dir / f"{bad}.npz").exists()
    with pytest.raises(ValueError):
        store.load_scores(failed)
    with pytest.raises(ValueError):
        store.write(_record(bad, status="failed", error="x"), {"01": np.zeros(2)})
    with pytest.raises(ValueError):
        store.write(_record(ok), None)


def test_failed_rewrite_removes_old_scores(store):
    cell = cell_id("m", "d", 0, {})
    store.write(_record(cell), {"01": np.zeros(2)})
    store.write(_record(cell, status="failed", error="boom"), None)
    assert not (store.scores_dir / f"{cell}.npz").exists() and store.read(cell)["status"] == "failed"


def test_lock_is_exclusive_and_released(store):
    cell = cell_id("m", "d", 0, {})
    with store.lock(cell) as path:
        owner = json.loads(path.read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with pytest.raises(CellBusy) as info, store.lock(cell):
            pass
        assert str(os.getpid()) in str(info.value)
    assert not store.lock_path(cell).exists()
    with store.lock(cell):  # free again
        pass


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_lock_is_taken_over(store):
    cell = cell_id("m", "d", 0, {})
    path = store.lock_path(cell)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "token": "old"}))
    with store.lock(cell):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()
    assert not [p for p in path.parent.iterdir()]  # nothing left aside


def test_lock_of_a_live_process_or_another_host_is_respected(store):
    cell = cell_id("m", "d", 0, {})
    path = store.lock_path(cell)
    path.parent.mkdir(parents=True)
    for owner in ({"pid": os.getppid(), "host": socket.gethostname()},
                  {"pid": _dead_pid(), "host": "some-other-host"}):
        path.write_text(json.dumps(owner))
        with pytest.raises(CellBusy), store.lock(cell):
            pass
        assert json.loads(path.read_text()) == owner  # untouched


def test_atomic_json_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"z": 1, "a": {"b": 2}})
    atomic_write_json(tmp_path / "a.json", {"z": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"z": 2}
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "b.json", {"x": float("nan")})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
