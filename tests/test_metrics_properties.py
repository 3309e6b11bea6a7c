"""Property-based tests (hypothesis) of the metrics over random videos, boxes and scores."""

import random

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from vadbench.metrics import (
    average_precision,
    bootstrap_ci,
    equal_error_rate,
    frame_auc,
    link_tracks,
    partial_auc,
    prepare_scores,
    rbdc_tbdc,
    regions_from_maps,
)

FAST = settings(max_examples=60, deadline=None, database=None)

# scores drawn from a small grid so that ties are frequent
score = st.integers(-20, 20).map(lambda i: i / 4)
video = st.integers(1, 12).flatmap(
    lambda n: st.tuples(st.lists(score, min_size=n, max_size=n),
                        st.lists(st.integers(0, 1), min_size=n, max_size=n)))
videos = st.lists(video, min_size=1, max_size=6).map(lambda vs: ([np.array(s) for s, _ in vs],
                                                                 [np.array(y) for _, y in vs]))


def _both_classes(labels):
    y = np.concatenate(labels)
    return 0 < y.sum() < y.size


@FAST
@given(videos)
def test_micro_matches_sklearn_and_is_symmetric(data):
    s, y = data
    assume(_both_classes(y))
    auc = frame_auc(s, y)
    assert 0.0 <= auc <= 1.0
    assert auc == pytest.approx(roc_auc_score(np.concatenate(y), np.concatenate(s)), abs=1e-12)
    assert frame_auc([-v for v in s], y) == pytest.approx(1 - auc, abs=1e-12)       # inverted scores
    assert frame_auc([-v for v in s], [1 - v for v in y]) == pytest.approx(auc, abs=1e-12)  # swap classes
    assert frame_auc([np.exp(v) * 3 + 1 for v in s], y) == pytest.approx(auc, abs=1e-12)  # monotone map


@FAST
@given(videos, st.sampled_from(["drop", "pad", "one"]), st.randoms(use_true_random=False))
def test_macro_bounds_and_video_order_invariance(data, policy, rnd):
    s, y = data
    assume(_both_classes(y))
    try:
        auc = frame_auc(s, y, average="macro", single_class=policy)
    except ValueError as e:           # only "drop" with no two-class video is undefined
        assert policy == "drop" and "every video" in str(e)
        return
    assert 0.0 <= auc <= 1.0
    order = list(range(len(s)))
    rnd.shuffle(order)
    shuffled = frame_auc([s[i] for i in order], [y[i] for i in order], average="macro", single_class=policy)
    assert shuffled == pytest.approx(auc, abs=1e-12)
    assert frame_auc([s[i] for i in order], [y[i] for i in order]) == pytest.approx(frame_auc(s, y),
                                                                                    abs=1e-12)


@FAST
@given(videos, st.sampled_from([None, 0.5, 2.0]), st.sampled_from([None, "minmax"]), st.integers(0, 3))
def test_conventions_act_per_video_and_curves_are_bounded(data, sigma, normalize, skip):
    s, y = data
    out, lab = prepare_scores(s, y, sigma=sigma, normalize=normalize, skip_first=skip)
    for v, o, b in zip(s, out, lab, strict=True):   # each video processed alone gives the same result
        alone, _ = prepare_scores([v], sigma=sigma, normalize=normalize, skip_first=skip)
        np.testing.assert_array_equal(alone[0], o)
        assert o.size == b.size == max(v.size - skip, 0)
        if normalize and o.size:
            assert o.min() >= 0 and o.max() <= 1
    assume(_both_classes(lab))
    kw = {"sigma": sigma, "normalize": normalize, "skip_first": skip}
    for value in (frame_auc(s, y, **kw), equal_error_rate(s, y, **kw), average_precision(s, y, **kw),
                  partial_auc(s, y, **kw)):
        assert 0.0 <= value <= 1.0
    lo, hi = bootstrap_ci(s, y, n_boot=30, **kw)
    assert 0.0 <= lo <= hi <= 1.0


# ---- regions -------------------------------------------------------------------------------

N_FRAMES = 6
coord = st.integers(0, 30)


@st.composite
def box(draw):
    x0, y0 = draw(coord), draw(coord)
    return x0, y0, x0 + draw(st.integers(0, 12)), y0 + draw(st.integers(0, 12))


