"""The ``vadbench`` console script.

    vadbench list models|datasets [PATTERN]
    vadbench datasets check NAME --root PATH
    vadbench synth --out DIR [--seed N]
    vadbench run [--suite NAME | --models A,B --datasets D] [--data-root PATH] [--seeds 0,1,2]
    vadbench profile MODEL [MODEL ...] [--dataset D --data-root PATH] [--reference MODEL]
    vadbench eval --results DIR            (recompute every metric from stored scores)
    vadbench leaderboard --results DIR [--dataset D] [--out DIR] [--latex]
    vadbench pareto --results DIR --dataset D [--x fps_e2e] [--y micro_auc] [--out DIR]
    vadbench curves --results DIR --dataset D --models A,B [--videos 01,04] --out PATH
    vadbench watch SOURCE --model NAME [--dataset D --data-root PATH] [--false-alarm-rate 0.01]
    vadbench export MODEL --format onnx [--dataset D --data-root PATH] [--out FILE]
    vadbench new-plugin NAME [--out DIR]

Errors in the input (a missing folder, a corrupt frame, an unknown model) are
printed as one line naming the file or name at fault; exit status 2.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from vadbench.errors import VadbenchError

DEFAULT_RESULTS = "vadbench-results"


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def count_at_least(minimum: int):
    """An argparse type: an integer of at least ``minimum`` (else argparse's one-line usage error).

    >>> count_at_least(1)("3"), count_at_least(0)("0")
    (3, 0)
    """
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its message for a non-integer
    return parse


def rate(text: str) -> float:
    """An argparse type: a fraction in (0, 1), e.g. a false-alarm rate (else argparse's one-line usage error).

    >>> rate("0.01")
    0.01
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {value}")
    return value


def json_of(kind: type):
    """An argparse type: JSON text that decodes to a ``kind`` (``dict`` or ``list``), else a one-line usage error.

    >>> json_of(dict)('{"epochs": 4}'), json_of(list)("[]")
    ({'epochs': 4}, [])
    >>> json_of(dict)("{epochs: 4}")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: not JSON (Expecting property name enclosed in double quotes at column 2): '{epochs: 4}'
    """
    def parse(text: str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"not JSON ({exc.msg} at column {exc.colno}): {text!r}") from None
        if not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"must be a JSON {'object' if kind is dict else 'list'}, got {text!r}")
        return value

    parse.__name__ = f"JSON {kind.__name__}"
    return parse


def output_file(text: str) -> str:
    """An argparse type: a file that can be written (its folder exists and is writable, or can be created).

    Checked when the arguments are parsed, so a mistyped path ends the command before it
    computes anything rather than after.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> output_file(os.path.join(d, "new", "report.json")) == os.path.join(d, "new", "report.json")
    True
    >>> output_file(d)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: is a folder, not a file: ...
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"is a folder, not a file: {text}")
    folder = path.parent
    while not folder.exists():  # the nearest folder that exists must be a folder we may write in
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is a file, so {text} cannot be written")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {folder}, so {text} cannot be written")
    return text


def name_arg(what: str, *, many: bool = False):
    """An argparse type: a name safe in a file name (:func:`vadbench.names.safe_name`), else a one-line usage error.

    With ``many`` the text is a comma-separated list, each part checked; the text is returned as given.

    >>> name_arg("dataset")("ped2"), name_arg("model", many=True)("motion-diff,motion-flow")
    ('ped2', 'motion-diff,motion-flow')
    >>> name_arg("dataset")("../x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: dataset name '../x' is not safe in a file name (...)
    """
    from vadbench.names import UnsafeNameError, safe_name

    def parse(text: str) -> str:
        try:
            for part in _csv(text) if many else [text]:
                safe_name(part, what=what)
        except UnsafeNameError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    parse.__name__ = f"{what} name"
    return parse


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cmd_list(args) -> int:
    import vadbench
    from vadbench.plugins import dataset_registry, model_registry

    registry = model_registry() if args.what == "models" else dataset_registry()
    names = (vadbench.list_models if args.what == "models" else vadbench.list_datasets)(args.pattern)
    for name in names:
        entry = registry.entry(name)
        print(f"{name:28s} {entry.family:11s} {entry.plugin:22s} {entry.description}")
    return 0


def cmd_datasets_check(args) -> int:
    import vadbench

    options = {"root": args.root} if args.root else {}
    if args.labels:
        options["labels"] = args.labels
    if args.detections:
        options["detections"] = args.detections
    dataset = vadbench.create_dataset(args.name, **options)
    summary = dataset.summary()
    summary.update(dataset.detection_summary())  # reads the box files: proves they pair with the videos
    masks = [v for v in dataset.test if v.has_masks]
    if args.deep:  # decode every frame and mask once: proves the folder is whole
        for split in (dataset.train, dataset.test):
            for v in split:
                for _ in v.frames(gray=True):
                    pass
        for v in masks:
            v.masks()
        summary["decoded"] = True
    summary["test_regions"] = sum(len(v.tracks) for v in dataset.test if v.tracks is not None)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        for key, value in summary.items():
            print(f"{key:24s} {value}")
    return 0


def cmd_synth(args) -> int:
    from vadbench.data.synthetic import generate

    out = generate(args.out, seed=args.seed)
    print(out)
    return 0


def _cells_from_args(args):
    from vadbench.runner import Cell
    from vadbench.suites import load_suite, suite_cells

    seeds = [int(s) for s in _csv(args.seeds)] if args.seeds else None
    if args.suite and args.models and not args.datasets:  # a part of a suite, with the suite's settings
        suite = load_suite(args.suite)
        wanted = _csv(args.models)
        unknown = sorted(set(wanted) - {m["name"] for m in suite["models"]})
        if unknown:
            raise SystemExit(f"error: suite {suite['name']} has no model {', '.join(unknown)}")
        return suite, [c for c in suite_cells(suite, quick=args.quick, seeds=seeds) if c.model in wanted]
    if args.models or args.datasets:
        if not (args.models and args.datasets):
            raise SystemExit("error: --models goes with --datasets, or with --suite to run part of a suite")
        return None, [Cell(model=m, dataset=d, seed=s) for d in _csv(args.datasets)
                      for m in _csv(args.models) for s in (seeds or [0])]
    suite = _installed_part(load_suite(args.suite or "synthetic"))
    return suite, suite_cells(suite, quick=args.quick, seeds=seeds)


def _installed_part(suite: dict) -> dict:
    """A shipped suite without the models no installed plugin registers (named in a notice on stderr).

    The suites under ``vadbench/suites/`` name models from the plugin packages,
    which a user may not have installed. A suite file of the user's own is taken
    as written: a model it names that does not exist is a failed cell that says
    so (with the closest names), not a silent skip.
    """
    import vadbench
    from vadbench.suites import HERE

    if Path(suite.get("file", "")).resolve().parent != HERE.resolve():
        return suite
    known = set(vadbench.list_models())
    missing = [m["name"] for m in suite["models"] if m["name"] not in known]
    if not missing:
        return suite
    if len(missing) == len(suite["models"]):
        raise SystemExit(f"error: suite {suite['name']}: none of its models is installed ({', '.join(missing)})")
    print(f"suite {suite['name']}: skipping {', '.join(missing)}: not installed "
          "(pip install -e plugins/<package> adds them)", file=sys.stderr)
    return {**suite, "models": [m for m in suite["models"] if m["name"] in known]}


def cmd_run(args) -> int:
    from vadbench.results import ResultsStore
    from vadbench.runner import run_grid

    suite, cells = _cells_from_args(args)
    store = ResultsStore(args.results)
    command = args.command
    from vadbench.executors import get_executor

    options = {"address": args.address, "gpus_per_cell": 1 if args.device.startswith("cuda") else 0}
    executor = get_executor(args.executor, **(options if args.executor == "ray" else {}))
    start = time.perf_counter()
    interrupted = False
    # SIGINT too: a job started in the background of a script has it ignored, and kill -INT must still stop it
    handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)} \
        if _main_thread() else {}
    try:
        records = [] if args.publish_only else run_grid(
            cells, store, executor=executor, data_root=args.data_root, device=args.device, command=command,
            force=args.force, progress=_say)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the finished cells are kept, and published below
        interrupted, records = True, []
        print("interrupted: publishing the finished cells; rerun the same command to complete the rest",
              file=sys.stderr)
    finally:
        for sig, previous in handlers.items():
            signal.signal(sig, previous)
    duration = time.perf_counter() - start
    failed = [r for r in records if r.get("status") == "failed"]
    datasets = sorted({c.dataset for c in cells})
    out_dir = Path(args.leaderboards or Path(args.results) / "leaderboards")
    for ds in datasets:
        _publish(store, ds, out_dir, command=command, duration=duration, suite=suite)
    for r in failed:
        print(f"FAILED {r['cell']}: {r.get('error')}", file=sys.stderr)
    return 130 if interrupted else 1 if failed else 0


def _interrupt(signum, frame):
    """SIGTERM (a scheduler's stop) and SIGINT handled like Ctrl-C: stop the grid, keep and publish what finished."""
    raise KeyboardInterrupt


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _publish(store, dataset: str, out_dir: Path, *, command: str, duration=None, suite=None) -> None:
    """Write the leaderboard, Pareto plot, manifest (and reproduction table) of ``dataset`` into ``out_dir``."""
    from vadbench.atomic import atomic_write_json
    from vadbench.leaderboard import aggregate, write_leaderboard
    from vadbench.names import safe_name
    from vadbench.pareto import load_literature, plot_pareto
    from vadbench.profile import machine_info
    from vadbench.provenance import commits_of, provenance
    from vadbench.results import compute_seconds
    from vadbench.runner import git_commit

    safe_name(dataset, what="dataset")  # it names the files below
    records = store.records(dataset=dataset)
    if not records:
        return
    machine = machine_info()
    paths = write_leaderboard(records, out_dir, dataset, command=command, commit=commits_of(records),
                              machine=machine)
    literature_file = Path(__file__).resolve().parents[1] / "leaderboards" / "literature.csv"
    literature = load_literature(literature_file, dataset) if literature_file.exists() else None
    rows = [r for r in aggregate(records) if str(r.get("status", "ok")).startswith("ok")]
    plots = plot_pareto(rows, x="fps_e2e", y="micro_auc", out_base=out_dir / f"{dataset}_pareto",
                        title=f"{dataset}: end-to-end speed vs micro AUC", machine=machine,
                        literature=literature)
    if suite and literature is not None and any(m.get("reproduces") for m in suite.get("models", [])):
        from vadbench.atomic import atomic_write_text
        from vadbench.profile import machine_summary
        from vadbench.reproduction import render_reproduction, reproduction_rows

        where = machine_summary(machine) if isinstance(machine, dict) else str(machine)
        entries = reproduction_rows(rows, load_literature(literature_file, None), suite)
        atomic_write_text(out_dir / f"{dataset}_reproduction.md", render_reproduction(entries, dataset, machine=where))
    # the cells' own commits and source hashes (vadbench.provenance.provenance): a board's cells may come from
    # many commits; "published_from" is only the checkout that wrote these files
    atomic_write_json(out_dir / f"{dataset}_manifest.json", {
        "dataset": dataset, "command": command, "published_from": git_commit(), "machine": machine,
        "duration_seconds": duration, "compute_seconds": compute_seconds(records),
        "suite": suite and suite.get("file"),
        "results": str(store.root), "cells": sorted(r["cell"] for r in records), **provenance(records)})
    md = Path(paths["md"]) if isinstance(paths, dict) and "md" in paths else out_dir / f"{dataset}.md"
    if md.exists():
        print(md.read_text())
    for p in plots:
        print(f"wrote {p}", file=sys.stderr)


def cmd_leaderboard(args) -> int:
    from vadbench.results import ResultsStore

    store = ResultsStore(args.results)
    datasets = [args.dataset] if args.dataset else sorted({r["dataset"]["name"] for r in store.records()})
    for ds in datasets:
        from vadbench.leaderboard import write_leaderboard
        from vadbench.provenance import commits_of

        records = store.records(dataset=ds)
        paths = write_leaderboard(records, Path(args.out), ds, command=args.command,
                                  commit=commits_of(records), latex=args.latex)
        print(Path(paths["md"]).read_text())
    return 0


def cmd_pareto(args) -> int:
    from vadbench.leaderboard import aggregate
    from vadbench.pareto import load_literature, plot_pareto
    from vadbench.profile import machine_info
    from vadbench.results import ResultsStore

    store = ResultsStore(args.results)
    rows = [r for r in aggregate(store.records(dataset=args.dataset)) if str(r.get("status", "ok")).startswith("ok")]
    literature = load_literature(args.literature, args.dataset) if args.literature else None
    for p in plot_pareto(rows, x=args.x, y=args.y, out_base=Path(args.out) / f"{args.dataset}_pareto",
                         title=f"{args.dataset}: {args.x} vs {args.y}", machine=machine_info(),
                         literature=literature):
        print(p)
    return 0


def cmd_eval(args) -> int:
    """Recompute every record's metrics from its stored scores and the dataset's labels."""
    from vadbench.atomic import atomic_write_json
    from vadbench.results import ResultsStore
    from vadbench.runner import evaluate_scores, open_dataset

    store = ResultsStore(args.results)
    worst = 0.0
    records = store.records(status="ok")
    if args.per_video:
        records = [r for r in records if fnmatch.fnmatch(r["cell"], args.per_video)]
        if not records:
            raise VadbenchError(f"{store.root}: no finished cell matches {args.per_video!r}")
    for record in records:
        ds = record["dataset"]
        root = None if ds["name"] == "synthetic" else ds.get("root")
        dataset = open_dataset(ds["name"], ds.get("options") or {}, root=root, cache_dir=store.root / "cache")
        scores = store.load_scores(record)
        if args.per_video:
            print(_breakdown_table(record["cell"], dataset, scores))
            continue
        regions = store.load_regions(record) if hasattr(store, "load_regions") else {}
        metrics = evaluate_scores(dataset, scores, regions or {}, seed=record["seed"])
        differs = 0.0
        for key in ("micro_auc", "macro_auc", "rbdc", "tbdc"):
            a, b = record["metrics"].get(key), metrics.get(key)
            if a is not None and b is not None:
                differs = max(differs, abs(a - b))
        worst = max(worst, differs)
        added = sorted(set(metrics) - set(record["metrics"]))
        if args.add_missing and added and differs < 1e-9:  # metrics defined after the cell ran, nothing else
            atomic_write_json(store.record_path(record["cell"]),
                              {**record, "metrics": {**metrics, **record["metrics"],
                                                     "conventions": {**metrics["conventions"],
                                                                     **record["metrics"].get("conventions", {})}}})
            print(f"{record['cell']}: added {', '.join(added)}")
        print(f"{record['cell']:60s} micro {metrics['micro_auc']:.4f} (stored "
              f"{record['metrics']['micro_auc']:.4f})")
    if args.per_video:
        return 0
    print(f"largest difference from stored metrics: {worst:.2e}")
    return 0 if worst < 1e-9 else 1


def _breakdown_table(cell: str, dataset, scores: dict) -> str:
    """Markdown table of :func:`vadbench.metrics.video_breakdown` for one cell, with the dataset's conventions."""
    from vadbench.metrics import video_breakdown

    conv = {k: dataset.conventions[k] for k in ("sigma", "normalize", "skip_first") if k in dataset.conventions}
    videos = list(dataset.test)
    rows = video_breakdown([scores[v.id] for v in videos], [v.labels for v in videos],
                           video_ids=[v.id for v in videos], **conv)
    fmt = lambda x, spec: "-" if x is None else format(x, spec)
    lines = [f"{cell} ({', '.join(f'{k}={v}' for k, v in conv.items())})", "",
             "| video | frames | anomalous | AUC alone | median normal | median anomalous | micro AUC without it |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['video']} | {r['frames']} | {r['anomalous']:.0%} | {fmt(r['auc'], '.3f')} | "
              f"{fmt(r['normal_median'], '.3g')} | {fmt(r['anomalous_median'], '.3g')} | "
              f"{fmt(r['micro_without'], '.4f')} |" for r in rows]
    return "\n".join(lines) + "\n"


def _on_device(name: str, device: str, weights: dict | None = None):
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
            raise SystemExit(f"error: model {name} has no 'device' setting, so it cannot be timed on {device}")
    if weights is not None:
        model.load_state_dict(weights)
    return model


def _check_device(device: str) -> None:
    """Stop with one line if ``device`` is not a torch device this machine has."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise SystemExit(f"error: --device {device}: not a device name (cpu, cuda, cuda:1, ...)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {device}: torch sees no CUDA device on this machine")


def cmd_profile(args) -> int:
    from vadbench.profile import format_profile_table, profile_models

    _check_device(args.device)
    if args.dataset:  # fitted models (cached), timed end to end on the dataset's test videos
        untrained = set(_csv(args.untrained)) if args.untrained else set()
        fitted = {name: _fitted(args, name) for name in args.models if name not in untrained}
        if not fitted:
            raise SystemExit("error: --dataset needs at least one model that is fitted (not --untrained)")
        # speed does not depend on the weights: --untrained models (e.g. paper-sized ones) skip training
        models = [_on_device(n, args.device) if n in untrained
                  else fitted[n][0] if args.device == "cpu"
                  else _on_device(n, args.device, fitted[n][0].state_dict()) for n in args.models]
        videos = [v.unlabelled() for v in list(next(iter(fitted.values()))[1].test)[: args.videos]]
    else:  # hot paths only, freshly built (models that need no fit to run, e.g. for GPU timing)
        models, videos = [_on_device(name, args.device) for name in args.models], None
    if args.onnx:  # time the ONNX Runtime hot path beside torch (untrained weights: speed only)
        from vadbench.export import export_onnx, onnx_twin

        out_dir = Path(args.onnx)
        for model in list(models):
            export_onnx(model, out_dir / f"{model.name}.onnx")
            models.append(onnx_twin(model, out_dir / f"{model.name}.onnx"))
    results = profile_models(models, batch_sizes=tuple(int(b) for b in _csv(args.batch_sizes)),
                             rounds=args.rounds, warmup=args.warmup, videos=videos, e2e_rounds=args.e2e_rounds,
                             reference=args.reference, device=args.device, progress=_say)
    print(format_profile_table(results))
    if args.json:
        from vadbench.atomic import atomic_write_json

        atomic_write_json(args.json, results)
    return 0


def cmd_curves(args) -> int:
    """Per-video score curves of several models from the results store (first seed of each)."""
    from vadbench.report import plot_video_curves
    from vadbench.results import ResultsStore
    from vadbench.runner import open_dataset

    store = ResultsStore(args.results)
    records = sorted(store.records(dataset=args.dataset, status="ok"), key=lambda r: r["seed"])
    series, dataset = {}, None
    for name in _csv(args.models):
        record = next((r for r in records if r["model"]["name"] == name), None)
        if record is None:
            raise VadbenchError(f"{store.root}: no finished {name} cell on {args.dataset}")
        series[name] = store.load_scores(record)
        if dataset is None:
            ds = record["dataset"]
            root = None if ds["name"] == "synthetic" else ds.get("root")
            dataset = open_dataset(ds["name"], ds.get("options") or {}, root=root, cache_dir=store.root / "cache")
    labels = {v.id: v.labels for v in dataset.test}
    videos = _csv(args.videos) if args.videos else None
    sigma = dataset.conventions.get("sigma")
    thresholds, calibration = {}, []
    if args.false_alarm_rate is not None:  # on training videos each fold's model did not see; no test label
        from vadbench.model import RunContext
        from vadbench.watch import cached_fold_models, describe_calibration, held_out_threshold

        for name in series:
            record = next(r for r in records if r["model"]["name"] == name)
            config = record["model"].get("config") or {}
            ctx = RunContext(cache_dir=store.root / "cache", seed=record["seed"], device="cpu",
                             dataset=dataset.name, progress=_say)
            make = cached_fold_models(store, dataset, name, config, seed=record["seed"])
            thresholds[name], info = held_out_threshold(make, dataset.train, args.false_alarm_rate,
                                                        folds=args.threshold_folds, sigma=sigma, ctx=ctx)
            calibration.append(describe_calibration(info))
            _say(f"{name}: threshold {thresholds[name]:.6g} ({calibration[-1]}, {info['frames']} frames)")
    title = f"{args.dataset}: per-frame scores ({', '.join(series)})"
    if calibration:  # the dashed lines: how their thresholds were set
        title += "\ndashed: " + "; ".join(dict.fromkeys(calibration))
    for p in plot_video_curves(series, labels, Path(args.out), videos=videos, sigma=sigma, thresholds=thresholds,
                               title=title):
        print(p)
    return 0


def cmd_watch(args) -> int:
    """Fit (or reload) a model on a dataset's training videos, set its threshold on held-out ones, score SOURCE."""
    from vadbench.model import RunContext
    from vadbench.results import ResultsStore
    from vadbench.watch import cached_fold_models, describe_calibration, held_out_threshold, watch

    model, dataset = _fitted(args, args.model)  # scores SOURCE: fitted on all the training videos
    store = ResultsStore(args.results)
    ctx = RunContext(cache_dir=store.root / "cache", seed=args.seed, device=args.device, dataset=dataset.name,
                     progress=_say)
    make = cached_fold_models(store, dataset, args.model, seed=args.seed, device=args.device)
    threshold, info = held_out_threshold(make, dataset.train, args.false_alarm_rate, folds=args.threshold_folds,
                                         ctx=ctx)
    calibration = describe_calibration(info)
    _say(f"threshold {threshold:.6g}: {calibration}, {info['frames']} {dataset.name} training frames")
    out = watch(model, args.source, args.out, threshold=threshold, chunk=args.chunk, progress=_say)
    out.update(threshold_calibration=calibration, calibration=info)
    print(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in out.items()}, indent=1))
    return 0


def _fitted(args, name: str):
    """A model fitted (or reloaded from the cache) on the training videos of ``args.dataset``."""
    from vadbench.results import ResultsStore
    from vadbench.runner import ModelCache, open_dataset, resolve_root

    store = ResultsStore(args.results)
    dataset = open_dataset(args.dataset, {}, root=resolve_root(args.dataset, args.data_root),
                           cache_dir=store.root / "cache")
    return ModelCache(store, dataset, args.seed, args.device, progress=_say).get(name)[0], dataset


def cmd_export(args) -> int:
    from vadbench.export import export_onnx

    model, _ = _fitted(args, args.model)
    out = Path(args.out or f"{args.model}.onnx")
    check = export_onnx(model, out)
    print(f"wrote {out}: ONNX Runtime matches torch within {check['max_abs_error']:.2e} on sample input")
    return 0


def cmd_new_plugin(args) -> int:
    from vadbench.scaffold import new_plugin

    out = new_plugin(args.name, args.out or args.name)
    print(f"wrote {out}: pip install -e {out} && vadbench list models {args.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vadbench", description="Video anomaly detection benchmark suite.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list registered models or datasets")
    s.add_argument("what", choices=["models", "datasets"])
    s.add_argument("pattern", nargs="?", default="*")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("datasets", help="inspect a dataset folder")
    dsub = s.add_subparsers(dest="action", required=True)
    c = dsub.add_parser("check", help="count videos, frames, anomalous frames, masks, tracks and detections")
    c.add_argument("name")
    c.add_argument("--root")
    c.add_argument("--labels", help="label convention where a dataset has several (avenue: masks|intervals)")
    c.add_argument("--detections", help="precomputed detections folder, or 'none' (default: auto, "
                                        "ROOT/detections/ or ROOT/../detections/NAME-OF-ROOT/)")
    c.add_argument("--deep", action="store_true", help="also decode every frame and mask")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_datasets_check)

    s = sub.add_parser("synth", help="write the synthetic dataset in the Ped2 frame-folder layout")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("run", help="train, score, evaluate and profile a grid; write leaderboards")
    s.add_argument("--suite", help="a named suite (default: synthetic) or a TOML file")
    s.add_argument("--quick", action="store_true", help="the suite's quick configurations, one seed")
    s.add_argument("--models", type=name_arg("model", many=True),
                   help="comma-separated model names (with --datasets)")
    s.add_argument("--datasets", type=name_arg("dataset", many=True), help="comma-separated dataset names")
    s.add_argument("--data-root", help="dataset folder, or a folder holding it (e.g. ../shared/data)")
    s.add_argument("--seeds", help="comma-separated seeds")
    s.add_argument("--results", default=DEFAULT_RESULTS, help="results store folder")
    s.add_argument("--leaderboards", help="where tables and plots go (default RESULTS/leaderboards)")
    s.add_argument("--executor", choices=["local", "ray"], default="local")
    s.add_argument("--address", help="Ray cluster address")
    s.add_argument("--device", default="cpu")
    s.add_argument("--force", action="store_true", help="recompute cells that already have a record")
    s.add_argument("--publish-only", action="store_true",
                   help="run no cell: write the leaderboards, Pareto plot and manifest of the cells already in the "
                        "store (e.g. after `vadbench eval --add-missing`)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("profile", help="time models' hot paths and end-to-end scoring, interleaved")
    s.add_argument("models", nargs="+", type=name_arg("model"))
    s.add_argument("--dataset", type=name_arg("dataset"),
                   help="fit the models on this dataset and time them end to end on its test videos")
    s.add_argument("--data-root")
    s.add_argument("--results", default=DEFAULT_RESULTS, help="where fitted models are cached")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--videos", type=int, default=2)
    s.add_argument("--batch-sizes", default="1,8,32")
    s.add_argument("--rounds", type=count_at_least(1), default=10)
    s.add_argument("--warmup", type=count_at_least(0), default=3)
    s.add_argument("--e2e-rounds", type=count_at_least(1), default=3,
                   help="end-to-end rounds over the --videos (median reported; more rounds, steadier ratios)")
    s.add_argument("--reference", help="report speed ratios to this model")
    s.add_argument("--device", default="cpu", help="cpu, or cuda[:i] for models with a device setting "
                   "(fastaed-*, fastano*); fitted models are fitted on the CPU and timed on the device")
    s.add_argument("--json", type=output_file, help="also write the records to this JSON file")
    s.add_argument("--onnx", metavar="DIR", help="also time each model's ONNX Runtime export (written to DIR)")
    s.add_argument("--untrained", help="comma-separated models timed with fresh weights, not fitted (with --dataset)")
    s.set_defaults(func=cmd_profile)

    s = sub.add_parser("eval", help="recompute metrics from stored per-frame scores and compare")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--per-video", metavar="CELLS",
                   help="instead, a per-video table (own AUC, medians, micro AUC without the video) of the cells "
                        "matching this glob, e.g. 'teacher-attr__ped2__s0*'")
    s.add_argument("--add-missing", action="store_true",
                   help="write into each record the metrics defined after it was made (e.g. micro_auc_minmax), "
                        "where its stored metrics recompute exactly; nothing stored is changed")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("leaderboard", help="write <dataset>.md/.csv from the results store")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--dataset", type=name_arg("dataset"))
    s.add_argument("--out", default="leaderboards")
    s.add_argument("--latex", action="store_true")
    s.set_defaults(func=cmd_leaderboard)

    s = sub.add_parser("pareto", help="draw the speed-accuracy Pareto plot")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--dataset", required=True, type=name_arg("dataset"))
    s.add_argument("--x", default="fps_e2e", choices=["fps_e2e", "fps_model", "fps_model_b1", "fps_model_best"])
    s.add_argument("--y", default="micro_auc", choices=["micro_auc", "macro_auc", "rbdc", "tbdc"])
    s.add_argument("--out", default="leaderboards")
    s.add_argument("--literature", help="overlay published points from this CSV")
    s.set_defaults(func=cmd_pareto)

    s = sub.add_parser("curves", help="per-video score curves with the ground truth shaded")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--dataset", required=True, type=name_arg("dataset"))
    s.add_argument("--models", required=True, type=name_arg("model", many=True),
                   help="comma-separated model names")
    s.add_argument("--videos", help="comma-separated video ids (default: all)")
    s.add_argument("--out", required=True, help="output path without extension")
    s.add_argument("--false-alarm-rate", type=rate,
                   help="draw each model's alert threshold: the score this fraction of held-out training frames "
                        "exceed (each scored by a model fitted on the other folds)")
    s.add_argument("--threshold-folds", type=count_at_least(2), default=2,
                   help="folds of training videos the threshold is calibrated on (default 2)")
    s.set_defaults(func=cmd_curves)

    s = sub.add_parser("watch", help="score a video file, frame folder, camera or stream with a fitted model")
    s.add_argument("source", help="video file, frame folder, camera index (0) or rtsp:// address")
    s.add_argument("--model", required=True, type=name_arg("model"))
    s.add_argument("--dataset", default="synthetic", type=name_arg("dataset"),
                   help="the model is fitted on this dataset's training videos")
    s.add_argument("--data-root")
    s.add_argument("--results", default=DEFAULT_RESULTS, help="where fitted models are cached")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--false-alarm-rate", type=rate, default=0.01,
                   help="share of normal training frames allowed above the alert threshold (each scored by a "
                        "model fitted on the other folds)")
    s.add_argument("--threshold-folds", type=count_at_least(2), default=2,
                   help="folds of training videos the threshold is calibrated on (default 2)")
    s.add_argument("--chunk", type=int, default=64)
    s.add_argument("--out", default="vadbench-watch")
    s.set_defaults(func=cmd_watch)

    s = sub.add_parser("export", help="export a fitted model's hot path to ONNX, checked against torch")
    s.add_argument("model", type=name_arg("model"))
    s.add_argument("--format", choices=["onnx"], default="onnx")
    s.add_argument("--dataset", default="synthetic", type=name_arg("dataset"),
                   help="the model is fitted on this dataset's training videos")
    s.add_argument("--data-root")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--out", help="output file (default MODEL.onnx)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("new-plugin", help="scaffold a competitor package (entry point, model, contract test)")
    s.add_argument("name")
    s.add_argument("--out", help="folder to write (default: ./NAME)")
    s.set_defaults(func=cmd_new_plugin)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command = "vadbench " + " ".join(shlex.quote(a) for a in argv)  # recorded with results
    try:
        return args.func(args)
    except VadbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished cells are kept; rerun to complete the rest", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
