"""The shipped suites: every file loads, names registered models and expands into the right cells;
the Avenue and ShanghaiTech suites run end to end, through `vadbench run --suite`, on small stand-ins
written in those datasets' real on-disk formats (.avi, volLabel .mat, avenue.mat, frame folders of
.jpg, test_frame_mask / test_pixel_mask .npy) from vadbench's synthetic scene."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_avenue, write_shanghaitech

import vadbench
from vadbench.cli import main
from vadbench.contract import TINY
from vadbench.data.builtin import CONVENTIONS
from vadbench.data.synthetic import generate
from vadbench.errors import VadbenchError
from vadbench.results import ResultsStore
from vadbench.suites import list_suites, load_suite, suite_cells

# What the stand-in runs exercise: both untrained motion baselines, one teacher, one student (which
# fits teacher-attr through the model cache). The whole suite quick takes several minutes per dataset
# on 2 loaded cores; every model's quick configuration is checked by the contract tests.
STANDIN_MODELS = ("motion-diff", "motion-flow", "teacher-attr", "fastaed-xs")


# -- every shipped suite ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list_suites())
def test_suite_loads_names_registered_models_and_expands_seeds_outer(name):
    suite = load_suite(name)
    names = [m["name"] for m in suite["models"]]
    assert suite["name"] == name and suite["dataset"] in vadbench.list_datasets()
    assert names and len(set(names)) == len(names)
    assert set(names) <= set(vadbench.list_models()), set(names) - set(vadbench.list_models())
    cells = suite_cells(suite)
    trained = {m["name"]: m.get("trained", True) for m in suite["models"]}
    for m, is_trained in trained.items():
        seeds = [c.seed for c in cells if c.model == m]
        assert seeds == (suite["seeds"] if is_trained else suite["seeds"][:1]), m
    # seeds outer: every model of a seed comes before any cell of the next seed
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)
    assert [c.model for c in cells if c.seed == suite["seeds"][0]] == names
    for c in cells:
        assert c.dataset == suite["dataset"]
        assert c.dataset_options == suite.get("dataset_options", {})
        assert c.profile == suite.get("profile", {})
    quick = suite_cells(suite, quick=True)
    headline = suite.get("quick", {}).get("models")
    assert [c.model for c in quick] == [n for n in names if not headline or n in headline]
    assert {c.seed for c in quick} == {suite["seeds"][0]}
    if headline:  # the headline models in their full configurations: the full suite's first-seed cells
        first = {c.model: c for c in cells if c.seed == suite["seeds"][0]}
        assert all(c == first[c.model] for c in quick)


def test_a_quick_table_naming_a_model_the_suite_lacks_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('dataset = "synthetic"\n[quick]\nmodels = ["nope"]\n[[models]]\nname = "motion-diff"\n')
    with pytest.raises(VadbenchError, match=r"mine\.toml.*nope"):
        suite_cells(load_suite(str(path)), quick=True)


@pytest.mark.parametrize("name", ["avenue", "shanghaitech"])
def test_new_suites_match_the_ped2_suite(name):
    suite, ped2 = load_suite(name), load_suite("ped2")
    assert suite["dataset"] == name and suite["seeds"] == [0, 1, 2]
    assert [(m["name"], m.get("trained", True)) for m in suite["models"]] == \
           [(m["name"], m.get("trained", True)) for m in ped2["models"]]
    assert suite["profile"] == ped2["profile"]
    cells = suite_cells(suite)
    trained = sum(m.get("trained", True) for m in suite["models"])
    # trained models at seeds 0, 1, 2; motion ones once
    assert trained == len(suite["models"]) - 2 and len(cells) == 3 * trained + 2
    assert [c.model for c in cells[:2]] == ["motion-diff", "motion-flow"]
    assert cells[2 + trained - 1].seed == 0 and cells[2 + trained].seed == 1


def test_avenue_suite_pins_its_label_convention():
    assert load_suite("avenue")["dataset_options"] == {"labels": "masks"}
    assert "dataset_options" not in load_suite("shanghaitech")  # one convention only: test_frame_mask


@pytest.mark.parametrize("name", ["avenue", "shanghaitech"])
def test_suite_comments_state_the_dataset_conventions(name):
    text = Path(load_suite(name)["file"]).read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert f"sigma {CONVENTIONS[name]['sigma']} frames" in header
    assert f'single_class "{CONVENTIONS[name]["single_class"]}"' in header
    assert "1.0" in header  # the literature's count-as-1.0 alternative is named


# -- stand-ins in the real formats --------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two normal training and two test videos (32 frames, 160x112, grey) of the synthetic scene:
    walkers, plus fast or off-path movers in the test videos, their visible pixels masked."""
    root = generate(tmp_path_factory.mktemp("synthetic") / "syn", seed=0, **TINY)

    def read(folder: Path, flag=cv2.IMREAD_GRAYSCALE) -> np.ndarray:
        return np.stack([cv2.imread(str(p), flag) for p in sorted(folder.iterdir())])

    train = [read(p) for p in sorted((root / "training" / "frames").iterdir())]
    test = [read(p) for p in sorted((root / "testing" / "frames").iterdir())]
    masks = [read(p) > 127 for p in sorted((root / "testing" / "gt_masks").iterdir())]
    events = json.loads((root / "labels" / "events.json").read_text())
    assert [len(v) for v in train + test] == [TINY["n_frames"]] * 4
    assert test[0].shape[1:] == (TINY["height"], TINY["width"]) == masks[0].shape[1:]
    labels = [m.reshape(len(m), -1).any(1) for m in masks]
    assert all(0 < y.sum() < len(y) for y in labels)  # both classes in every test video
    assert {e["kind"] for v in events.values() for e in v} & {"cyclist", "running", "cart"}  # a fast mover
    return {"train": train, "test": test, "masks": masks, "labels": labels}