gt_rows = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, N_FRAMES - 1), box()),
                   min_size=1, max_size=10).map(lambda rs: [(v, t, f, *b) for v, t, f, b in rs])
pred_rows = st.lists(st.tuples(st.integers(0, 1), st.integers(0, N_FRAMES - 1), box(), st.integers(0, 50)),
                     max_size=15).map(lambda rs: [(v, f, *b, s / 10) for v, f, b, s in rs])
region_kw = st.fixed_dictionaries({"iou_threshold": st.sampled_from([0.1, 0.5]),
                                   "track_fraction": st.sampled_from([0.1, 0.5, 1.0]),
                                   "max_fp_per_frame": st.sampled_from([0.5, 1.0, 2.0])})


@FAST
@given(pred_rows, gt_rows, region_kw)
def test_rbdc_tbdc_bounds_and_monotone_in_low_scored_additions(pred, gt, kw):
    # frames and whole videos without GT or predictions are common here ("empty frames")
    r, t = rbdc_tbdc(pred, gt, 2 * N_FRAMES, **kw)
    assert 0.0 <= r <= 1.0 and 0.0 <= t <= 1.0
    # a prediction scored below all others only appends a point at the end of the sweep:
    # it can add a hit (area grows) or a false positive (area unchanged)
    for extra in [(0, 0, 0, 0, 40, 40, -1.0), (1, 3, 200, 200, 210, 210, -1.0)]:
        r2, t2 = rbdc_tbdc([*pred, extra], gt, 2 * N_FRAMES, **kw)
        assert r2 >= r - 1e-12 and t2 >= t - 1e-12


@FAST
@given(pred_rows, gt_rows, st.randoms(use_true_random=False))
@example(pred=[(0, 0, 0, 0, 0, 0, 0.0)] * 12 + [(0, 0, 0, 0, 0, 1, 0.0)], gt=[(0, 0, 0, 0, 0, 0, 10)],
         rnd=random.Random(0))   # FP count up to the axis end: exactly 1.0, not 0.999..
def test_rbdc_tbdc_row_order_invariant_without_ties_and_perfect_on_top(pred, gt, rnd):
    pred = [(*p[:6], p[6] + i * 1e-6) for i, p in enumerate(pred)]   # distinct scores
    shuffled = pred[:]
    rnd.shuffle(shuffled)
    assert rbdc_tbdc(shuffled, gt, N_FRAMES) == rbdc_tbdc(pred, gt, N_FRAMES)
    perfect = [(v, f, x0, y0, x1, y1, 100.0) for v, _, f, x0, y0, x1, y1 in gt]
    assert rbdc_tbdc(perfect + pred, gt, N_FRAMES) == (1.0, 1.0)


@FAST
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.data())
def test_regions_from_maps_boxes_lie_in_frame(t, h, w, data):
    maps = np.array(data.draw(st.lists(st.integers(-2, 4), min_size=t * h * w, max_size=t * h * w)),
                    np.float32).reshape(t, h, w)
    H, W = 2 * h + 1, 3 * w
    rows = regions_from_maps(maps, (H, W))
    assert rows.shape[1] == 6
    assert len({tuple(r) for r in rows}) == len(rows)          # no duplicate boxes
    if len(rows):
        assert (rows[:, 1] >= 0).all() and (rows[:, 3] < W).all() and (rows[:, 1] <= rows[:, 3]).all()
        assert (rows[:, 2] >= 0).all() and (rows[:, 4] < H).all() and (rows[:, 2] <= rows[:, 4]).all()
        assert (rows[:, 5] > 0).all() and (rows[:, 5] <= maps.max() + 1e-6).all()
    assert set(rows[:, 0].astype(int)) <= {i for i in range(t) if maps[i].max() > 0}


@FAST
@given(st.lists(st.tuples(st.integers(0, 5), box()), max_size=12), st.integers(1, 3))
def test_link_tracks_partitions_regions(regions, max_gap):
    rows = [(f, *b) for f, b in regions]
    out = link_tracks(rows, max_gap=max_gap)
    assert sorted(map(tuple, out[:, 1:].tolist())) == sorted(map(tuple, rows))
    for tid in set(out[:, 0].tolist()):
        frames = out[out[:, 0] == tid, 1]
        assert len(set(frames.tolist())) == len(frames)            # one region per frame per track
        assert (np.diff(frames) >= 1).all() and (np.diff(frames) <= max_gap).all()
