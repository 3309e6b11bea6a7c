"""Hand-computed cases for RBDC/TBDC and the region/track helpers."""

import numpy as np
import pytest

from vadbench.metrics import box_iou, link_tracks, rbdc_tbdc, regions_from_maps, regions_from_masks


def _one_track(n_frames=10, video=0, track=0):
    """One GT track with one 10x10 region in each of ``n_frames`` frames."""
    return [(video, track, f, 10, 10, 19, 19) for f in range(n_frames)]


def _fp(frame, score, video=0):
    return (video, frame, 100, 100, 109, 109, score)


def _tp(frame, score, video=0):
    return (video, frame, 10, 10, 19, 19, score)


def test_iou_uses_inclusive_pixels():
    assert box_iou([3, 3, 3, 3], [[3, 3, 3, 3]]).tolist() == [1.0]    # a one-pixel box has area 1
    assert box_iou([0, 0, 9, 9], [[0, 0, 4, 9]]).tolist() == [0.5]    # 50 of 100 pixels
    assert box_iou([0, 0, 9, 9], [[10, 0, 19, 9]]).tolist() == [0.0]  # adjacent, no shared pixel


def test_perfect_detector_gives_one():
    gt = _one_track(5) + [("b", 3, f, 0, 0, 4, 4) for f in range(2, 6)] + [("b", 7, 4, 30, 30, 40, 35)]
    pred = [(v, f, x0, y0, x1, y1, 1.0) for v, _, f, x0, y0, x1, y1 in gt]
    assert rbdc_tbdc(pred, gt, num_frames=20) == (1.0, 1.0)


@pytest.mark.parametrize("pred", [[], np.empty((0, 7)), None])
def test_no_predictions_give_zero(pred):
    assert rbdc_tbdc(pred, _one_track(), num_frames=10) == (0.0, 0.0)


def test_only_false_positives_one_per_frame_give_zero():
    assert rbdc_tbdc([_fp(f, 0.5) for f in range(10)], _one_track(), num_frames=10) == (0.0, 0.0)


def test_one_false_positive_per_frame_outranking_the_hit():
    # 10 frames, one track with one region per frame. In every frame k a false positive (score
    # 100 - 2k) outranks a perfect hit (99 - 2k), and frame k outranks frame k + 1. The sweep is
    # FP_0, TP_0, FP_1, TP_1, ...; after FP_k the point is (FPR (k+1)/10, RBDR k/10), after TP_k
    # (FPR (k+1)/10, RBDR (k+1)/10): a staircase whose step over [k/10, (k+1)/10] has height k/10.
    #   RBDC = sum_k 0.1 * k/10 = 0.1 * 4.5 = 0.45
    # The track is detected at its first hit (10% of 10 regions = 1), at FPR 0.1: TBDC = 0.9.
    # With track_fraction 0.5 it needs 5 hits, reached at TP_4 at FPR 0.5: TBDC = 0.5.
    pred = [r for k in range(10) for r in (_fp(k, 100 - 2 * k), _tp(k, 99 - 2 * k))]
    assert rbdc_tbdc(pred, _one_track(), 10) == pytest.approx((0.45, 0.9))
    assert rbdc_tbdc(pred, _one_track(), 10, track_fraction=0.5) == pytest.approx((0.45, 0.5))
    # Hit before false positive in every frame: heights (k+1)/10 -> RBDC 0.55, TBDC 1.
    pred = [r for k in range(10) for r in (_fp(k, 99 - 2 * k), _tp(k, 100 - 2 * k))]
    assert rbdc_tbdc(pred, _one_track(), 10) == pytest.approx((0.55, 1.0))


def test_max_fp_per_frame_cuts_and_normalises_the_axis():
    # same staircase as above, cut at 0.5 FP per frame: area 0.1 * (0 + .1 + .2 + .3 + .4) = 0.1,
    # divided by 0.5 -> 0.2; TBDC: 1 from FPR 0.1 to 0.5 -> 0.4 / 0.5 = 0.8
    pred = [r for k in range(10) for r in (_fp(k, 100 - 2 * k), _tp(k, 99 - 2 * k))]
    assert rbdc_tbdc(pred, _one_track(), 10, max_fp_per_frame=0.5) == pytest.approx((0.2, 0.8))


