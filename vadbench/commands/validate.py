"""``vadbench validate``: choose a model's settings on pseudo-anomalies of held-out training videos."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

from . import say


def cmd_validate(args: Namespace) -> int:
    """Fit ``args.model`` under each configuration of the grid; rank them; print and write the report."""
    from ..atomic import atomic_write_text
    from ..data.folders import resolve_root
    from ..data.load import open_dataset
    from ..pseudo_anomalies import KINDS
    from ..validate import check_settings, report_table, validate

    grid = [{**args.config, **variant} for variant in (args.grid or [{}])]
    check_settings(args.model, grid)  # before the dataset is opened or made
    dataset = open_dataset(args.dataset, {}, root=resolve_root(args.dataset, args.data_root),
                           cache_dir=Path(args.work) / "cache")
    report = validate(args.model, dataset, grid, workdir=args.work, held_out=args.held_out,
                      kinds=args.kinds or KINDS, copies=args.copies, seed=args.seed, device=args.device,
                      progress=say)
    report["command"] = args.command
    print(report_table(report))
    best = report["results"][report["best"]]
    print(f"best: {json.dumps(best['config'], sort_keys=True)} (micro {best['micro']:.1f}, "
          f"macro {best['macro']:.1f}; held out {', '.join(report['held_out'])})")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(report, indent=1, sort_keys=True) + "\n")
        say(f"wrote {args.json}")
    return 0
