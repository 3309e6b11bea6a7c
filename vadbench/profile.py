"""Speed profiling: model-only and end-to-end throughput, latency, size, memory, machine.

The protocol, one documented way for every model (after timm's ``benchmark.py``
and pytest-benchmark):

* **Model-only throughput** times ``model.forward(model.example_input(b))``, the
  model's own hot path, for each batch size ``b`` (batch 1 is always included).
  The input is built once, outside the timer; the call runs under
  ``torch.inference_mode()`` (harmless for numpy models). Each model first runs
  ``warmup`` untimed calls, then ``rounds`` timed calls. One timed call is one
  round; the clock is ``time.perf_counter`` and on a GPU the device is
  synchronised before and after the call, with cuDNN's autotuner on (it picks its
  fastest kernels for each input shape during warm-up). A batch of ``b`` is ``b`` frames, so a
  round gives ``b / seconds`` frames/s; we report the median and the
  interquartile range (IQR) over rounds.
* **Interleaving.** Rounds of the models run in turn, ``A B C A B C ...``, so a
  machine that slows down or speeds up in the middle affects every model alike.
  Ratios to a ``reference`` model are medians of per-round paired ratios, which
  cancels such drift further.
* **Latency** p50 and p95 (ms) are percentiles of the batch-1 round times.
* **End-to-end throughput** (``fps_e2e``) is ``frames / seconds`` of
  ``model.score(video)`` over the given test videos: from encoded frames on disk
  to per-frame scores, so decoding, resizing, object detection and
  post-processing are inside the timer. ``score`` must read and decode the
  video itself; a model that keeps its own decoded-frame cache would measure
  less than the full path, which is the model's responsibility (pass videos
  whose cache is cold). The rounds over videos are interleaved across models
  too; we report the median over ``e2e_rounds`` rounds.
* **Peak memory** (``peak_mem_mb``): on a CUDA device, ``torch.cuda.max_memory_allocated``
  over the model's warm-up calls at every batch size (weights included). On
  the CPU it is the growth of the process's resident-set high-water mark
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) during those calls: a lower
  bound on the memory the model needs beyond what the process had already
  touched, 0 when the process had been bigger before.
* **Parameters and GMACs**: :func:`count_params`, :func:`count_gmacs`.
* **Machine**: :func:`vadbench.machine.machine_info`, stored with every result.

>>> import numpy as np
>>> class Twice:
...     name = "twice"
...     def example_input(self, b): return np.ones((b, 4), np.float32)
...     def forward(self, x): return 2 * x
>>> [r] = profile_models([Twice()], batch_sizes=(1, 2), warmup=1, rounds=3)
>>> r["model"], r["params"], r["gmacs"], sorted(r["fps_model"]), r["fps_e2e"]
('twice', 0, None, ['1', '2'], None)
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .machine import machine_info, machine_summary  # they lived here: vadbench.profile.machine_info works
from .progress import progress as track

TIMER = time.perf_counter

__all__ = ["count_gmacs", "count_params", "format_profile_table", "machine_info", "machine_summary",
           "profile_models"]


# --------------------------------------------------------------------------- size


def _torch_modules(model: Any) -> list:
    import torch

    if isinstance(model, torch.nn.Module):
        return [model]
    found: list[torch.nn.Module] = []
    # a private attribute (``_infer``: an inference copy rebuilt from the weights) is a cache, not the model
    candidates = ([v for k, v in vars(model).items() if not k.startswith("_")]
                  if hasattr(model, "__dict__") else [])
    module = getattr(model, "module", None)
    if module is not None:
        candidates.append(module)
    for value in candidates:
        values = value.values() if isinstance(value, Mapping) else (
            value if isinstance(value, (list, tuple)) else [value])
        found.extend(v for v in values if isinstance(v, torch.nn.Module))
    return found


def count_params(model: Any) -> int:
    """Number of torch parameters the model holds, 0 if none.

    Looks at the model itself if it is an ``nn.Module``, else at its public
    attributes that are ``nn.Module`` (also inside a list, tuple or dict
    attribute) and at ``model.module``; a parameter shared by two of them counts
    once. Private attributes (a leading ``_``) are caches derived from the
    weights, such as a BatchNorm-folded inference copy, and do not count.

    >>> import torch
    >>> class M:
    ...     def __init__(self):
    ...         self.net = torch.nn.Linear(3, 2); self.alias = self.net
    ...         self._infer = torch.nn.Linear(3, 2)  # a derived copy
    >>> count_params(M()), count_params(object())
    (8, 0)
    """
    seen: dict[int, int] = {}
    for module in _torch_modules(model):
        for p in module.parameters():
            seen[id(p)] = p.numel()
    return int(sum(seen.values()))


def count_gmacs(model: Any) -> float | None:
    """Multiply-accumulates per frame, in G: counted flops of ``forward(example_input(1))`` / 2 / 1e9.

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` (matrix products,
    convolutions, attention; element-wise ops are not counted). Returns None
    when nothing is counted, e.g. for a model that runs no torch ops.

    >>> import torch
    >>> class Conv:
    ...     net = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    ...     def example_input(self, b): return torch.zeros(b, 1, 10, 10)
    ...     def forward(self, x): return self.net(x)
    >>> count_gmacs(Conv()) * 1e9  # 10*10 outputs x 3*3 taps
    900.0
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    batch = model.example_input(1)
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.forward(batch)
    flops = counter.get_total_flops()
    return flops / 2 / 1e9 if flops else None


# --------------------------------------------------------------------------- timing


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


@contextlib.contextmanager
def _memory_probe(device: str, out: dict):
    """Measure peak memory (MB) of the enclosed calls into ``out["mb"]`` (see module notes)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(device)
        yield
        out["mb"] = torch.cuda.max_memory_allocated(device) / 1024**2
    else:
        import resource  # POSIX only

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        yield
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
        out["mb"] = max(0, after - before) * scale / 1024**2


def _timed(fn: Callable[[], Any], device: str) -> float:
    _sync(device)
    t0 = TIMER()
    fn()
    _sync(device)
    return TIMER() - t0


def _median_iqr(values: Sequence[float]) -> tuple[float, float]:
    q1, q2, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(q2), float(q3 - q1)


def _name_models(models: Iterable[Any] | Mapping[str, Any]) -> dict[str, Any]:
    items = models.items() if isinstance(models, Mapping) else (
        (getattr(m, "name", type(m).__name__), m) for m in models)
    named: dict[str, Any] = {}
    for name, model in items:
        key, i = str(name), 2
        while key in named:
            key, i = f"{name}#{i}", i + 1
        named[key] = model
    return named


def profile_models(models: Iterable[Any] | Mapping[str, Any], *, batch_sizes: Sequence[int] = (1, 8, 32),
                   warmup: int = 3, rounds: int = 10, videos: Iterable[Any] | None = None,
                   e2e_rounds: int = 3, reference: str | None = None, device: str = "cpu",
                   stage_frames: int = 2, progress: Callable[[str], Any] | None = None) -> list[dict]:
    """Profile several models in one interleaved session; one result dict per model.

    Parameters
    ----------
    models : sequence of models, or mapping name -> model
        Objects with ``example_input(b)`` and ``forward(batch)`` (and ``score(video)``
        when ``videos`` is given). Names come from ``model.name``; a repeated
        name gets a ``#2`` suffix.
    batch_sizes : sequence of int
        Batch sizes of the model-only measurement; 1 is always added.
    warmup, rounds : int
        Untimed calls per model and batch size, then timed rounds (one call each).
    videos : iterable of Video, optional
        Test videos for the end-to-end figure; without them ``fps_e2e`` is None.
    e2e_rounds : int
        Passes over ``videos`` per model, interleaved across models.
    reference : str, optional
        Name of one of the models; every result then has
        ``ratio_fps_model_vs_<reference>`` (batch 1) and ``ratio_fps_e2e_vs_<reference>``,
        medians of per-round paired ratios.
    device : str
        ``"cpu"`` or ``"cuda[:i]"``: where to synchronise and measure memory. The
        models and their ``example_input`` must already live there.
    stage_frames : int
        Frames per video (or of the example input, without videos) on which each
        of a model's ``profile_stages()`` is timed. A stage is work the model's
        input needs but its ``forward``/``score`` does not do (a teacher reading
        its boxes from a detections file: the detector); its median seconds per
        frame are added to every throughput of that model, so that nothing it
        needs is shown as free. The figures without it stay in the result
        (``*_without_stages``) beside ``stages``.
    progress : callable, optional
        Called with a one-line message as the profile advances.

    Returns
    -------
    list of dict
        Keys ``model, params, gmacs, fps_model_b1, fps_model_best, best_batch,
        fps_model, latency_ms_p50, latency_ms_p95, fps_e2e, e2e_frames,
        peak_mem_mb, machine, protocol`` (+ ratios). ``fps_model`` maps the
        batch size *as a string* (JSON keys are strings) to ``{"median", "iqr",
        "ms_median"}``; a batch size that ran out of memory has ``"error"`` and
        None figures instead.
    """
    import torch

    named = _name_models(models)
    if not named:
        return []
    if reference is not None and reference not in named:
        raise ValueError(f"reference model {reference!r} is not among the profiled models {list(named)}")
    if rounds < 1 or warmup < 0 or e2e_rounds < 1:
        raise ValueError("rounds and e2e_rounds must be >= 1 and warmup >= 0")
    sizes = sorted({int(b) for b in batch_sizes} | {1})
    if sizes[0] < 1:
        raise ValueError(f"batch sizes must be >= 1, got {list(batch_sizes)}")
    say = progress or (lambda message: None)

    cuda = str(device).startswith("cuda")
    autotune = torch.backends.cudnn.benchmark
    # on a GPU, cuDNN picks its fastest kernels for each shape in warm-up
    torch.backends.cudnn.benchmark = cuda
    try:
        with torch.inference_mode():
            fps, errors, step_s, peak = _model_only(named, sizes, warmup, rounds, device, say,
                                                    show=progress is not None)
            video_list = list(videos) if videos is not None else []
            e2e_fps, e2e_frames = _end_to_end(named, video_list, e2e_rounds, device, say,
                                              show=progress is not None)
            stages = _stages(named, video_list, e2e_rounds, stage_frames, device, say)
    finally:
        torch.backends.cudnn.benchmark = autotune

    machine = machine_info()
    protocol = {
        "warmup": warmup, "rounds": rounds, "batch_sizes": sizes, "device": str(device),
        "interleaved": True, "threads": torch.get_num_threads(), "timer": "time.perf_counter",
        "inference_mode": True, "synchronize": cuda, "cudnn_benchmark": cuda,
        "e2e_rounds": e2e_rounds if video_list else 0, "e2e_videos": len(video_list),
        "stage_frames_per_video": stage_frames,
        "memory": ("torch.cuda.max_memory_allocated" if cuda
                   else "ru_maxrss growth during warm-up (lower bound)"),
        "reference": reference,
    }
    results = []
    for name, model in named.items():
        extra = sum(st["s_per_frame"] for st in stages[name].values())  # seconds per frame of the stages
        without = {"fps_model_b1": _median_or_none(fps[name].get(1)),
                   "fps_e2e": _median_or_none(e2e_fps[name])}
        if extra:
            fps[name] = {b: [_with_extra(f, extra) for f in v] for b, v in fps[name].items()}
            e2e_fps[name] = [_with_extra(f, extra) for f in e2e_fps[name]]
            step_s[name] = [t + extra for t in step_s[name]]
        per_batch = {str(b): _batch_summary(b, fps[name].get(b), errors[name].get(b)) for b in sizes}
        best = max((b for b in sizes if per_batch[str(b)]["median"] is not None),
                   key=lambda b: per_batch[str(b)]["median"])
        lat = np.percentile(np.asarray(step_s[name]) * 1000.0, [50, 95])
        result = {
            "model": name,
            "params": count_params(model),
            "gmacs": count_gmacs(model),
            "fps_model_b1": per_batch["1"]["median"],
            "fps_model_best": per_batch[str(best)]["median"],
            "best_batch": best,
            "fps_model": per_batch,
            "latency_ms_p50": float(lat[0]),
            "latency_ms_p95": float(lat[1]),
            "fps_e2e": float(np.median(e2e_fps[name])) if e2e_fps[name] else None,
            "e2e_frames": e2e_frames,
            "peak_mem_mb": round(peak[name], 3),
            "machine": dict(machine),
            "protocol": dict(protocol),
        }
        if stages[name]:
            result["stages"] = stages[name]
            result.update({f"{k}_without_stages": v for k, v in without.items()})
        if reference is not None:  # medians of per-round paired ratios
            result[f"ratio_fps_model_vs_{reference}"] = float(
                np.median(np.divide(fps[name][1], fps[reference][1])))
            result[f"ratio_fps_e2e_vs_{reference}"] = (
                float(np.median(np.divide(e2e_fps[name], e2e_fps[reference]))) if e2e_fps[name] else None)
        results.append(result)
    return results


def _model_only(named: dict[str, Any], sizes: list[int], warmup: int, rounds: int, device: str,
                say: Callable[[str], Any], *, show: bool = False):
    """Warm-up (memory measured), then interleaved timed rounds, per batch size.

    Returns frames/s per round ``fps[name][b]``, out-of-memory messages
    ``errors[name][b]`` (batch > 1 only), batch-1 call times ``step_s[name]``
    and peak memory ``peak[name]`` (MB).
    """
    fps: dict[str, dict[int, list[float]]] = {n: {} for n in named}
    errors: dict[str, dict[int, str]] = {n: {} for n in named}
    step_s: dict[str, list[float]] = {n: [] for n in named}
    peak: dict[str, float] = {n: 0.0 for n in named}
    for b in sizes:
        active: dict[str, tuple] = {}
        for name, model in named.items():
            say(f"profile: {name} batch {b}: warm-up")
            mem: dict[str, float] = {}
            try:
                batch = model.example_input(b)
                with _memory_probe(device, mem):
                    for _ in range(warmup):
                        model.forward(batch)
                    _sync(device)
            except Exception as exc:
                if b == 1 or not _is_oom(exc):
                    raise
                first = str(exc).splitlines()[0] if str(exc) else ""
                errors[name][b] = f"{type(exc).__name__}: {first}"
                if str(device).startswith("cuda"):
                    import torch

                    torch.cuda.empty_cache()
                continue
            peak[name] = max(peak[name], mem.get("mb", 0.0))
            active[name] = (model, batch)
            fps[name][b] = []
        say(f"profile: batch {b}: {rounds} interleaved rounds of {len(active)} models")
        for _ in track(range(rounds), desc=f"profile: batch {b}", unit="round", show=show):
            for name, (model, batch) in active.items():
                def forward(m: Any = model, x: Any = batch) -> Any:
                    return m.forward(x)

                seconds = _timed(forward, device)
                fps[name][b].append(b / max(seconds, 1e-9))  # finite, so JSON-safe
                if b == 1:
                    step_s[name].append(seconds)
    return fps, errors, step_s, peak


def _end_to_end(named: dict[str, Any], videos: list, rounds: int, device: str, say: Callable[[str], Any], *,
                show: bool = False):
    """Interleaved passes of ``score`` over ``videos``: frames/s per round and model, and the frame count."""
    e2e_fps: dict[str, list[float]] = {n: [] for n in named}
    if not videos:
        return e2e_fps, 0
    frames = int(sum(len(v) for v in videos))
    for r in track(range(rounds), desc="profile: end to end", unit="round", show=show):
        for name, model in named.items():
            say(f"profile: {name} end-to-end round {r + 1}/{rounds} ({len(videos)} videos)")
            def score(v: Any, m: Any = model) -> Callable[[], Any]:
                return lambda: m.score(v)

            seconds = sum(_timed(score(v), device) for v in videos)
            e2e_fps[name].append(frames / max(seconds, 1e-9))
    return e2e_fps, frames


def _median_or_none(values) -> float | None:
    return float(np.median(values)) if values else None


def _with_extra(fps: float, extra_s: float) -> float:
    """Frames per second once ``extra_s`` seconds per frame are added.

    >>> round(_with_extra(100.0, 0.01), 6)
    50.0
    """
    return 1.0 / (1.0 / max(fps, 1e-12) + extra_s)


def _stages(named: dict[str, Any], videos: list, rounds: int, n_frames: int, device: str,
            say: Callable[[str], Any]) -> dict[str, dict]:
    """Per model, ``{stage: {"s_per_frame", "frames", "rounds"}}`` of its ``profile_stages()``.

    Each stage runs on the first ``n_frames`` frames of every video (colour, as
    decoded), or on the model's example frames without videos; the median over
    ``rounds`` of seconds per frame.
    """
    out: dict[str, dict] = {n: {} for n in named}
    for name, model in named.items():
        stages = model.profile_stages() if hasattr(model, "profile_stages") else {}
        if not stages:
            continue
        if videos:
            clips = [np.stack([f for _, f in zip(range(n_frames), v.frames(), strict=False)]) for v in videos]
        else:
            example = model.example_input(1)
            clips = [np.asarray(example[0] if isinstance(example, tuple) else example)[:n_frames]]
        frames = sum(len(c) for c in clips)
        for stage, fn in stages.items():
            fn(clips[0][:1])  # warm-up
            per_frame = []
            for r in range(rounds):
                say(f"profile: {name} stage {stage} round {r + 1}/{rounds} ({frames} frames)")
                def run(c: np.ndarray, fn: Callable[[np.ndarray], Any] = fn) -> Callable[[], Any]:
                    return lambda: fn(c)

                per_frame.append(sum(_timed(run(c), device) for c in clips) / frames)
            out[name][stage] = {"s_per_frame": float(np.median(per_frame)), "frames": frames,
                                "rounds": rounds}
    return out


def _batch_summary(b: int, fps: list[float] | None, error: str | None) -> dict:
    if error is not None or not fps:
        return {"median": None, "iqr": None, "ms_median": None, "error": error or "not measured"}
    med, iqr = _median_iqr(fps)
    return {"median": med, "iqr": iqr, "ms_median": 1000.0 * b / med}


# --------------------------------------------------------------------------- table


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_profile_table(results: Sequence[Mapping]) -> str:
    """Plain-text table of :func:`profile_models` results, with the machine and protocol below.

    >>> print(format_profile_table([{"model": "m", "params": 1500000, "gmacs": None,
    ...     "fps_model_b1": 10.0, "fps_model_best": 80.0, "best_batch": 8,
    ...     "latency_ms_p50": 100.0, "latency_ms_p95": 120.0, "fps_e2e": None, "peak_mem_mb": 3.0}]))
    model  params(M)  GMACs  fps b1  fps best (batch)  p50 ms  p95 ms  fps e2e  peak MB
    m      1.50       -      10.0    80.0 (8)          100.00  120.00  -        3.0
    """
    if not results:
        return "(no models profiled)"
    ratio_keys = sorted({k for r in results for k in r if k.startswith("ratio_")})
    header = ["model", "params(M)", "GMACs", "fps b1", "fps best (batch)", "p50 ms", "p95 ms", "fps e2e",
              "peak MB"] + [k.replace("ratio_fps_", "x ").replace("_vs_", " vs ") for k in ratio_keys]
    rows = []
    for r in results:
        rows.append([
            str(r["model"]),
            f"{r.get('params', 0) / 1e6:.2f}",
            _fmt(r.get("gmacs"), 3),
            _fmt(r.get("fps_model_b1")),
            f"{_fmt(r.get('fps_model_best'))} ({r.get('best_batch', '-')})",
            _fmt(r.get("latency_ms_p50"), 2),
            _fmt(r.get("latency_ms_p95"), 2),
            _fmt(r.get("fps_e2e")),
            _fmt(r.get("peak_mem_mb")),
        ] + [_fmt(r.get(k), 2) for k in ratio_keys])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    first = results[0]
    if first.get("machine"):
        lines.append(f"machine: {machine_summary(first['machine'])}")
    proto = first.get("protocol")
    if proto:
        lines.append(f"protocol: {proto['warmup']} warm-up + {proto['rounds']} interleaved rounds per batch "
                     f"{proto['batch_sizes']} on {proto['device']}, {proto['threads']} threads; "
                     "median frames/s")
    return "\n".join(lines)
