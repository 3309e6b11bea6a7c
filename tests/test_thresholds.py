"""Alert thresholds calibrated out of sample: on training videos the scoring model was not fitted on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import extra_models

from vadbench import Model, Scores
from vadbench.cli import main
from vadbench.data.frames import FrameSource
from vadbench.data.video import Split, Video
from vadbench.watch import cached_fold_models, calibrate_threshold, describe_calibration, held_out_threshold


class NearestMean(Model):
    """kNN-like: memorises its training frames' mean intensities; a frame scores its distance to the
    nearest."""

    name = "toy-nearest"

    def fit(self, train, ctx) -> None:
        self.trained_on = [v.id for v in train]
        self.seen = np.concatenate([v.read(gray=True).mean((1, 2)) for v in train])

    def score(self, video) -> Scores:
        x = video.read(gray=True).mean((1, 2))
        return Scores(frame=np.abs(x[:, None] - self.seen[None, :]).min(1))

    def state_dict(self) -> dict:
        import torch

        return {"seen": torch.from_numpy(self.seen)}

    def load_state_dict(self, state: dict) -> None:
        self.seen = state["seen"].numpy()


class Student(Model):
    """Fetches its teacher through the run context, as the distilled students do, and scores as it does."""

    name = "toy-student"
    trainable = False  # fitted afresh each time: its teacher comes from the model cache

    def fit(self, train, ctx) -> None:
        self.teacher = ctx.get_model("toy-nearest")
        self.teacher_trained_on = getattr(self.teacher, "trained_on", None)  # None: reloaded

    def score(self, video) -> Scores:
        return self.teacher.score(video)


def _videos(n_videos: int, n_frames: int = 30, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    videos = [Video(f"{i:02d}",
                    FrameSource.from_array(rng.integers(0, 256, (n_frames, 6, 6), dtype=np.uint8)))
              for i in range(n_videos)]
    return Split("toy", "train", videos)


def _held_out_scores(train: Split, folds: int) -> np.ndarray:
    out = []
    for k in range(folds):
        model = NearestMean()
        model.fit([v for i, v in enumerate(train) if i % folds != k], None)
        out += [model.score(v).frame for i, v in enumerate(train) if i % folds == k]
    return np.concatenate(out)


@pytest.mark.parametrize("folds", [2, 3])
def test_a_memorising_model_gets_a_zero_threshold_in_sample_and_a_working_one_held_out(folds):
    train, rate = _videos(6), 0.1
    inside = NearestMean()
    inside.fit(train, None)
    # every training frame is its own nearest neighbour
    assert calibrate_threshold(inside, train, rate) == 0.0

    threshold, info = held_out_threshold(NearestMean, train, rate, folds=folds)
    assert threshold > 0
    held = _held_out_scores(train, folds)
    assert abs(np.mean(held > threshold) - rate) <= 0.02
    assert info == {"method": "held-out training videos", "folds": folds, "frames": 180,
                    "false_alarm_rate": rate}
    assert describe_calibration(info) == (
        f"alert threshold: 10% of held-out training frames above ({folds} folds)")


def test_held_out_scores_are_smoothed_per_video_as_the_curves_are():
    from scipy.ndimage import gaussian_filter1d

    train = _videos(4)
    plain = _held_out_scores(train, 2)
    smoothed = np.concatenate([gaussian_filter1d(s, 3.0) for s in np.split(plain, 4)])
    threshold = held_out_threshold(NearestMean, train, 0.05, sigma=3)[0]
    assert threshold == pytest.approx(np.quantile(smoothed, 0.95))


def test_one_training_video_falls_back_to_the_in_sample_quantile_and_says_so():
    train = _videos(1)
    threshold, info = held_out_threshold(NearestMean, train, 0.1)
    assert threshold == 0.0
    assert info == {"method": "in-sample (one training video)", "folds": 1, "frames": 30,
                    "false_alarm_rate": 0.1}
    assert "in sample" in describe_calibration(info)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="folds"):
        held_out_threshold(NearestMean, _videos(3), 0.1, folds=1)
    with pytest.raises(ValueError, match="false_alarm_rate"):
        held_out_threshold(NearestMean, _videos(3), 1.5)


def test_fold_fits_go_through_the_model_cache_and_fit_teachers_on_the_fold(tmp_path):
    from vadbench.data.video import Dataset
    from vadbench.model import RunContext
    from vadbench.results import ResultsStore

    train = _videos(4)
    dataset = Dataset("toy", train, Split("toy", "test", []), fingerprint="toy-1")
    store = ResultsStore(tmp_path / "res")
    ctx = RunContext(cache_dir=store.root / "cache")
    fitted = []
    with extra_models(**{"toy-nearest": NearestMean, "toy-student": Student}):
        make = cached_fold_models(store, dataset, "toy-student")

        def make_and_keep():
            fitted.append(make())
            return fitted[-1]

        threshold, info = held_out_threshold(make_and_keep, train, 0.1, ctx=ctx)
        expected, _ = held_out_threshold(NearestMean, train, 0.1)
        assert threshold == pytest.approx(expected) and info["method"] == "held-out training videos"
        # each fold's student learnt from a teacher fitted on the same fold, never on the held-out videos
        assert [m.model.teacher_trained_on for m in fitted] == [["01", "03"], ["00", "02"]]
        files = sorted(p.name for p in (store.root / "models").glob("toy-nearest__*.pt"))
        assert len(files) == 2  # one cached teacher fit per fold, beside where the main fit goes
        again = held_out_threshold(cached_fold_models(store, dataset, "toy-student"), train, 0.1, ctx=ctx)
        assert again[0] == pytest.approx(threshold)
        assert sorted(p.name for p in (store.root / "models").glob("toy-nearest__*.pt")) == files


SUITE = """
name = "tiny"
dataset = "synthetic"
seeds = [0]
dataset_options = {n_train = 2, n_test = 2, n_frames = 24, width = 96, height = 64}
profile = {batch_sizes = [1], rounds = 1, warmup = 0, e2e_rounds = 1, videos = 1}
[[models]]
name = "motion-diff"
"""


def test_curves_figure_names_how_the_threshold_was_calibrated(tmp_path, capsys):
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    res = tmp_path / "res"
    assert main(["run", "--suite", str(suite), "--results", str(res)]) == 0
    capsys.readouterr()
    out = tmp_path / "curves"
    assert main(["curves", "--results", str(res), "--dataset", "synthetic", "--models", "motion-diff",
                 "--videos", "01", "--out", str(out), "--false-alarm-rate", "0.01"]) == 0
    said = capsys.readouterr().err
    text = "alert threshold: 1% of held-out training frames above (2 folds)"
    assert "motion-diff: threshold " in said and text in said
    assert text in out.with_suffix(".svg").read_text()


def test_watch_summary_names_how_the_threshold_was_calibrated(tmp_path, capsys):
    import cv2

    from vadbench.contract import tiny_dataset

    frames = tiny_dataset(tmp_path).test[0].read()[:12]
    src = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (frames.shape[2], frames.shape[1]))
    for f in frames:
        writer.write(f)
    writer.release()
    capsys.readouterr()
    assert main(["watch", str(src), "--model", "motion-diff", "--results", str(tmp_path / "res"),
                 "--out", str(tmp_path / "watch"), "--false-alarm-rate", "0.02"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    text = "alert threshold: 2% of held-out training frames above (2 folds)"
    assert summary["threshold_calibration"] == text and text in captured.err
    assert summary["calibration"]["method"] == "held-out training videos"


@pytest.mark.parametrize("command", ["curves", "watch"])
def test_a_false_alarm_rate_outside_zero_one_is_argparses_one_line(command, capsys):
    from vadbench.cli import main

    args = {"curves": ["curves", "--dataset", "synthetic", "--models", "motion-diff"],
            "watch": ["watch", "video.avi", "--model", "motion-diff"]}[command]
    with pytest.raises(SystemExit) as e:
        main([*args, "--false-alarm-rate", "1.5"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("must lie strictly between 0 and 1, got 1.5")
