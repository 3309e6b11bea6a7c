"""Hand-computed cases for the frame-level metrics (AUC variants, curves, bootstrap, evaluate)."""

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from sklearn.metrics import average_precision_score, roc_auc_score

from vadbench.metrics import (
    average_precision,
    bootstrap_ci,
    equal_error_rate,
    evaluate,
    frame_auc,
    frame_auc_details,
    partial_auc,
    prepare_scores,
)

SCORES = [np.array([0.1, 0.2, 0.9, 0.8, 0.3]), np.array([0.05, 0.7, 0.6]), np.array([0.4, 0.2])]
LABELS = [np.array([0, 0, 1, 1, 0]), np.array([0, 1, 1]), np.array([0, 0])]


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_perfect_scorer_is_one_and_inverted_is_zero(average):
    assert frame_auc(SCORES, LABELS, average=average) == 1.0
    assert frame_auc([-s for s in SCORES], LABELS, average=average) == 0.0


def test_micro_equals_sklearn_on_concatenation():
    rng = np.random.default_rng(1)
    scores = [rng.integers(0, 5, n).astype(float) for n in (7, 12, 3)]  # many ties
    labels = [rng.integers(0, 2, s.size) for s in scores]
    expected = roc_auc_score(np.concatenate(labels), np.concatenate(scores))
    assert frame_auc(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_micro_with_conventions_equals_sklearn_on_processed_videos():
    rng = np.random.default_rng(2)
    scores = [rng.normal(size=n) for n in (30, 25, 40)]
    labels = [(rng.random(s.size) < 0.3).astype(int) for s in scores]
    processed = []
    for s in scores:
        x = gaussian_filter1d(s[4:], 3.0)
        processed.append((x - x.min()) / (x.max() - x.min()))
    expected = roc_auc_score(np.concatenate([y[4:] for y in labels]), np.concatenate(processed))
    got = frame_auc(scores, labels, sigma=3.0, normalize="minmax", skip_first=4)
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("transform",
                         [np.exp, np.arctan, lambda x: 7 * x ** 3 - 2, lambda x: np.floor(x * 100)])
def test_micro_is_invariant_to_monotone_transforms(transform):
    rng = np.random.default_rng(3)
    scores = [np.round(rng.uniform(-2, 2, n), 2) for n in (20, 15)]
    labels = [rng.integers(0, 2, s.size) for s in scores]
    assert frame_auc([transform(s) for s in scores], labels) == pytest.approx(frame_auc(scores, labels),
                                                                              abs=1e-12)


# Video 0 has AUC 0 (both anomalous frames score below the normal one); video 1 is all normal.
POLICY_SCORES = [[0.5, 0.2, 0.4], [0.1, 0.3]]
POLICY_LABELS = [[0, 1, 1], [0, 0]]


@pytest.mark.parametrize("policy, expected", [
    ("drop", 0.0),        # mean over video 0 only
    ("one", 0.5),         # (0 + 1) / 2
    # pad: video 0 -> pos {0.2, 0.4, +inf} vs neg {-inf, 0.5}: 4 of 6 pairs right = 2/3;
    # video 1 -> pos {+inf} vs neg {-inf, 0.1, 0.3}: 1; mean (2/3 + 1) / 2 = 5/6
    ("pad", 5 / 6),
])
def test_single_class_policies(policy, expected):
    assert frame_auc(POLICY_SCORES, POLICY_LABELS, average="macro",
                     single_class=policy) == pytest.approx(expected)
    # micro ignores the policy: 3 of 2*3 pairs right (0.2 and 0.4 beat 0.1; 0.4 beats 0.3)
    assert frame_auc(POLICY_SCORES, POLICY_LABELS, single_class=policy) == pytest.approx(3 / 6)


def test_single_class_raise_names_the_video():
    with pytest.raises(ValueError, match=r"'b'.*only normal"):
        frame_auc_details(POLICY_SCORES, POLICY_LABELS, average="macro", single_class="raise",
                          video_ids=["a", "b"])


def test_drop_reports_dropped_videos():
    r = frame_auc_details(POLICY_SCORES, POLICY_LABELS, average="macro", video_ids=["a", "b"])
    assert (r.value, r.dropped, r.n_dropped, r.per_video) == (0.0, ["b"], 1, [0.0, None])


def test_pad_is_strictly_outside_even_for_extreme_scores():
    scores = [[1e308, -1e308, 1e308]]
    labels = [[1, 1, 1]]
    # every real frame sits between the padded normal (-inf) and anomalous (+inf) frames
    assert frame_auc([*scores, [0.0, 1.0]], [*labels, [0, 1]], average="macro", single_class="pad") == 1.0


def test_smoothing_never_crosses_video_boundaries():
    a, b = np.array([0.0, 0.0, 0.0, 5.0]), np.array([9.0, 9.0, 0.0])
    s, _ = prepare_scores([a, b], sigma=2.0)
    np.testing.assert_allclose(s[0], gaussian_filter1d(a, 2.0))
    np.testing.assert_allclose(s[1], gaussian_filter1d(b, 2.0))
    # smoothing the concatenation would have mixed them:
    assert not np.allclose(gaussian_filter1d(np.concatenate([a, b]), 2.0)[:4], s[0])
    # and the AUC uses the per-video smoothing
    labels = [[0, 0, 0, 1], [1, 0, 0]]
    expected = roc_auc_score(np.concatenate(labels), np.concatenate(s))
    assert frame_auc([a, b], labels, sigma=2.0) == pytest.approx(expected)


def test_minmax_normalisation_and_constant_video():
    s, _ = prepare_scores([[2.0, 4.0, 3.0], [7.0, 7.0]], normalize="minmax")
    assert s[0].tolist() == [0.0, 1.0, 0.5] and s[1].tolist() == [0.0, 0.0]


def test_skip_first_drops_frames_and_empty_videos_are_left_out():
    scores = [[9.0, 9.0, 0.1, 0.8], [9.0, 9.0]]
    labels = [[1, 0, 0, 1], [1, 1]]
    assert frame_auc(scores, labels) == 0.6875  # ties with the placeholders: 5.5 of 8 pairs
    assert frame_auc(scores, labels, skip_first=2) == 1.0   # the 9.0 placeholders are gone
    r = frame_auc_details(scores, labels, average="macro", skip_first=2, single_class="pad")
    assert r.dropped == [1] and r.value == 1.0   # no frame left in video 1


def test_single_array_is_one_video():
    assert frame_auc(np.array([0.1, 0.9]), np.array([0, 1])) == 1.0
    assert frame_auc([0.1, 0.9], [0, 1], average="macro") == 1.0


@pytest.mark.parametrize("scores, labels, match", [
    ([[0.1, 0.2]], [[0, 0]], "one class"),
    ([[0.1, 0.2], [0.3]], [[0, 1], [0, 1]], "1 scores but 2 labels"),
    ([[0.1, np.nan]], [[0, 1]], "NaN"),
    ([[0.1, np.inf]], [[0, 1]], "NaN or infinite"),
    ([[0.1, 0.2]], [[0, 2]], "0 \\(normal\\) or 1"),
    ([[0.1, 0.2]], [[0, 1], [0, 1]], "1 videos of scores but 2"),
    ([], [], "no videos"),
])
def test_clear_errors_for_undefined_input(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        frame_auc(scores, labels)


@pytest.mark.parametrize("kwargs", [{"average": "weighted"}, {"single_class": "nan"}, {"normalize": "z"},
                                    {"sigma": -1}, {"skip_first": -1}])
def test_unknown_options_raise(kwargs):
    with pytest.raises(ValueError):
        frame_auc(SCORES, LABELS, **kwargs)


def test_macro_undefined_when_every_video_is_single_class():
    with pytest.raises(ValueError, match="every video"):
        frame_auc([[0.1, 0.2], [0.9]], [[0, 0], [1]], average="macro")


def test_equal_error_rate():
    assert equal_error_rate(SCORES, LABELS) == 0.0
    assert equal_error_rate([-s for s in SCORES], LABELS) == 1.0
    # ROC (0, .5) -> (.5, .5) -> (.5, 1): the line FPR = 1 - TPR is crossed at FPR 0.5
    assert equal_error_rate([[0.1, 0.4, 0.35, 0.8]], [[0, 0, 1, 1]]) == 0.5
    # ROC (0, 0) -> (0, 1/3) -> (1/2, 1/3) -> (1/2, 2/3) -> (1/2, 1) -> (1, 1): FPR + TPR = 1 is
    # crossed on the vertical segment at FPR 1/2 (FNR falls from 2/3 to 1/3 there), so EER = 1/2.
    assert equal_error_rate([[0.9, 0.5, 0.3, 0.2, 0.1]], [[1, 0, 1, 1, 0]]) == pytest.approx(0.5)


def test_average_precision_and_partial_auc_match_sklearn():
    rng = np.random.default_rng(4)
    scores = [rng.normal(size=n) for n in (40, 30)]
    labels = [(rng.random(s.size) < 0.4).astype(int) for s in scores]
    y, s = np.concatenate(labels), np.concatenate(scores)
    assert average_precision(scores, labels) == pytest.approx(average_precision_score(y, s))
    assert partial_auc(scores, labels, max_fpr=0.1) == pytest.approx(roc_auc_score(y, s, max_fpr=0.1))
    assert partial_auc(scores, labels, max_fpr=1.0) == pytest.approx(roc_auc_score(y, s))
    assert partial_auc(SCORES, LABELS) == 1.0


def test_bootstrap_resamples_whole_videos():
    # alone each video is perfect (1.0); together 3 of 4 pairs are right (0.75). Resampling whole
    # videos can only give 1.0 (one video drawn twice) or 0.75 (both drawn), about half each.
    scores, labels = [[0.0, 1.0], [10.0, 11.0]], [[0, 1], [0, 1]]
    assert frame_auc(scores, labels) == 0.75
    assert bootstrap_ci(scores, labels, n_boot=400, seed=0) == (0.75, 1.0)


def test_bootstrap_is_seeded_and_skips_single_class_resamples():
    scores = [[0.1, 0.9], [0.2, 0.3], [0.4, 0.1], [0.6, 0.2]]
    labels = [[0, 1], [0, 0], [0, 0], [0, 0]]  # most resamples miss video 0
    a = bootstrap_ci(scores, labels, n_boot=100, seed=7)
    assert a == bootstrap_ci(scores, labels, n_boot=100, seed=7)
    assert 0.0 <= a[0] <= a[1] <= 1.0
    lo, hi = bootstrap_ci(scores, labels, average="macro", n_boot=100, seed=7)
    assert lo == hi == 1.0   # only video 0 has both classes; the others are dropped


def test_evaluate_record_is_flat_json_and_complete():
    gt = [(0, 0, 2, 0, 0, 9, 9)]
    pred = [(0, 2, 0, 0, 9, 9, 0.9)]
    r = evaluate(SCORES, LABELS, video_ids=["a", "b", "c"], sigma=1.0, bootstrap=20, seed=3,
                 pred_regions=pred, gt_tracks=gt)
    assert set(r) == {"micro_auc", "micro_auc_minmax", "macro_auc", "micro_auc_ci", "macro_auc_ci", "ap",
                      "eer", "pauc_0.1", "rbdc", "tbdc", "n_videos", "n_frames", "macro_dropped",
                      "conventions"}
    json.dumps(r, allow_nan=False)
    for k in ("micro_auc", "macro_auc", "ap", "eer", "pauc_0.1", "rbdc", "tbdc"):
        assert type(r[k]) is float
    assert all(type(v) is float for v in r["micro_auc_ci"] + r["macro_auc_ci"])
    assert r["macro_dropped"] == ["c"] and r["n_videos"] == 3 and r["n_frames"] == 10
    assert (r["rbdc"], r["tbdc"]) == (1.0, 1.0)
    c = r["conventions"]
    assert c["sigma"] == 1.0 and c["bootstrap_n"] == 20 and c["bootstrap_seed"] == 3
    # the runner records the region source, beside the metrics
    assert "region_source" not in c and c["rbdc_num_frames"] == 10
    assert {"normalize", "skip_first", "single_class", "iou_threshold", "track_fraction", "max_fp_per_frame",
            "tracks_derived"} <= set(c)
    assert r["micro_auc"] == frame_auc(SCORES, LABELS, sigma=1.0)
    assert r["micro_auc_minmax"] == frame_auc(SCORES, LABELS, sigma=1.0, normalize="minmax")


def test_evaluate_without_regions_or_bootstrap():
    r = evaluate(SCORES, LABELS, bootstrap=0)
    assert r["rbdc"] is None and r["tbdc"] is None and r["micro_auc_ci"] is None
    assert r["macro_dropped"] == [2] and r["conventions"]["rbdc_num_frames"] is None