def test_curve_is_extended_flat_to_the_end_of_the_axis():
    # one false positive first (FPR 0.1), then all 10 hits: RBDR 1 from FPR 0.1 on -> 0.9
    pred = [_fp(0, 1.0)] + [_tp(k, 0.5) for k in range(10)]
    assert rbdc_tbdc(pred, _one_track(), 10) == pytest.approx((0.9, 0.9))
    # only 5 of 10 regions hit, no false positive at all: flat at 0.5 over the whole axis
    assert rbdc_tbdc([_tp(k, 0.5) for k in range(5)], _one_track(), 10) == pytest.approx((0.5, 1.0))


def test_rehit_of_detected_region_is_neither_hit_nor_false_positive():
    # GT regions in frames 0 and 1; the duplicate of the frame-0 hit comes before the frame-1 hit.
    # Counted as a false positive it would give (0,0) (0,.5) (.1,.5) (.1,1) -> 0.95; it must not.
    gt = _one_track(2)
    pred = [_tp(0, 0.9), _tp(0, 0.8), _tp(1, 0.7)]
    assert rbdc_tbdc(pred, gt, num_frames=10) == (1.0, 1.0)


def test_one_prediction_can_hit_several_regions():
    gt = [(0, 0, 0, 0, 0, 9, 9), (0, 1, 0, 10, 0, 19, 9)]
    assert rbdc_tbdc([(0, 0, 0, 0, 19, 9, 1.0)], gt, num_frames=1) == (1.0, 1.0)  # IoU 0.5 with each


def test_iou_threshold_is_inclusive_and_videos_are_kept_apart():
    gt = [(0, 0, 0, 0, 0, 9, 9)]
    # box of 10 pixels inside the 100-pixel region: IoU exactly 0.1 -> hit
    assert rbdc_tbdc([(0, 0, 0, 0, 9, 0, 1.0)], gt, num_frames=1) == (1.0, 1.0)
    assert rbdc_tbdc([(0, 0, 0, 0, 8, 0, 1.0)], gt, num_frames=1) == (0.0, 0.0)
    # same frame and box in another video is a false positive
    assert rbdc_tbdc([(1, 0, 0, 0, 9, 9, 1.0)], gt, num_frames=1) == (0.0, 0.0)


def test_ties_keep_input_order():
    gt = [(0, 0, 0, 10, 10, 19, 19)]
    assert rbdc_tbdc([_tp(0, 0.5), _fp(0, 0.5)], gt, num_frames=1) == (1.0, 1.0)
    assert rbdc_tbdc([_fp(0, 0.5), _tp(0, 0.5)], gt, num_frames=1) == (0.0, 0.0)


def test_string_video_ids_and_track_ids_per_video():
    gt = [("01_0014", 0, 5, 0, 0, 9, 9), ("01_0015", 0, 5, 0, 0, 9, 9)]  # two tracks, both id 0
    pred = [("01_0014", 5, 0, 0, 9, 9, 1.0)]
    assert rbdc_tbdc(pred, gt, num_frames=2) == (0.5, 0.5)


@pytest.mark.parametrize("pred, gt, num_frames, match", [
    ([_tp(0, 1)], [], 10, "gt_tracks is empty"),
    ([_tp(0, 1)], _one_track(), 0, "num_frames"),
    ([(0, 0, 5, 5, 4, 9, 1.0)], _one_track(), 10, "x_max < x_min"),
    ([(0, 0, 5, 5, 9, 9)], _one_track(), 10, "rows of 7"),
    ([(0, 0, 5, 5, 9, 9, np.nan)], _one_track(), 10, "NaN"),
])
def test_rbdc_errors(pred, gt, num_frames, match):
    with pytest.raises(ValueError, match=match):
        rbdc_tbdc(pred, gt, num_frames)