SHT_TRAIN, SHT_TEST = ("01_001", "02_001"), ("01_0014", "02_0128")


def write_standin(name: str, root: Path, clips: dict) -> Path:
    if name == "avenue":
        return write_avenue(root, clips["train"], clips["test"], clips["masks"])
    return write_shanghaitech(root, train=dict(zip(SHT_TRAIN, clips["train"], strict=True)),
                              test=dict(zip(SHT_TEST, clips["test"], strict=True)),
                              labels=dict(zip(SHT_TEST, clips["labels"], strict=True)),
                              masks=dict(zip(SHT_TEST, clips["masks"], strict=True)))


def standin_suite(name: str, path: Path) -> Path:
    """The shipped suite ``name`` restricted to STANDIN_MODELS, as a TOML file (everything else kept)."""
    suite = load_suite(name)
    models = [m for m in suite["models"] if m["name"] in STANDIN_MODELS]
    assert [m["name"] for m in models] == list(STANDIN_MODELS)

    def value(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)

    lines = [f"{k} = {value(suite[k])}" for k in ("name", "dataset", "seeds", "description", "profile",
                                                   "dataset_options") if k in suite]
    for m in models:
        lines += ["", "[[models]]"] + [f"{k} = {value(v)}" for k, v in m.items()]
    path.write_text("\n".join(lines) + "\n")
    restricted = load_suite(str(path))
    assert {k: restricted[k] for k in ("dataset", "seeds", "profile")} == {k: suite[k] for k in
                                                                         ("dataset", "seeds", "profile")}
    assert restricted.get("dataset_options") == suite.get("dataset_options")
    return path


