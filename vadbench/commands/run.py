"""``vadbench run``: a grid of cells (a suite, part of one, or models by datasets), then its leaderboards."""

from __future__ import annotations

import signal
import sys
import threading
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from ..argtypes import csv_list
from . import say


def cells_from_args(args: Namespace) -> tuple[dict | None, list[Any]]:
    """The suite (None for ``--models`` by ``--datasets``) and the cells that ``vadbench run`` is asked
    for."""
    from ..runner import Cell
    from ..suites import load_suite, suite_cells

    seeds = [int(s) for s in csv_list(args.seeds)] if args.seeds else None
    if args.suite and args.models and not args.datasets:  # a part of a suite, with the suite's settings
        suite = load_suite(args.suite)
        wanted = csv_list(args.models)
        unknown = sorted(set(wanted) - {m["name"] for m in suite["models"]})
        if unknown:
            raise SystemExit(f"error: suite {suite['name']} has no model {', '.join(unknown)}")
        return suite, [c for c in suite_cells(suite, quick=args.quick, seeds=seeds) if c.model in wanted]
    if args.models or args.datasets:
        if not (args.models and args.datasets):
            raise SystemExit("error: --models goes with --datasets, or with --suite to run part of a suite")
        return None, [Cell(model=m, dataset=d, seed=s) for d in csv_list(args.datasets)
                      for m in csv_list(args.models) for s in (seeds or [0])]
    suite = installed_part(load_suite(args.suite or "synthetic"))
    return suite, suite_cells(suite, quick=args.quick, seeds=seeds)


def installed_part(suite: dict) -> dict:
    """A shipped suite without the models no installed plugin registers (named in a notice on stderr).

    The suites under ``vadbench/suites/`` name models from the plugin packages,
    which a user may not have installed. A suite file of the user's own is taken
    as written: a model it names that does not exist is a failed cell that says
    so (with the closest names), not a silent skip.
    """
    import vadbench

    from ..suites import HERE

    if Path(suite.get("file", "")).resolve().parent != HERE.resolve():
        return suite
    known = set(vadbench.list_models())
    missing = [m["name"] for m in suite["models"] if m["name"] not in known]
    if not missing:
        return suite
    if len(missing) == len(suite["models"]):
        raise SystemExit(
            f"error: suite {suite['name']}: none of its models is installed ({', '.join(missing)})")
    print(f"suite {suite['name']}: skipping {', '.join(missing)}: not installed "
          "(pip install -e plugins/<package> adds them)", file=sys.stderr)
    return {**suite, "models": [m for m in suite["models"] if m["name"] in known]}


def cmd_run(args: Namespace) -> int:
    from ..executors import get_executor
    from ..publish import publish_suite
    from ..results import ResultsStore
    from ..runner import run_grid

    suite, cells = cells_from_args(args)
    store = ResultsStore(args.results)
    command = args.command
    options = {"address": args.address, "gpus_per_cell": 1 if args.device.startswith("cuda") else 0}
    executor = get_executor(args.executor, **(options if args.executor == "ray" else {}))
    start = time.perf_counter()
    interrupted = False
    # SIGINT too: a job started in the background of a script has it ignored, and kill -INT must still stop it
    handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        records = [] if args.publish_only else run_grid(
            cells, store, executor=executor, data_root=args.data_root, device=args.device, command=command,
            force=args.force, progress=say)
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
    published = publish_suite(store, out_dir, datasets, command=command, duration=duration, suite=suite)
    for files in published.values():
        if files["md"].exists():
            print(files["md"].read_text())
        for p in files["plots"]:
            print(f"wrote {p}", file=sys.stderr)
    for r in failed:
        print(f"FAILED {r['cell']}: {r.get('error')}", file=sys.stderr)
    return 130 if interrupted else 1 if failed else 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a scheduler's stop) and SIGINT handled like Ctrl-C: stop the grid, keep and publish what
    finished."""
    raise KeyboardInterrupt
