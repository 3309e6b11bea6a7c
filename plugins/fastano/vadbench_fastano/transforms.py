"""FastAno's training-time patch transformations: spatial rotation (SRT) and temporal mixing (TMT).

Both alter one square patch cuboid of the *input* frames of a training clip;
the target (the next frame) is left as it is, so the predictor learns to
produce a normal future even where its input looks irregular. The published
patch is 90x90 pixels at 360x240 with its corner at ``x in [0, 270)``,
``y in [30, 120)``; :func:`patch_box` scales that to any frame size.

>>> import numpy as np
>>> clip = np.arange(5 * 8 * 8, dtype=np.float32).reshape(5, 8, 8)
>>> out = spatial_rotation(clip, (2, 1, 4), k=2)
>>> bool((out[:, 1:5, 2:6] == np.rot90(clip[:, 1:5, 2:6], 2, axes=(1, 2))).all())
True
>>> bool((np.delete(out, np.s_[2:6], axis=2) == np.delete(clip, np.s_[2:6], axis=2)).all())
True
"""

from __future__ import annotations

import numpy as np

Box = tuple[int, int, int]  # (x, y, side): the patch's top-left corner and side, in pixels


def patch_box(rng: np.random.Generator, height: int, width: int) -> Box:
    """A random patch as the published sampler places it, scaled to ``(height, width)``.

    Side ``3/8`` of the height (90 of 240), corner ``x`` uniform in ``[0, W - side)``
    and ``y`` uniform in ``[H/8, H/2)`` (30 and 120 of 240), clipped to the frame.

    >>> patch_box(np.random.default_rng(0), 240, 360)[2]
    90
    """
    side = max(1, round(height * 90 / 240))
    side = min(side, height, width)
    x = int(rng.integers(0, max(1, width - side)))
    y_lo = min(round(height * 30 / 240), height - side)
    y_hi = min(round(height * 120 / 240), height - side + 1)
    y = int(rng.integers(y_lo, max(y_lo + 1, y_hi)))
    return x, y, side


def spatial_rotation(clip: np.ndarray, box: Box, k: int) -> np.ndarray:
    """SRT: rotate the patch cuboid of every frame of ``clip`` (T, H, W) by ``k`` x 90 degrees.

    Returns a new array; pixels outside the patch are untouched.
    """
    x, y, s = box
    out = clip.copy()
    out[:, y:y + s, x:x + s] = np.rot90(clip[:, y:y + s, x:x + s], k, axes=(1, 2))
    return out


def temporal_mixing(clip: np.ndarray, box: Box, order: np.ndarray) -> np.ndarray:
    """TMT: the patch cuboid of frame ``i`` is taken from frame ``order[i]`` (a permutation).

    Returns a new array; pixels outside the patch are untouched.
    """
    x, y, s = box
    out = clip.copy()
    out[:, y:y + s, x:x + s] = clip[np.asarray(order), y:y + s, x:x + s]
    return out


def random_transform(rng: np.random.Generator, clip: np.ndarray, p_srt: float,
                     p_tmt: float) -> tuple[np.ndarray, str]:
    """Apply SRT with probability ``p_srt``, else TMT with ``p_tmt``, else nothing.

    Returns the (possibly new) clip and which transformation was used
    (``"srt"``, ``"tmt"`` or ``""``). A TMT permutation is never the identity.
    """
    u = rng.random()
    if u >= p_srt + p_tmt:
        return clip, ""
    box = patch_box(rng, clip.shape[1], clip.shape[2])
    if u < p_srt:
        return spatial_rotation(clip, box, int(rng.integers(1, 4))), "srt"
    n = len(clip)
    order = np.arange(n)
    while n > 1 and (order == np.arange(n)).all():
        order = rng.permutation(n)
    return temporal_mixing(clip, box, order), "tmt"