@pytest.mark.parametrize("name", ["avenue", "shanghaitech"])
def test_standin_root_loads_as_the_real_dataset(name, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("VADBENCH_CACHE", str(tmp_path / "cache"))
    write_standin(name, tmp_path / "data" / name, clips)
    monkeypatch.setenv("VADBENCH_DATA", str(tmp_path / "data"))
    ds = vadbench.create_dataset(name, **load_suite(name).get("dataset_options", {}))
    assert ds.layout == ("avenue-videos" if name == "avenue" else "shanghaitech")
    assert ds.label_source == ("masks" if name == "avenue" else "frame_mask")
    assert ds.conventions == CONVENTIONS[name]
    assert [len(v) for v in ds.train] == [len(v) for v in ds.test] == [TINY["n_frames"]] * 2
    for video, y, m in zip(ds.test, clips["labels"], clips["masks"], strict=True):
        assert video.labels.tolist() == y.astype(int).tolist()
        assert (video.masks() == m).all()
        assert video.tracks_derived and len(video.tracks) >= y.sum()
    frame = ds.test.videos[0].source.frame(5, gray=True)
    assert frame.shape == (TINY["height"], TINY["width"])
    assert np.abs(frame.astype(int) - clips["test"][0][5]).mean() < 4  # MJPG / JPEG round trip
    if name == "avenue":  # the other convention reads avenue.mat, here the runs of masked frames
        intervals = vadbench.create_dataset(name, labels="intervals")
        assert [v.labels.tolist() for v in intervals.test] == [v.labels.tolist() for v in ds.test]


@pytest.mark.parametrize("name", ["avenue", "shanghaitech"])
def test_suite_runs_end_to_end_on_a_standin(name, clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VADBENCH_CACHE", str(tmp_path / "cache"))  # Avenue's mask-label cache
    monkeypatch.delenv("VADBENCH_DATA", raising=False)
    write_standin(name, tmp_path / "data" / name, clips)
    suite_file = standin_suite(name, tmp_path / f"{name}.toml")
    results, boards = tmp_path / "res", tmp_path / "lb"
    start = time.perf_counter()
    code = main(["run", "--suite", str(suite_file), "--quick", "--data-root", str(tmp_path / "data"),
                 "--results", str(results), "--leaderboards", str(boards)])
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    print(f"{name} stand-in, {len(STANDIN_MODELS)} models quick: {seconds:.1f} s")
    assert code == 0, err[-3000:]

    suite = load_suite(name)
    cells = suite_cells(load_suite(str(suite_file)), quick=True)
    assert [c.model for c in cells] == list(STANDIN_MODELS) and {c.seed for c in cells} == {0}
    store = ResultsStore(results)
    records = {r["model"]["name"]: r for r in store.records(dataset=name)}
    assert sorted(records) == sorted(STANDIN_MODELS)
    test_ids = ["01", "02"] if name == "avenue" else list(SHT_TEST)
    for model, r in records.items():
        assert r["status"] == "ok", (model, r.get("error"))
        assert r["dataset"]["root"] == str(tmp_path / "data" / name)
        assert r["dataset"]["options"] == suite.get("dataset_options", {})
        assert r["dataset"]["label_source"] == ("masks" if name == "avenue" else "frame_mask")
        metrics = r["metrics"]
        assert metrics["conventions"]["sigma"] == CONVENTIONS[name]["sigma"]
        assert metrics["conventions"]["single_class"] == CONVENTIONS[name]["single_class"]
        assert metrics["conventions"]["tracks_derived"] is True  # neither dataset ships tracks here
        assert (metrics["n_videos"], metrics["n_frames"], metrics["macro_dropped"]) == (2, 64, [])
        for key in ("micro_auc", "macro_auc", "rbdc", "tbdc"):
            assert 0.0 <= metrics[key] <= 1.0, (model, key, metrics[key])
        scores = store.load_scores(r)
        assert sorted(scores) == test_ids and all(len(s) == TINY["n_frames"] for s in scores.values())
        assert all(np.isfinite(s).all() for s in scores.values())
        assert r["speed"]["fps_e2e"] > 0
    # frames, labels and masks line up: frame differencing finds the fast movers
    motion = records["motion-diff"]["metrics"]
    assert motion["macro_auc"] > 0.95 and motion["micro_auc"] > 0.8, motion
    # every stored metric is reproduced from the stored scores and the stand-in's labels
    assert main(["eval", "--results", str(results)]) == 0, capsys.readouterr().out

    board = (boards / f"{name}.md").read_text()
    assert all(m in board for m in STANDIN_MODELS)
    manifest = json.loads((boards / f"{name}_manifest.json").read_text())
    assert manifest["suite"] == str(suite_file) and len(manifest["cells"]) == len(cells)
