"""The contract a model plugin honours, and the run context it receives.

A model is any object with these members (subclassing :class:`Model` is a
convenience, not a requirement):

``name``, ``family``, ``config``
    Its registered name, its leaderboard family (``teacher``, ``student``,
    ``competitor``, ``baseline``) and the JSON-able configuration it was built with.
``fit(train_split, ctx)``
    Learn from the normal training videos only.
``score(video) -> Scores``
    Per-frame anomaly scores (higher = more anomalous), optionally a
    low-resolution anomaly map per frame and scored regions.
``example_input(batch_size)`` and ``forward(batch)``
    The hot path the profiler times: the same code ``score`` runs per batch.
``state_dict()`` / ``load_state_dict(state)``
    Plain tensors/arrays/numbers so a fitted model is cached and reloaded safely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PluginError

FAMILIES = ("teacher", "student", "competitor", "baseline")


@dataclass
class Scores:
    """What ``score(video)`` returns.

    Attributes
    ----------
    frame : ndarray, shape (T,)
        One anomaly score per frame of the video (higher = more anomalous).
    maps : ndarray, shape (T, h, w), optional
        Low-resolution anomaly maps; used to derive regions for RBDC/TBDC.
    regions : ndarray, shape (N, 6), optional
        Scored regions ``(frame, x_min, y_min, x_max, y_max, score)`` in the
        video's pixel coordinates (inclusive).
    """

    frame: np.ndarray
    maps: np.ndarray | None = None
    regions: np.ndarray | None = None


@dataclass
class RunContext:
    """How a plugin reaches the rest of the harness while it fits.

    ``get_model(name)`` returns another *fitted* model of the same dataset and
    seed (the student asks for its teachers this way).
    """

    cache_dir: Path
    seed: int = 0
    device: str = "cpu"
    dataset: str = ""
    progress: Callable[..., Any] | None = None
    get_model: Callable[[str], Any] | None = None
    extra: dict = field(default_factory=dict)

    def log(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


class Model:
    """Optional base class with defaults for the contract's bookkeeping parts."""

    name: str = "model"
    family: str = "baseline"
    trainable: bool = True

    def __init__(self, **config: Any):
        self.config = dict(config)

    def fit(self, train, ctx: RunContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, video) -> Scores:  # pragma: no cover - interface
        raise NotImplementedError

    def example_input(self, batch_size: int = 1):  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, batch):  # pragma: no cover - interface
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None


def drop_late_defaults(config: dict, defaults: dict) -> dict:
    """``config`` without those ``defaults`` settings that still hold their default value.

    A setting added to a model after results were recorded is kept in its
    configuration only when it is set, so configurations from before it keep
    their hashes, and with them their records and cached fits.

    >>> drop_late_defaults({"epochs": 20, "flip": False}, {"flip": False})
    {'epochs': 20}
    >>> drop_late_defaults({"epochs": 20, "flip": True}, {"flip": False})
    {'epochs': 20, 'flip': True}
    """
    return {k: v for k, v in config.items() if k not in defaults or v != defaults[k]}


def as_scores(result: Any, n_frames: int, where: str) -> Scores:
    """Validate what a plugin's ``score`` returned; a clear one-line error names the plugin and video.

    Frame scores: one finite number per frame. Maps, when given: shape
    ``(n_frames, h, w)``, finite. Regions, when given: rows
    ``(frame, x_min, y_min, x_max, y_max, score)`` of finite numbers, the frame
    in ``[0, n_frames)``, ``x_min <= x_max`` and ``y_min <= y_max``. Values are
    not changed (scores become float64 as before).

    >>> s = Scores(np.zeros(2), maps=np.zeros((2, 4, 4)), regions=[[1, 0, 0, 3, 3, 0.5]])
    >>> r = as_scores(s, 2, "m on v")
    >>> r.frame.dtype.name, r.maps.shape
    ('float64', (2, 4, 4))
    >>> as_scores(Scores(np.zeros(2), maps=np.zeros((3, 4, 4))), 2, "model m on video v")
    Traceback (most recent call last):
    ...
    vadbench.errors.PluginError: model m on video v: returned maps of 3 frames for 2 frames
    >>> as_scores(Scores(np.zeros(2), regions=[[0, 5, 0, 3, 3, 0.5]]), 2, "model m on video v")
    Traceback (most recent call last):
    ...
    vadbench.errors.PluginError: model m on video v: returned 1 regions with x_max < x_min or y_max < y_min
    """
    if not isinstance(result, Scores):
        result = Scores(frame=np.asarray(result))
    frame = np.asarray(result.frame, dtype=np.float64).reshape(-1)
    if len(frame) != n_frames:
        raise PluginError(f"{where}: returned {len(frame)} scores for {n_frames} frames")
    if not np.isfinite(frame).all():
        raise PluginError(f"{where}: returned {int((~np.isfinite(frame)).sum())} NaN or infinite scores")
    result.frame = frame
    if result.maps is not None:
        _check_maps(result.maps, n_frames, where)
    if result.regions is not None:
        _check_regions(result.regions, n_frames, where)
    return result


def _check_maps(maps: Any, n_frames: int, where: str) -> None:
    try:
        m = np.asarray(maps)
    except Exception as exc:  # noqa: BLE001 - e.g. a tensor on a GPU
        raise PluginError(f"{where}: returned maps that are not an array ({type(exc).__name__})") from None
    if m.ndim != 3:
        raise PluginError(f"{where}: returned maps of shape {m.shape}, not (frames, h, w)")
    if len(m) != n_frames:
        raise PluginError(f"{where}: returned maps of {len(m)} frames for {n_frames} frames")
    if m.dtype.kind not in "biuf":
        raise PluginError(f"{where}: returned maps of dtype {m.dtype}, not real numbers")
    if not np.isfinite(m).all():
        raise PluginError(
            f"{where}: returned maps with {int((~np.isfinite(m)).sum())} NaN or infinite values")


def _check_regions(regions: Any, n_frames: int, where: str) -> None:
    try:
        r = np.asarray(regions, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"{where}: returned regions that are not numbers ({type(exc).__name__})") from None
    if r.size % 6 or (r.ndim != 2 and r.size):
        raise PluginError(f"{where}: returned regions of shape {r.shape}, not rows "
                          "(frame, x_min, y_min, x_max, y_max, score)")
    r = r.reshape(-1, 6)
    if not np.isfinite(r).all():
        bad = int((~np.isfinite(r).all(axis=1)).sum())
        raise PluginError(f"{where}: returned {bad} regions with NaN or infinite values")
    out = (r[:, 0] < 0) | (np.rint(r[:, 0]) >= n_frames)
    if out.any():
        raise PluginError(f"{where}: returned {int(out.sum())} regions whose frame is outside "
                          f"0..{n_frames - 1} (first: {r[out][0, 0]:g})")
    inverted = (r[:, 3] < r[:, 1]) | (r[:, 4] < r[:, 2])
    if inverted.any():
        raise PluginError(
            f"{where}: returned {int(inverted.sum())} regions with x_max < x_min or y_max < y_min")
