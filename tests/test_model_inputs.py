"""What a model is given and what it may return: test videos without ground truth; maps and regions
checked like frame scores; the record says where a cell's regions came from.

One tiny synthetic dataset (generated once for the module) and toy models keep the file to seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import extra_models

import vadbench
from vadbench import Scores
from vadbench.errors import PluginError
from vadbench.metrics.region import regions_from_maps
from vadbench.model import as_scores
from vadbench.results import ResultsStore
from vadbench.runner import Cell, evaluate_scores, open_dataset, run_cell

TINY = {"n_train": 2, "n_test": 2, "n_frames": 32, "width": 160, "height": 112}
PROFILE = {"batch_sizes": [1], "rounds": 1, "warmup": 0, "e2e_rounds": 1, "videos": 1}


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> str:
    return str(open_dataset("synthetic", TINY, cache_dir=tmp_path_factory.mktemp("data")).root)


def _run(model: str, root: str, tmp_path) -> tuple[dict, ResultsStore]:
    store = ResultsStore(tmp_path / "res")
    cell = Cell(model=model, dataset="synthetic", dataset_options={"root": root}, profile=PROFILE)
    with store.lock(store.cell_id(model, "synthetic", 0, {"model": {}, "dataset": {"root": root}})):
        record = run_cell(cell, store)
    return store.read(record["cell"]), store


class _Diff(vadbench.Model):
    """Frame differences pooled into 8x8-pixel cells: maps, and their maxima as frame scores."""

    trainable = False

    def fit(self, train, ctx):
        return None

    @staticmethod
    def maps(video) -> np.ndarray:
        f = video.read(gray=True).astype(np.float32)
        d = np.abs(np.diff(f, axis=0, prepend=f[:1]))
        t, h, w = d.shape
        return d[:, : h // 8 * 8, : w // 8 * 8].reshape(t, h // 8, 8, w // 8, 8).mean((2, 4))

    def score(self, video) -> Scores:
        m = self.maps(video)
        return Scores(frame=m.reshape(len(m), -1).max(1).astype(np.float64), maps=m)

    def example_input(self, batch_size=1):
        return np.zeros((batch_size, 4), np.float32)

    def forward(self, batch):
        return batch.sum(1)


SEEN: list[dict] = []


class _Blind(_Diff):
    """Refuses to score a video that still carries its ground truth."""

    def score(self, video) -> Scores:
        assert video.labels is None and video.masks() is None and video.tracks is None
        assert not video.has_masks and not video.has_tracks and not video.tracks_derived
        SEEN.append({"id": video.id, "detections": video.has_detections})
        return super().score(video)


class _Boxes(_Diff):
    """Returns scored regions itself (the very ones the runner would derive from its maps)."""

    def score(self, video) -> Scores:
        s = super().score(video)
        return Scores(frame=s.frame,
                      regions=regions_from_maps(s.maps, video.source.frame(0, gray=True).shape))


class _FrameOnly(_Diff):
    def score(self, video) -> Scores:
        return Scores(frame=super().score(video).frame)


# --------------------------------------------------------------------------- A: no ground truth


def test_models_score_test_videos_without_their_ground_truth(synthetic_root, tmp_path):
    SEEN.clear()
    with extra_models(**{"toy-blind": _Blind, "toy-plain": _Diff}):
        blind, store = _run("toy-blind", synthetic_root, tmp_path / "a")
        plain, plain_store = _run("toy-plain", synthetic_root, tmp_path / "b")
    assert blind["status"] == "ok", blind["error"]
    assert plain["status"] == "ok", plain["error"]
    assert blind["speed"]["fps_e2e"] > 0  # the profiler's end-to-end pass got the label-free videos too
    assert {s["id"] for s in SEEN} == {"01", "02"} and all(s["detections"] for s in SEEN)  # detections kept
    a, b = store.load_scores(blind), plain_store.load_scores(plain)
    assert sorted(a) == sorted(b) == ["01", "02"]
    for vid in a:
        np.testing.assert_array_equal(a[vid], b[vid])
    assert blind["metrics"]["micro_auc"] == plain["metrics"]["micro_auc"]
    assert blind["metrics"]["rbdc"] == plain["metrics"]["rbdc"] is not None


def test_the_contract_check_gives_models_label_free_test_videos(tmp_path):
    from vadbench.contract import check_model

    with extra_models(**{"toy-blind": _Blind}):
        assert check_model("toy-blind", tmp_path)["fps_e2e"] > 0


def test_the_unlabelled_view_keeps_frames_meta_and_detections(synthetic_root):
    dataset = open_dataset("synthetic", {"root": synthetic_root})
    video = dataset.test[0]
    view = video.unlabelled()
    assert video.labels is not None and video.has_masks and video.has_tracks  # the original is untouched
    assert (view.id, view.source, view.meta, len(view)) == (video.id, video.source, video.meta, len(video))
    assert view.meta is not video.meta
    np.testing.assert_array_equal(view.detections(), video.detections())
    assert view.labels is None and view.masks() is None and view.tracks is None and not view.tracks_derived
    assert all(v.labels is None for v in dataset.train)  # training videos never carried labels


# --------------------------------------------------------------------------- C: maps and regions are checked


def _bad(kind: str):
    def score(self, video) -> Scores:
        s = _Diff.score(self, video)
        n = len(video)
        if kind == "map frames":
            return Scores(frame=s.frame, maps=np.concatenate([s.maps, s.maps[:1]]))
        if kind == "map nan":
            s.maps[3, 1, 1] = np.nan
            return s
        if kind == "region frame":
            return Scores(frame=s.frame, regions=np.array([[0, 1, 1, 5, 5, 0.5], [n, 1, 1, 5, 5, 0.5]]))
        return Scores(frame=s.frame, regions=np.array([[2, 9, 1, 5, 5, 0.5]]))  # x_max < x_min

    return type(f"_Bad{kind.title().replace(' ', '')}", (_Diff,), {"score": score})


BAD = {"map frames": "returned maps of 33 frames for 32 frames",
       "map nan": "returned maps with 1 NaN or infinite values",
       "region frame": "returned 1 regions whose frame is outside 0..31",
       "region inverted": "returned 1 regions with x_max < x_min or y_max < y_min"}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_maps_or_regions_fail_the_cell_in_one_line_naming_model_and_video(kind, synthetic_root, tmp_path):
    with extra_models(**{"toy-bad": _bad(kind)}):
        record, store = _run("toy-bad", synthetic_root, tmp_path)
    assert record["status"] == "failed"
    error = record["error"]
    assert "\n" not in error and "traceback" not in record  # a PluginError: one line, no traceback
    assert error.startswith("PluginError: model toy-bad on video 01: ") and BAD[kind] in error, error
    assert store.records()[0]["error"] == error


@pytest.mark.parametrize(("result", "message"), [
    (Scores(np.zeros(4), maps=np.zeros((3, 2, 2))), "returned maps of 3 frames for 4 frames"),
    (Scores(np.zeros(4), maps=np.zeros((4, 4))), "returned maps of shape (4, 4), not (frames, h, w)"),
    (Scores(np.zeros(4), maps=np.full((4, 2, 2), np.inf)), "returned maps with 16 NaN or infinite values"),
    (Scores(np.zeros(4), regions=[[-1, 0, 0, 1, 1, 0.5]]), "returned 1 regions whose frame is outside 0..3"),
    (Scores(np.zeros(4), regions=[[4, 0, 0, 1, 1, 0.5]]), "returned 1 regions whose frame is outside 0..3"),
    (Scores(np.zeros(4), regions=[[0, 0, 0, 1, 1, np.nan]]),
     "returned 1 regions with NaN or infinite values"),
    (Scores(np.zeros(4), regions=[[0, 0, 3, 1, 1, 0.5]]),
     "returned 1 regions with x_max < x_min or y_max < y_min"),
    (Scores(np.zeros(4), regions=[[0, 0, 0, 1, 1]]), "returned regions of shape (1, 5), not rows"),
])
def test_as_scores_refuses_bad_maps_and_regions(result, message):
    with pytest.raises(PluginError) as info:
        as_scores(result, 4, "model m on video v")
    text = str(info.value)
    assert text.startswith("model m on video v: ") and message in text and "\n" not in text


def test_as_scores_keeps_good_maps_and_regions_as_given():
    maps = np.random.default_rng(0).random((4, 2, 2)).astype(np.float32)
    regions = np.array([[3, 0, 0, 0, 0, 1.0]])
    r = as_scores(Scores(np.arange(4), maps=maps, regions=regions), 4, "m")
    assert r.maps is maps and r.regions is regions  # values (and objects) untouched
    assert as_scores(Scores(np.zeros(2), regions=np.zeros((0, 6))), 2, "m").regions.shape == (0, 6)


# --------------------------------------------------------------------------- C: where the regions came from


def test_the_record_says_where_its_regions_came_from(synthetic_root, tmp_path):
    with extra_models(**{"toy-maps": _Diff, "toy-boxes": _Boxes, "toy-frames": _FrameOnly}):
        maps, maps_store = _run("toy-maps", synthetic_root, tmp_path / "m")
        boxes, _ = _run("toy-boxes", synthetic_root, tmp_path / "b")
        frames, _ = _run("toy-frames", synthetic_root, tmp_path / "f")
    assert [r["status"] for r in (maps, boxes, frames)] == ["ok"] * 3
    assert maps["metrics"]["region_source"] == "maps"
    assert boxes["metrics"]["region_source"] == "model"
    assert frames["metrics"]["region_source"] is None and frames["metrics"]["rbdc"] is None
    # the same regions give the same metrics whoever made them; recording the source changes no value
    assert maps["metrics"]["rbdc"] == boxes["metrics"]["rbdc"] is not None
    assert maps["metrics"]["tbdc"] == boxes["metrics"]["tbdc"]
    dataset = open_dataset("synthetic", {"root": synthetic_root})
    recomputed = evaluate_scores(dataset, maps_store.load_scores(maps), maps_store.load_regions(maps), seed=0)
    assert {k: v for k, v in maps["metrics"].items() if k != "region_source"} == recomputed