def test_regions_from_maps_at_frame_size():
    m = np.zeros((3, 4, 6), np.float32)
    m[0, 1:3, 1:3] = 1.0         # a plateau: the same box at every level, kept once
    m[0, 1, 4] = 0.75            # >= 0.5 * max only
    m[1] = -1.0                  # max <= 0: no region
    m[2, 3, 5] = 2.0
    rows = regions_from_maps(m, (4, 6), levels=(0.5, 0.7, 0.9), frame_indices=[10, 11, 12])
    assert rows.tolist() == [[10, 1, 1, 2, 2, 1.0], [10, 4, 1, 4, 1, 0.75], [12, 5, 3, 5, 3, 2.0]]


def test_regions_from_maps_upsamples_and_scores_by_max_in_box():
    m = np.zeros((1, 2, 2), np.float32)
    m[0, 0, 0] = 1.0
    # INTER_LINEAR 2x2 -> 4x4 gives first rows [1, .75, .25, 0] and [.75, .5625, .1875, 0]:
    # >= 0.5 is the 2x2 corner, >= 0.9 the corner pixel
    rows = regions_from_maps(m, (4, 4), levels=(0.5, 0.9))
    assert rows.tolist() == [[0, 0, 0, 1, 1, 1.0], [0, 0, 0, 0, 0, 1.0]]
    # box scores are the maximum inside the box, from the upsampled map
    m = np.zeros((1, 1, 4), np.float32)
    m[0, 0, 1], m[0, 0, 3] = 0.5, 1.0
    rows = regions_from_maps(m, (1, 4), levels=(0.5,), connectivity=4)
    assert rows[:, 5].tolist() == [0.5, 1.0]


def test_regions_from_masks_and_connectivity():
    masks = np.zeros((3, 5, 5), bool)
    masks[0, 0, 0] = masks[0, 1, 1] = True    # diagonal neighbours
    masks[2, 2:4, 1:5] = True
    assert regions_from_masks(masks).tolist() == [[0, 0, 0, 1, 1], [2, 1, 2, 4, 3]]
    assert regions_from_masks(masks, connectivity=4).tolist() == [[0, 0, 0, 0, 0], [0, 1, 1, 1, 1],
                                                                  [2, 1, 2, 4, 3]]
    assert regions_from_masks(np.zeros((2, 3, 3), bool)).shape == (0, 5)


def test_link_tracks_greedy_gap_and_split():
    r = [(0, 0, 0, 9, 9), (1, 1, 0, 10, 9), (3, 2, 0, 11, 9)]     # frame 2 is missing
    assert link_tracks(r)[:, 0].tolist() == [0, 0, 1]
    assert link_tracks(r, max_gap=2)[:, 0].tolist() == [0, 0, 0]
    # a split: the better-overlapping region continues the track, the other starts a new one
    r = [(0, 0, 0, 9, 9), (1, 0, 0, 9, 4), (1, 0, 0, 9, 8)]
    assert link_tracks(r).tolist() == [[0, 0, 0, 0, 9, 9], [0, 1, 0, 0, 9, 8], [1, 1, 0, 0, 9, 4]]
    assert link_tracks(r, iou=0.95)[:, 0].tolist() == [0, 1, 2]
    assert link_tracks(np.empty((0, 5))).shape == (0, 6)


def test_derived_tracks_end_to_end():
    masks = np.zeros((4, 20, 20), bool)
    for t in range(4):
        masks[t, 2:6, t:t + 5] = True      # one object moving right
    masks[3, 15:18, 15:18] = True          # a second object in the last frame
    tracks = link_tracks(regions_from_masks(masks))
    assert tracks[:, 0].tolist() == [0, 0, 0, 0, 1]
    gt = [("v", *row) for row in tracks.tolist()]
    pred = [("v", f, x0, y0, x1, y1, 1.0) for _, f, x0, y0, x1, y1 in tracks.tolist()]
    assert rbdc_tbdc(pred, gt, num_frames=4) == (1.0, 1.0)
