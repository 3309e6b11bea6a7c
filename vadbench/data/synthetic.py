# One file over 500 lines, on purpose: this is one generator whose output must stay byte-identical for a
# given seed and parameters (its fingerprint keys every cached fit and every synthetic record). Scene, actors,
# events, rendering and writing share private helpers and draw from the same random streams in a fixed order;
# kept together, a change to any of them is read, reviewed and versioned (GENERATOR_VERSION) in one place.
"""A deterministic, seeded synthetic surveillance benchmark in the Ped2 layout.

The scene is a fixed camera looking at a lawn crossed by a walkway: a static
textured background with a few structures (a hedge, benches, lamp posts, trees),
mild sensor noise and a slow global illumination drift. Pedestrians (body,
head, swinging arms and legs, smaller farther up the image) walk along the
walkway in both directions at 0.5-1.5 px/frame, 3-8 at a time, entering and
leaving the frame. Training videos hold only that. Each test video adds one or
two anomalous events of different kinds:

``cyclist``
    a fast, elongated mover (3-5x walking speed) along the walkway;
``cart``
    a bigger rectangular vehicle at moderate speed (1.3-2x walking speed);
``running``
    a person running along the walkway (2.5-4x walking speed);
``wrong_way``
    a person walking at normal speed across the lawn, perpendicular to the
    walkway (hard for motion-only detectors);
``loitering``
    a person who stops and lingers, standing or moving in small circles, for a
    long stretch before walking on; only the lingering frames are anomalous
    (hard for motion-only detectors).

The ground truth is the anomalous objects' visible pixels (what is occluded by
a nearer pedestrian is not in the mask), their per-frame bounding boxes linked
into tracks, and frame labels (1 where the mask has any pixel). A few frames at
the edges of an event (an object just entering the frame, the first frames of
lingering) are inevitably ambiguous.

Layout written by :func:`generate` (the Ped2 frame-folder layout, so the same
loader reads it)::

    training/frames/01/000.jpg ...        normal videos only
    testing/frames/01/000.jpg ...
    testing/gt_masks/01/000.png ...       uint8 0/255, one per test frame
    testing/tracks/01.txt                 track_id,frame,x_min,y_min,x_max,y_max
    labels/frame_labels.json              {"01": [0, 1, ...], ...}
    labels/events.json                    the events of every test video
    detections/training.csv               frame_index,x1,y1,x2,y2: one box per visible actor per frame
    detections/testing.csv                (the format of vadbench.data.detections)
    detections/index.json                 per split: n_frames, n_boxes, videos {id: frame count}
    detections/SOURCE.md                  what the detections are
    SYNTHETIC.md                          what was generated, with which parameters
    .complete                             written last

Frames are grayscale content stored as 3-channel JPEG (quality 90). Boxes are
inclusive pixel coordinates, frame indices are 0-based, track ids run 0, 1, ...
within each file, and rows are sorted by track then frame. The same seed and
parameters give byte-identical files; another seed gives another dataset.

The detections are what a perfect detector would report: for every frame, one
box per actor (pedestrian or anomalous object) with visible pixels, the extent of
those pixels (what a nearer actor hides is left out, as in COCO's boxes; clipped
to the frame), as pixel-edge coordinates ``x1 = x_min, x2 = x_max + 1``, so an
anomalous object's box is its track box. ``frame_index`` counts the split's
frames concatenated in video order, as in the real datasets' detection files.

>>> import tempfile, json
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = generate(Path(tmp) / "syn", seed=1, n_train=1, n_test=1, n_frames=24, width=96, height=64)
...     labels = json.loads((root / "labels" / "frame_labels.json").read_text())
...     n_jpg = len(list((root / "testing" / "frames" / "01").glob("*.jpg")))
...     (root / ".complete").is_file(), n_jpg, len(labels["01"]), 0 < sum(labels["01"]) < 24
(True, 24, 24, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["DEFAULTS", "GENERATOR_VERSION", "KINDS", "cache_name", "ensure", "frame_difference_scores",
           "generate"]

#: Bumped whenever the generated content changes, so that :func:`ensure` regenerates.
#: 2: detections/ added (frames, masks, tracks and labels as in version 1).
GENERATOR_VERSION = 2

#: The anomaly kinds of the test videos.
KINDS = ("cyclist", "cart", "running", "wrong_way", "loitering")

#: Default parameters of :func:`generate` (``seed`` aside).
DEFAULTS = {"n_train": 6, "n_test": 6, "n_frames": 120, "width": 240, "height": 160}

COMPLETE_MARKER = ".complete"
JPEG_QUALITY = 90

_BASE_HEIGHT = 30.0  # pedestrian height in px at perspective scale 1 and a 160 px high frame
_S_REF = 0.85  # perspective scale at which walking speeds are quoted
_NOISE_SIGMA = 2.0  # per-frame sensor noise, grey levels


# ---------------------------------------------------------------------------
# scene geometry
# ---------------------------------------------------------------------------
class _Scene:
    """The fixed camera geometry and background of one dataset (one seed)."""

    def __init__(self, rng: np.random.Generator, width: int, height: int):
        self.W, self.H = int(width), int(height)
        self.unit = self.H / 160.0
        # walkway centreline y = c0 + slope * x, going down to the right (nearer)
        y_left = rng.uniform(0.32, 0.42) * self.H
        y_right = rng.uniform(0.68, 0.78) * self.H
        self.slope = (y_right - y_left) / self.W
        self.c0 = y_left
        self.half_width = rng.uniform(0.11, 0.13) * self.H  # at perspective scale 1
        norm = math.hypot(1.0, self.slope)
        self.along = (1.0 / norm, self.slope / norm)  # unit vector along the walkway
        self.background = self._background(rng)

    # perspective: objects are smaller farther up the image
    def scale(self, y: float) -> float:
        return 0.45 + 0.75 * min(max(y / self.H, -0.1), 1.2)

    def centre_y(self, x: float) -> float:
        return self.c0 + self.slope * x

    def walkway_y(self, x: float, off: float) -> float:
        yc = self.centre_y(x)
        return yc + off * self.half_width * self.scale(yc)

    def person_height(self, y: float, size: float) -> float:
        return _BASE_HEIGHT * self.unit * self.scale(y) * size

    def speed_px(self, v0: float, y: float) -> float:
        return v0 * self.unit * self.scale(y) / _S_REF

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        W, H, u = self.W, self.H, self.unit
        # lawn: low-frequency shading plus fine static grain
        low = cv2.resize(rng.normal(0, 1, (6, 9)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
        grain = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 0.8)
        bg = 108 + 10 * low + 9 * grain
        # walkway band with paving joints
        xs = np.arange(-2, W + 3, dtype=np.float32)
        # float32 on purpose (the files are byte-identical for a seed): the geometry takes NumPy floats too
        top = [(x, self.walkway_y(x, -1.0)) for x in xs]  # type: ignore[arg-type]
        bot = [(x, self.walkway_y(x, 1.0)) for x in xs[::-1]]  # type: ignore[arg-type]
        poly = np.round(np.array(top + bot) * 16).astype(np.int32)
        walk = np.zeros((H, W), np.uint8)
        cv2.fillPoly(walk, [poly], 255, cv2.LINE_AA, 4)
        pave = 160 + 5 * low + 4 * grain
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        along = xx * self.along[0] + yy * self.along[1]
        spacing = 14 * u
        joints = (np.abs(((along / spacing) % 1.0) - 0.5) > 0.46).astype(np.float32)
        pave -= 18 * joints
        a = walk.astype(np.float32) / 255.0
        bg = bg * (1 - a) + pave * a
        edge = cv2.morphologyEx(walk, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(np.float32) / 255
        bg -= 25 * edge
        # a hedge / fence along the top
        hedge_h = round(rng.uniform(0.08, 0.12) * H)
        hedge = 70 + 14 * cv2.GaussianBlur(rng.normal(0, 1, (hedge_h, W)).astype(np.float32), (0, 0), 1.2)
        bg[:hedge_h] = hedge
        for post in range(int(rng.integers(0, 12)), W, max(6, round(18 * u))):
            cv2.line(bg, (post, 0), (post, hedge_h), 130.0, max(1, round(1.5 * u)))
        bg[hedge_h:hedge_h + max(1, round(u))] = 55
        # trees: dark textured blobs on the lawn away from the walkway
        for _ in range(int(rng.integers(2, 4))):
            x = rng.uniform(0.05, 0.95) * W
            y = rng.uniform(0.15, 0.95) * H
            if abs(y - self.centre_y(x)) < 1.6 * self.half_width * self.scale(y):
                y = min(H - 1, max(0.0, y + 2.2 * self.half_width * np.sign(y - self.centre_y(x) + 1e-3)))
            r = rng.uniform(9, 16) * u * self.scale(y)
            blob: np.ndarray = np.zeros((H, W), np.float32)
            cv2.circle(blob, (int(x * 16), int(y * 16)), int(r * 16), 1.0, -1, cv2.LINE_AA, 4)
            blob = cv2.GaussianBlur(blob, (0, 0), 1.0 + r / 6)
            bg = bg * (1 - 0.8 * blob) + (60 + 12 * grain) * (0.8 * blob)
        # benches beside the walkway and lamp posts
        for _ in range(int(rng.integers(1, 3))):
            x = rng.uniform(0.15, 0.85) * W
            side = rng.choice([-1.0, 1.0])
            y = self.walkway_y(x, side * 1.25)
            s = self.scale(y) * u
            p0 = (int((x - 11 * s) * 16), int((y - 5 * s) * 16))
            p1 = (int((x + 11 * s) * 16), int((y + 1 * s) * 16))
            cv2.rectangle(bg, p0, p1, 70.0, -1, cv2.LINE_AA, 4)
            cv2.line(bg, (p0[0], int((y - 7 * s) * 16)), (p1[0], int((y - 7 * s) * 16)), 85.0,
                     max(1, round(2 * s)), cv2.LINE_AA, 4)
        for _ in range(int(rng.integers(1, 3))):
            x = rng.uniform(0.1, 0.9) * W
            y = self.walkway_y(x, rng.choice([-1.0, 1.0]) * 1.15)
            s = self.scale(y) * u
            cv2.line(bg, (int(x * 16), int(y * 16)), (int(x * 16), int((y - 40 * s) * 16)), 50.0,
                     max(1, round(1.5 * s)), cv2.LINE_AA, 4)
            cv2.circle(bg, (int(x * 16), int((y - 40 * s) * 16)), int(2.5 * s * 16), 200.0, -1,
                       cv2.LINE_AA, 4)
        return np.clip(bg, 0, 255).astype(np.float32)


# ---------------------------------------------------------------------------
# actors
# ---------------------------------------------------------------------------
@dataclass
class _Actor:
    kind: str  # "walker" or one of KINDS
    T: int
    size: float = 1.0
    direction: float = 1.0  # +1 walking to the right, -1 to the left
    colors: tuple = ()
    swing: float = 0.16  # leg swing amplitude, fraction of height
    lean: float = 0.0  # forward lean of the upper body, fraction of height
    event: int = -1  # index of the event of an anomalous actor
    along: tuple = (1.0, 0.0)  # the walkway direction (orients carts)
    # per frame, filled by __post_init__ (whatever is passed)
    xs: np.ndarray = field(default_factory=lambda: np.empty(0))
    ys: np.ndarray = field(default_factory=lambda: np.empty(0))
    phase: np.ndarray = field(default_factory=lambda: np.empty(0))
    anomalous: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self):
        self.xs = np.full(self.T, np.nan)
        self.ys = np.full(self.T, np.nan)
        self.phase = np.zeros(self.T)
        self.anomalous = np.zeros(self.T, bool)


def _person_colors(rng: np.random.Generator) -> tuple:
    r = rng.random()
    if r < 0.45:
        torso = rng.uniform(20, 75)
    elif r < 0.7:
        torso = rng.uniform(80, 140)
    else:
        torso = rng.uniform(150, 235)
    legs = rng.uniform(20, 120)
    head = rng.uniform(30, 110)
    return (float(torso), float(legs), float(head))


def _visible(scene: _Scene, x: float, y: float, h: float) -> bool:
    return -h < x < scene.W + h and -1.0 < y < scene.H + h


def _walk_along(scene: _Scene, a: _Actor, rng: np.random.Generator, t: int, x: float, off: float,
                v0: float, stride: float = 0.35, stop_outside: bool = True) -> None:
    """Fill ``a`` from frame ``t`` on with a walk along the walkway until it leaves the frame."""
    ph = rng.uniform(0, 2 * math.pi) if t == 0 or np.isnan(a.xs[t - 1]) else a.phase[t - 1]
    wobble = rng.uniform(0, 2 * math.pi)
    drift = 0.0
    entered = _visible(scene, x, scene.walkway_y(x, off),
                       scene.person_height(scene.walkway_y(x, off), a.size))
    while t < a.T:
        y = scene.walkway_y(x, off)
        h = scene.person_height(y, a.size)
        a.xs[t], a.ys[t], a.phase[t] = x, y, ph
        vis = _visible(scene, x, y, h)
        if vis:
            entered = True
        elif entered and stop_outside:
            a.xs[t] = a.ys[t] = np.nan
            return
        v = scene.speed_px(v0, y) * (1 + 0.07 * math.sin(0.11 * t + wobble) + 0.04 * rng.standard_normal())
        x += a.direction * v * scene.along[0]
        drift = 0.9 * drift + 0.01 * rng.standard_normal()
        off = float(np.clip(off + drift, -0.9, 0.9))
        ph += math.pi * v / max(stride * h, 1e-3)
        t += 1


def _normal_population(scene: _Scene, rng: np.random.Generator, T: int) -> list[_Actor]:
    """Pedestrians walking along the walkway, 3-8 in view at a time."""
    actors: list[_Actor] = []

    def new_walker(t: int, x: float, direction: float) -> _Actor:
        a = _Actor("walker", T, size=rng.uniform(0.88, 1.12), direction=direction,
                   colors=_person_colors(rng), swing=rng.uniform(0.12, 0.18))
        _walk_along(scene, a, rng, t, x, rng.uniform(-0.75, 0.75), rng.uniform(0.5, 1.5))
        actors.append(a)
        return a

    for _ in range(int(rng.integers(4, 8))):
        new_walker(0, rng.uniform(0.02, 0.98) * scene.W, rng.choice([-1.0, 1.0]))
    target = int(rng.integers(3, 9))
    last_spawn = {-1.0: -99, 1.0: -99}
    for t in range(1, T):
        if t % 40 == 0:
            target = int(rng.integers(3, 9))
        in_view = sum(1 for a in actors if not np.isnan(a.xs[t]) and _visible(scene, a.xs[t], a.ys[t], 0.0))
        if in_view < target and rng.random() < (0.6 if in_view < 3 else 0.2):
            d = float(rng.choice([-1.0, 1.0]))
            if t - last_spawn[d] > 8:
                last_spawn[d] = t
                x0 = (-0.25 * _BASE_HEIGHT * scene.unit if d > 0
                      else scene.W + 0.25 * _BASE_HEIGHT * scene.unit)
                new_walker(t, x0, d)
    return actors


def _edge_x(scene: _Scene, direction: float, margin: float) -> float:
    return -margin if direction > 0 else scene.W + margin


def _anomaly(scene: _Scene, rng: np.random.Generator, kind: str, t0: int, T: int, event: int) -> _Actor:
    u = scene.unit
    d = float(rng.choice([-1.0, 1.0]))
    if kind == "cyclist":
        a = _Actor(kind, T, size=rng.uniform(0.95, 1.1), direction=d, colors=_person_colors(rng))
        v0 = rng.uniform(3.0, 5.0)
        _walk_along(scene, a, rng, t0, _edge_x(scene, d, 0.3 * _BASE_HEIGHT * u), rng.uniform(-0.5, 0.5),
                    v0, stride=0.9)
        a.anomalous[:] = ~np.isnan(a.xs)
    elif kind == "cart":
        body = rng.uniform(25, 235)
        a = _Actor(kind, T, size=rng.uniform(1.0, 1.2), direction=d,
                   colors=(float(body),
                           float(np.clip(body + rng.choice([-1, 1]) * rng.uniform(40, 80), 10, 245)),
                           float(rng.uniform(15, 50))))
        _walk_along(scene, a, rng, t0, _edge_x(scene, d, 0.8 * _BASE_HEIGHT * u), rng.uniform(-0.3, 0.3),
                    rng.uniform(1.3, 2.0), stride=1.0)
        a.anomalous[:] = ~np.isnan(a.xs)
    elif kind == "running":
        a = _Actor(kind, T, size=rng.uniform(0.9, 1.1), direction=d, colors=_person_colors(rng),
                   swing=rng.uniform(0.24, 0.3), lean=0.06)
        _walk_along(scene, a, rng, t0, _edge_x(scene, d, 0.25 * _BASE_HEIGHT * u), rng.uniform(-0.6, 0.6),
                    rng.uniform(2.5, 4.0), stride=0.55)
        a.anomalous[:] = ~np.isnan(a.xs)
    elif kind == "wrong_way":
        a = _Actor(kind, T, size=rng.uniform(0.9, 1.1), direction=d, colors=_person_colors(rng),
                   swing=rng.uniform(0.12, 0.18))
        from_bottom = rng.random() < 0.6
        x = rng.uniform(0.2, 0.8) * scene.W
        y = scene.H + 0.3 * scene.person_height(scene.H, a.size) if from_bottom else 0.0
        # perpendicular to the walkway, +-20 degrees
        ang = math.atan2(scene.along[0], -scene.along[1]) + math.radians(rng.uniform(-20, 20))
        ux, uy = math.cos(ang), math.sin(ang)
        if (uy > 0) == from_bottom:
            ux, uy = -ux, -uy
        a.direction = 1.0 if ux >= 0 else -1.0
        v0 = rng.uniform(0.6, 1.4)
        ph = rng.uniform(0, 2 * math.pi)
        for t in range(t0, T):
            h = scene.person_height(y, a.size)
            if not (-h < x < scene.W + h and -0.5 * h <= y < scene.H + h):
                break
            a.xs[t], a.ys[t], a.phase[t] = x, y, ph
            v = scene.speed_px(v0, y) * (1 + 0.05 * rng.standard_normal())
            x += v * ux
            y += v * uy
            ph += math.pi * v / max(0.35 * h, 1e-3)
        a.anomalous[:] = ~np.isnan(a.xs)
    elif kind == "loitering":
        a = _Actor(kind, T, size=rng.uniform(0.9, 1.1), direction=d, colors=_person_colors(rng),
                   swing=rng.uniform(0.12, 0.18))
        # arrive at the stop point at t0 walking normally, linger for L frames, walk on
        xs = rng.uniform(0.25, 0.75) * scene.W
        off = rng.uniform(-1.3, 1.3)
        v0 = rng.uniform(0.6, 1.2)
        ys = scene.walkway_y(xs, off)
        h = scene.person_height(ys, a.size)
        v = scene.speed_px(v0, ys)
        for t in range(t0 - 1, -1, -1):
            x = xs - d * v * scene.along[0] * (t0 - t)
            if not _visible(scene, x, ys, h):
                break
            a.xs[t], a.ys[t] = x, scene.walkway_y(x, off)
            a.phase[t] = math.pi * v * t / (0.35 * h)
        L = max(3, round(rng.uniform(0.35, 0.6) * T))
        r = rng.uniform(1.5, 3.5) * u * scene.scale(ys)
        omega = 2 * math.pi / rng.uniform(40, 90) * rng.choice([-1.0, 1.0])
        theta, moving = 0.0, True
        ph = a.phase[t0 - 1] if t0 > 0 and not np.isnan(a.xs[t0 - 1]) else 0.0
        for t in range(t0, min(T, t0 + L)):
            if rng.random() < 0.04:
                moving = not moving
            if moving:
                theta += omega
            x = xs + r * (math.cos(theta) - 1.0)
            y = ys + 0.4 * r * math.sin(theta)
            if t > t0 and not np.isnan(a.xs[t - 1]):
                step = math.hypot(x - a.xs[t - 1], y - a.ys[t - 1])
                ph += math.pi * step / (0.35 * h)
                if step > 1e-6:
                    a.direction = 1.0 if x >= a.xs[t - 1] else -1.0
            a.xs[t], a.ys[t], a.phase[t] = x, y, ph
            a.anomalous[t] = True
        if t0 + L < T:
            a.direction = float(rng.choice([-1.0, 1.0]))
            off_now = (a.ys[t0 + L - 1] - scene.centre_y(a.xs[t0 + L - 1])) / (
                scene.half_width * scene.scale(scene.centre_y(a.xs[t0 + L - 1])))
            _walk_along(scene, a, rng, t0 + L, float(a.xs[t0 + L - 1]), float(np.clip(off_now, -1.3, 1.3)),
                        v0)
    else:  # pragma: no cover - guarded by KINDS
        raise ValueError(kind)
    a.event = event
    return a


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------
def _p(x: float, y: float) -> tuple[int, int]:
    return (round(x * 16), round(y * 16))


def _draw(img: np.ndarray, a: _Actor, x: float, y: float, ph: float, h: float, value, aa: bool) -> None:
    """Draw actor ``a`` with its feet at (x, y) and height h; ``value`` overrides its colours."""
    lt = cv2.LINE_AA if aa else cv2.LINE_8

    def col(c):
        return float(c) if value is None else value

    th = max(1, round(0.09 * h))
    if a.kind == "cart":
        _draw_cart(img, a, x, y, h, value, lt)
        return
    torso, legs, head = a.colors
    d = a.direction
    if a.kind == "cyclist":
        r = 0.17 * h
        wr, wf = (x - 0.32 * h * d, y - r), (x + 0.32 * h * d, y - r)
        wt = max(1, round(0.05 * h))
        seat = (x - 0.08 * h * d, y - 0.45 * h)
        bar = (x + 0.24 * h * d, y - 0.52 * h)
        crank = (x, y - r)
        for c in (wr, wf):
            cv2.circle(img, _p(*c), round(r * 16), col(legs * 0.6), wt, lt, 4)
        for p, q in ((wr, seat), (seat, crank), (crank, wf), (wf, bar), (crank, bar), (wr, crank)):
            cv2.line(img, _p(*p), _p(*q), col(legs * 0.6), wt, lt, 4)
        hip = (seat[0], seat[1] - 0.03 * h)
        for sgn in (1.0, -1.0):
            foot = (crank[0] + sgn * 0.09 * h * math.cos(ph), crank[1] + sgn * 0.09 * h * math.sin(ph))
            knee = ((hip[0] + foot[0]) / 2 + 0.1 * h * d, (hip[1] + foot[1]) / 2 - 0.03 * h)
            cv2.line(img, _p(*hip), _p(*knee), col(legs), th, lt, 4)
            cv2.line(img, _p(*knee), _p(*foot), col(legs), th, lt, 4)
        shoulder = (x + 0.1 * h * d, y - 0.78 * h)
        centre = ((hip[0] + shoulder[0]) / 2, (hip[1] + shoulder[1]) / 2)
        ang = -d * 30.0
        cv2.ellipse(img, _p(*centre), (int(0.11 * h * 16), int(0.19 * h * 16)), ang, 0, 360, col(torso), -1,
                    lt, 4)
        cv2.line(img, _p(*shoulder), _p(*bar), col(torso), max(1, round(0.06 * h)), lt, 4)
        cv2.circle(img, _p(shoulder[0] + 0.06 * h * d, shoulder[1] - 0.1 * h), int(0.085 * h * 16), col(head),
                   -1, lt, 4)
        return
    # a person: legs, arms, torso, head
    lean = a.lean * h * d
    hip = (x + 0.3 * lean, y - 0.45 * h)
    sw = a.swing * h * math.sin(ph)
    lift = 0.05 * h * max(0.0, math.cos(ph)) * (a.swing / 0.16)
    cv2.line(img, _p(*hip), _p(x + sw, y - lift), col(legs), th, lt, 4)
    cv2.line(img, _p(*hip), _p(x - sw, y - 0.05 * h * max(0.0, -math.cos(ph)) * (a.swing / 0.16)), col(legs),
             th, lt, 4)
    shoulder = (x + lean, y - 0.78 * h)
    arm = 0.75 * a.swing * h * math.sin(ph)
    at = max(1, round(0.06 * h))
    cv2.line(img, _p(*shoulder), _p(x + lean - arm, y - 0.5 * h), col(torso * 0.85), at, lt, 4)
    cv2.ellipse(img, _p(x + 0.6 * lean, y - 0.63 * h),
                (max(1, int(0.13 * h * 16)), max(1, int(0.2 * h * 16))), 0, 0, 360, col(torso), -1, lt, 4)
    cv2.line(img, _p(*shoulder), _p(x + lean + arm, y - 0.5 * h), col(torso * 0.85), at, lt, 4)
    cv2.circle(img, _p(x + lean, y - 0.9 * h), max(1, int(0.085 * h * 16)), col(head), -1, lt, 4)


def _draw_cart(img: np.ndarray, a: _Actor, x: float, y: float, h: float, value, lt) -> None:
    body, cabin, wheel = a.colors

    def col(c):
        return float(c) if value is None else value

    ax, ay = a.direction * a.along[0], a.direction * a.along[1]

    def pt(s, b):  # s along the direction of travel, b up
        return (x + s * h * ax, y + s * h * ay - b * h)

    def poly(corners, c):
        cv2.fillConvexPoly(img, np.array([_p(*pt(s, b)) for s, b in corners], np.int32), col(c), lt, 4)

    poly([(-0.75, 0.12), (0.75, 0.12), (0.75, 0.5), (-0.75, 0.5)], body)
    poly([(-0.5, 0.5), (0.3, 0.5), (0.2, 0.82), (-0.5, 0.82)], cabin)
    poly([(0.0, 0.55), (0.22, 0.55), (0.16, 0.76), (0.0, 0.76)], wheel + 20)
    for s in (-0.5, 0.5):
        cv2.circle(img, _p(*pt(s, 0.1)), max(1, int(0.11 * h * 16)), col(wheel), -1, lt, 4)


def _height(scene: _Scene, a: _Actor, y: float) -> float:
    return scene.person_height(y, a.size)


def _visible_boxes(ids: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """``(k, x_min, y_min, x_max + 1, y_max + 1)`` of the pixels ``ids == k + 1``, for each k that has any."""
    ys, xs = np.nonzero(ids)
    labels = ids[ys, xs]
    out = []
    for value in np.unique(labels):
        own = labels == value
        x, y = xs[own], ys[own]
        out.append((int(value) - 1, int(x.min()), int(y.min()), int(x.max()) + 1, int(y.max()) + 1))
    return out


def _render_video(scene: _Scene, actors: list[_Actor], rng: np.random.Generator, T: int, with_gt: bool):
    """Frames (T, H, W) uint8, per-event visible masks (E, T, H, W) bool (with ``with_gt``, else None)
    and the detections: rows ``(frame, x1, y1, x2, y2)`` of every actor's visible pixels.

    Drawing the detections' id map consumes no random numbers, so the frames and
    masks are those of a render without it."""
    H, W = scene.H, scene.W
    for a in actors:
        a.along = scene.along
    n_events = max([a.event + 1 for a in actors] + [0])
    frames = np.empty((T, H, W), np.uint8)
    masks = np.zeros((n_events, T, H, W), bool) if with_gt else None
    amp = rng.uniform(0.02, 0.04)
    period = rng.uniform(150, 400)
    phi = rng.uniform(0, 2 * math.pi)
    bg = np.clip(scene.background + 0.5, 0, 255).astype(np.uint8)
    boxes = []
    for t in range(T):
        gain = 1.0 + amp * math.sin(2 * math.pi * t / period + phi)
        img = bg.copy()
        present = []
        for i, a in enumerate(actors):
            x, y = a.xs[t], a.ys[t]
            if np.isnan(x):
                continue
            h = _height(scene, a, y)
            if _visible(scene, x, y, 1.6 * h):
                present.append((y, i, a, x, h))
        present.sort(key=lambda r: (r[0], r[1]))
        ids = np.zeros((H, W), np.uint8)
        for k, (y, _i, a, x, h) in enumerate(present):
            _draw(img, a, x, y, a.phase[t], h, None, True)
            _draw(ids, a, x, y, a.phase[t], h, k + 1, False)
        boxes += [(t, *box[1:]) for box in _visible_boxes(ids)]
        if with_gt and masks is not None and any(r[2].anomalous[t] for r in present):
            for k, (_y, _i, a, _x, _h) in enumerate(present):
                if a.anomalous[t]:
                    masks[a.event, t] = ids == k + 1
        noise = rng.standard_normal((H, W), dtype=np.float32) * _NOISE_SIGMA
        frames[t] = np.clip(img.astype(np.float32) * gain + noise + 0.5, 0, 255).astype(np.uint8)
    return frames, masks, boxes


# ---------------------------------------------------------------------------
# one test video's events
# ---------------------------------------------------------------------------
def _plan_events(rng: np.random.Generator, first_kind: str, T: int) -> list[tuple[str, int]]:
    kinds = [first_kind]
    if rng.random() < 0.5:
        others = [k for k in KINDS if k != first_kind]
        kinds.append(str(rng.choice(others)))
    events = []
    for k in kinds:
        lo, hi = max(1, int(0.15 * T)), max(2, int(0.6 * T))
        events.append((k, int(rng.integers(lo, hi + 1))))
    return events


def _test_video(scene: _Scene, seed: int, index: int, first_kind: str, T: int):
    for attempt in range(20):
        rng = np.random.default_rng([seed, 2, index, attempt])
        actors = _normal_population(scene, rng, T)
        plan = _plan_events(rng, first_kind, T)
        for e, (kind, t0) in enumerate(plan):
            actors.append(_anomaly(scene, rng, kind, t0, T, e))
        frames, masks, boxes = _render_video(scene, actors, rng, T, True)
        per_event = masks.reshape(len(plan), T, -1).any(axis=2)
        labels = per_event.any(axis=0)
        if labels.all() or not labels.any() or not per_event.any(axis=1).all():
            continue  # need both classes and every event visible
        return frames, masks, plan, boxes
    raise RuntimeError("could not place visible anomalies")  # pragma: no cover


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def _frame_name(i: int, T: int) -> str:
    return f"{i:0{max(3, len(str(T - 1)))}d}"


def _write_frames(folder: Path, frames: np.ndarray) -> None:
    folder.mkdir(parents=True)
    T = len(frames)
    for i, f in enumerate(frames):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_GRAY2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:  # pragma: no cover
            raise OSError(f"cannot encode frame {i} of {folder}")
        (folder / f"{_frame_name(i, T)}.jpg").write_bytes(buf.tobytes())


def _write_masks(folder: Path, mask: np.ndarray) -> None:
    folder.mkdir(parents=True)
    T = len(mask)
    for i, m in enumerate(mask):
        ok, buf = cv2.imencode(".png", m.astype(np.uint8) * 255)
        if not ok:  # pragma: no cover
            raise OSError(f"cannot encode mask {i} of {folder}")
        (folder / f"{_frame_name(i, T)}.png").write_bytes(buf.tobytes())


def _tracks(masks: np.ndarray) -> tuple[list[str], list[dict]]:
    """Track rows from per-event masks (E, T, H, W), plus each event's frame span."""
    rows, spans = [], []
    track = 0
    for e in range(len(masks)):
        frames = np.flatnonzero(masks[e].reshape(len(masks[e]), -1).any(axis=1))
        if len(frames) == 0:
            spans.append({"track": None, "first_frame": None, "last_frame": None, "n_frames": 0})
            continue
        for t in frames:
            ys, xs = np.nonzero(masks[e, t])
            rows.append(f"{track},{t},{xs.min()},{ys.min()},{xs.max()},{ys.max()}")
        spans.append({"track": track, "first_frame": int(frames[0]), "last_frame": int(frames[-1]),
                      "n_frames": len(frames)})
        track += 1
    return rows, spans


