"""``vadbench profile``, ``watch``, ``export``, ``new-plugin``: commands on fitted (or freshly built)
models."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path
from typing import Any

from ..argtypes import csv_list
from . import say


def fitted_model(args: Namespace, name: str) -> tuple[Any, Any]:
    """A model fitted (or reloaded from the cache) on the training videos of ``args.dataset``, and the
    dataset."""
    from ..data.folders import resolve_root
    from ..data.load import open_dataset
    from ..fit_cache import ModelCache
    from ..results import ResultsStore

    store = ResultsStore(args.results)
    dataset = open_dataset(args.dataset, {}, root=resolve_root(args.dataset, args.data_root),
                           cache_dir=store.root / "cache")
    return ModelCache(store, dataset, args.seed, args.device, progress=say).get(name)[0], dataset


def on_device(name: str, device: str, weights: dict | None = None) -> Any:
    """Model ``name`` built to run on ``device`` (its ``device`` setting), with ``weights`` if given.

    Fitting stays on the CPU (the model cache); a fitted model is timed on a GPU
    as a twin built there and loaded with its weights.
    """
    import vadbench

    if device == "cpu":
        model = vadbench.create_model(name)
    else:
        try:
            model = vadbench.create_model(name, device=device)
        except TypeError:
            model = None
        if model is None or (getattr(model, "config", None) or {}).get("device") != device:
            raise SystemExit(
                f"error: model {name} has no 'device' setting, so it cannot be timed on {device}")
    if weights is not None:
        model.load_state_dict(weights)
    return model


def check_device(device: str) -> None:
    """Stop with one line if ``device`` is not a torch device this machine has."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise SystemExit(f"error: --device {device}: not a device name (cpu, cuda, cuda:1, ...)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {device}: torch sees no CUDA device on this machine")


def cmd_profile(args: Namespace) -> int:
    from ..profile import format_profile_table, profile_models

    check_device(args.device)
    if args.dataset:  # fitted models (cached), timed end to end on the dataset's test videos
        untrained = set(csv_list(args.untrained)) if args.untrained else set()
        fits = {name: fitted_model(args, name) for name in args.models if name not in untrained}
        if not fits:
            raise SystemExit("error: --dataset needs at least one model that is fitted (not --untrained)")
        # speed does not depend on the weights: --untrained models (e.g. paper-sized ones) skip training
        models = [on_device(n, args.device) if n in untrained
                  else fits[n][0] if args.device == "cpu"
                  else on_device(n, args.device, fits[n][0].state_dict()) for n in args.models]
        videos = [v.unlabelled() for v in list(next(iter(fits.values()))[1].test)[: args.videos]]
    else:  # hot paths only, freshly built (models that need no fit to run, e.g. for GPU timing)
        models, videos = [on_device(name, args.device) for name in args.models], None
    if args.onnx:  # time the ONNX Runtime hot path beside torch (untrained weights: speed only)
        from ..export import export_onnx, onnx_twin

        out_dir = Path(args.onnx)
        for model in list(models):
            export_onnx(model, out_dir / f"{model.name}.onnx")
            models.append(onnx_twin(model, out_dir / f"{model.name}.onnx"))
    results = profile_models(models, batch_sizes=tuple(int(b) for b in csv_list(args.batch_sizes)),
                             rounds=args.rounds, warmup=args.warmup, videos=videos,
                             e2e_rounds=args.e2e_rounds, reference=args.reference, device=args.device,
                             progress=say)
    print(format_profile_table(results))
    if args.json:
        from ..atomic import atomic_write_json

        atomic_write_json(args.json, results)
    return 0


def cmd_watch(args: Namespace) -> int:
    """Fit (or reload) a model on a dataset's training videos, set its threshold on held-out ones, score
    SOURCE."""
    from ..model import RunContext
    from ..results import ResultsStore
    from ..watch import cached_fold_models, describe_calibration, held_out_threshold, watch

    model, dataset = fitted_model(args, args.model)  # scores SOURCE: fitted on all the training videos
    store = ResultsStore(args.results)
    ctx = RunContext(cache_dir=store.root / "cache", seed=args.seed, device=args.device, dataset=dataset.name,
                     progress=say)
    make = cached_fold_models(store, dataset, args.model, seed=args.seed, device=args.device)
    threshold, info = held_out_threshold(make, dataset.train, args.false_alarm_rate,
                                         folds=args.threshold_folds, ctx=ctx)
    calibration = describe_calibration(info)
    say(f"threshold {threshold:.6g}: {calibration}, {info['frames']} {dataset.name} training frames")
    out = watch(model, args.source, args.out, threshold=threshold, chunk=args.chunk, progress=say)
    out.update(threshold_calibration=calibration, calibration=info)
    print(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in out.items()}, indent=1))
    return 0


def cmd_export(args: Namespace) -> int:
    from ..export import export_onnx

    model, _ = fitted_model(args, args.model)
    out = Path(args.out or f"{args.model}.onnx")
    check = export_onnx(model, out)
    print(f"wrote {out}: ONNX Runtime matches torch within {check['max_abs_error']:.2e} on sample input")
    return 0


def cmd_new_plugin(args: Namespace) -> int:
    from ..scaffold import new_plugin

    out = new_plugin(args.name, args.out or args.name)
    print(f"wrote {out}: pip install -e {out} && vadbench list models {args.name}")
    return 0