def _write_detections(folder: Path, split_boxes: dict[str, dict[str, list]], T: int) -> None:
    """``training.csv``, ``testing.csv`` (frame indices over the split's videos in order) and
    ``index.json``."""
    folder.mkdir()
    index: dict[str, Any] = {}
    for stem, videos in split_boxes.items():
        lines = ["frame_index,x1,y1,x2,y2"]
        for position, rows in enumerate(videos.values()):
            lines += [f"{position * T + t},{x1},{y1},{x2},{y2}" for t, x1, y1, x2, y2 in rows]
        (folder / f"{stem}.csv").write_text("\n".join(lines) + "\n")
        index[stem] = {"n_frames": T * len(videos), "n_boxes": len(lines) - 1,
                       "videos": {vid: T for vid in videos}}
    index["source"] = (f"vadbench.data.synthetic generator version {GENERATOR_VERSION}: "
                       "the actors' visible pixels")
    (folder / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    (folder / "SOURCE.md").write_text(_DETECTIONS_SOURCE)


_DETECTIONS_SOURCE = """# Detections of the synthetic dataset

Written by `vadbench.data.synthetic.generate` with the frames: what a perfect detector would
report, in the format of the real datasets' detection files (`vadbench.data.detections`).

- `training.csv`, `testing.csv`: rows `frame_index,x1,y1,x2,y2`. `frame_index` counts the
  split's frames concatenated in video order (video `01` first); one box per actor with visible
  pixels in that frame, pedestrians and anomalous objects alike: the extent of its visible
  pixels (what a nearer actor hides is left out; clipped to the frame) in pixel-edge
  coordinates, `x1 = x_min`, `x2 = x_max + 1` (likewise y). An anomalous object's box is its
  box in `testing/tracks/`.
- `index.json`: per split, `n_frames`, `n_boxes` and `videos` (frames per video, in order).
"""


def _describe(seed: int, params: dict, events: dict, labels: dict) -> str:
    n_anom = sum(sum(v) for v in labels.values())
    n_test = sum(len(v) for v in labels.values())
    lines = [
        "# vadbench synthetic surveillance dataset",
        "",
        f"Generated by `vadbench.data.synthetic.generate` (generator version {GENERATOR_VERSION});",
        "the same seed and parameters give byte-identical files.",
        "",
        "## Parameters",
        "",
        f"- seed: {seed}",
        *[f"- {k}: {params[k]}" for k in sorted(params)],
        "",
        "## Content",
        "",
        "A fixed camera over a lawn crossed by a walkway (static textured background, hedge, trees,",
        "benches, lamp posts), mild per-frame sensor noise and a slow global illumination drift.",
        "Pedestrians walk along the walkway in both directions at 0.5-1.5 px/frame (perspective:",
        "smaller and slower farther up), 3-8 in view at a time. Training videos hold only that.",
        "Each test video adds one or two anomalous events of different kinds:",
        "",
        "- `cyclist`: fast elongated mover along the walkway, 3-5x walking speed;",
        "- `cart`: bigger rectangular vehicle at 1.3-2x walking speed;",
        "- `running`: a person running along the walkway, 2.5-4x walking speed;",
        "- `wrong_way`: a person walking at normal speed across the lawn, perpendicular to the walkway;",
        "- `loitering`: a person lingering in place (standing, small circles); only the lingering",
        "  frames are anomalous.",
        "",
        "Ground truth: `testing/gt_masks/<video>/<frame>.png` holds the visible pixels of the",
        "anomalous objects (0/255); `testing/tracks/<video>.txt` rows are",
        "`track_id,frame_idx,x_min,y_min,x_max,y_max` (0-based frames, inclusive boxes of the mask",
        "pixels of each event); `labels/frame_labels.json` is 1 where the mask has any pixel;",
        "`labels/events.json` lists each test video's events.",
        "",
        f"Test frames: {n_test}, anomalous: {n_anom} ({100.0 * n_anom / max(n_test, 1):.1f}%).",
        "",
        "## Test videos",
        "",
        "| video | kind | track | first frame | last frame | anomalous frames |",
        "|---|---|---|---|---|---|",
    ]
    for vid in sorted(events):
        for ev in events[vid]:
            lines.append(f"| {vid} | {ev['kind']} | {ev['track']} | {ev['first_frame']} | {ev['last_frame']} "
                         f"| {ev['n_frames']} |")
    return "\n".join(lines) + "\n"


def _check_params(params: dict) -> dict:
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown synthetic dataset parameter(s): {', '.join(unknown)}")
    out = dict(DEFAULTS)
    out.update(params)
    for k, v in out.items():
        if isinstance(v, bool) or int(v) != v:
            raise ValueError(f"{k} must be an integer, got {v!r}")
        out[k] = int(v)
    if out["n_train"] < 1 or out["n_test"] < 1:
        raise ValueError("n_train and n_test must be at least 1")
    if out["n_frames"] < 10:
        raise ValueError("n_frames must be at least 10")
    if out["width"] < 48 or out["height"] < 32:
        raise ValueError("width must be at least 48 and height at least 32")
    return out


def generate(out_dir: str | os.PathLike, *, seed: int = 0, n_train: int = 6, n_test: int = 6,
             n_frames: int = 120, width: int = 240, height: int = 160) -> Path:
    """Write the synthetic dataset of ``seed`` to ``out_dir`` (see the module docstring) and return it.

    The files are written into a temporary sibling folder which is renamed to
    ``out_dir`` once complete (its ``.complete`` marker written last). If
    ``out_dir`` meanwhile holds the same complete dataset (an identical
    ``.complete`` marker: generator version, seed and parameters), that folder
    is kept and the new copy discarded, so a reader inside it never sees it
    replaced. Another existing ``out_dir`` is replaced if it is empty or a
    synthetic dataset (it holds ``SYNTHETIC.md`` or ``.complete``); any other
    existing folder raises :class:`FileExistsError`.
    """
    params = _check_params({"n_train": n_train, "n_test": n_test, "n_frames": n_frames,
                            "width": width, "height": height})
    seed = int(seed)
    out_dir = Path(out_dir)
    if out_dir.exists() and not _replaceable(out_dir):
        raise FileExistsError(f"{out_dir}: exists and is not a synthetic dataset; not overwriting it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_dir(out_dir.parent, f".{out_dir.name}.tmp-")
    try:
        _write_dataset(tmp, seed, params)
        _publish(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new uniquely named folder under ``parent``, with the umask's permissions (unlike mkdtemp's 0700)."""
    for _ in range(100):
        path = parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # pragma: no cover
            continue
    raise FileExistsError(f"{parent}: cannot create a temporary folder")  # pragma: no cover


def _replaceable(path: Path) -> bool:
    if not path.is_dir():
        return False
    return (path / COMPLETE_MARKER).exists() or (path / "SYNTHETIC.md").exists() or not any(path.iterdir())


def _same_dataset(tmp: Path, out_dir: Path) -> bool:
    """True when ``out_dir`` is complete with the same ``.complete`` marker (version, seed, parameters) as
    ``tmp``."""
    try:
        return (out_dir / COMPLETE_MARKER).read_bytes() == (tmp / COMPLETE_MARKER).read_bytes()
    except OSError:
        return False


def _publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished ``tmp`` folder to ``out_dir``; keep an ``out_dir`` that already holds the same
    dataset.

    The rename is atomic: readers see no folder or a complete one. When a
    concurrent writer published first, its complete folder (which readers may
    be inside) is kept and ``tmp`` is left for the caller to delete. Only a
    different or incomplete old dataset is replaced.
    """
    try:
        os.rename(tmp, out_dir)  # atomic; works when out_dir is absent or an empty folder
        return
    except OSError:
        if not out_dir.exists():
            raise
    if _same_dataset(tmp, out_dir):
        return  # the first complete copy wins; the caller removes ours
    old = _fresh_dir(out_dir.parent, f".{out_dir.name}.old-")
    with contextlib.suppress(FileNotFoundError):  # someone else moved it away meanwhile
        os.replace(out_dir, old / "d")
    try:
        os.replace(tmp, out_dir)
    except OSError:
        # a concurrent writer published first; keep theirs if it is complete
        if not (out_dir / COMPLETE_MARKER).exists():
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _write_dataset(root: Path, seed: int, params: dict) -> None:
    T, W, H = params["n_frames"], params["width"], params["height"]
    scene = _Scene(np.random.default_rng([seed, 0]), W, H)
    detections: dict[str, dict[str, list]] = {"training": {}, "testing": {}}
    for i in range(params["n_train"]):
        rng = np.random.default_rng([seed, 1, i])
        actors = _normal_population(scene, rng, T)
        frames, _, detections["training"][f"{i + 1:02d}"] = _render_video(scene, actors, rng, T, False)
        _write_frames(root / "training" / "frames" / f"{i + 1:02d}", frames)
    order = [str(k) for k in np.random.default_rng([seed, 3]).permutation(KINDS)]
    labels, events = {}, {}
    (root / "testing" / "tracks").mkdir(parents=True)
    for i in range(params["n_test"]):
        vid = f"{i + 1:02d}"
        frames, masks, plan, detections["testing"][vid] = _test_video(scene, seed, i, order[i % len(order)],
                                                                      T)
        union = masks.any(axis=0)
        _write_frames(root / "testing" / "frames" / vid, frames)
        _write_masks(root / "testing" / "gt_masks" / vid, union)
        rows, spans = _tracks(masks)
        (root / "testing" / "tracks" / f"{vid}.txt").write_text("".join(r + "\n" for r in rows))
        labels[vid] = [int(v) for v in union.reshape(T, -1).any(axis=1)]
        events[vid] = [{"kind": kind, "spawn_frame": t0, **span}
                       for (kind, t0), span in zip(plan, spans, strict=False)]
    (root / "labels").mkdir()
    (root / "labels" / "frame_labels.json").write_text(
        "{\n" + ",\n".join(f'  "{k}": {json.dumps(v)}' for k, v in labels.items()) + "\n}\n")
    (root / "labels" / "events.json").write_text(json.dumps(events, indent=1, sort_keys=True) + "\n")
    _write_detections(root / "detections", detections, T)
    (root / "SYNTHETIC.md").write_text(_describe(seed, params, events, labels))
    (root / COMPLETE_MARKER).write_text(json.dumps({"generator_version": GENERATOR_VERSION, "seed": seed,
                                                    **params}, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------
def cache_name(seed: int = 0, **params) -> str:
    """Folder name :func:`ensure` uses: ``synthetic-s<seed>-<hash of the parameters>``.

    >>> cache_name(0) == cache_name(0, n_frames=120) != cache_name(0, n_frames=60)
    True
    """
    full = _check_params(params)
    key = json.dumps({"version": GENERATOR_VERSION, **full}, sort_keys=True)
    return f"synthetic-s{int(seed)}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def ensure(cache_dir: str | os.PathLike, *, seed: int = 0, **params) -> Path:
    """Return ``<cache_dir>/synthetic-s<seed>-<hash>``, generating it first unless it is complete.

    Safe to call from many threads, processes or Ray workers at once: a lock
    file (``<name>.lock``, ``fcntl.flock``) makes one of them generate while the
    others wait and then find the folder complete, and a complete folder is
    never replaced (see :func:`generate`), so a reader already inside it is
    undisturbed. Where locks do not work (some network file systems) several
    callers may generate, and the first complete copy is kept.
    """
    path = Path(cache_dir) / cache_name(seed, **params)
    if (path / COMPLETE_MARKER).is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(f"{path.name}.lock")):
        if not (path / COMPLETE_MARKER).is_file():  # not generated by whoever held the lock before us
            if path.exists() and not _replaceable(path):
                shutil.rmtree(path)  # a stray half-written folder under our own cache name
            generate(path, seed=seed, **params)
    return path


@contextlib.contextmanager
def _locked(lock_path: Path):
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed; never deleted) while the block runs.

    Without ``fcntl`` (Windows) or where the file system refuses locks, the
    block runs unlocked: the atomic publish alone still keeps one complete copy.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a+b") as f:
        with contextlib.suppress(OSError):  # e.g. a file system without locks
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


# ---------------------------------------------------------------------------
# the reference frame-difference baseline
# ---------------------------------------------------------------------------
def frame_difference_scores(frames: np.ndarray, block: int = 16) -> np.ndarray:
    """Per-frame maximum over ``block`` x ``block`` cells of the mean absolute difference to the previous
    frame.

    ``frames`` is (T, H, W) grayscale; frame 0 takes frame 1's score.

    >>> f = np.zeros((3, 32, 32), np.uint8); f[2, :16, :16] = 64
    >>> frame_difference_scores(f).tolist()
    [0.0, 0.0, 64.0]
    """
    f = np.asarray(frames, np.float32)
    T, H, W = f.shape
    if T < 2:
        return np.zeros(T)
    d = np.abs(np.diff(f, axis=0))
    hb, wb = max(1, H // block), max(1, W // block)
    d = d[:, :hb * block, :wb * block].reshape(T - 1, hb, block, wb, block).mean(axis=(2, 4))
    s = d.reshape(T - 1, -1).max(axis=1)
    return np.concatenate([s[:1], s]).astype(np.float64)
