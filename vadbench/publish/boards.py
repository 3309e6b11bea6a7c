"""Publishing a results store: per dataset, the leaderboard, the Pareto plot, the reproduction table and
the manifest, written atomically into one folder.

``vadbench run`` calls :func:`publish_suite` after its grid (and ``--publish-only`` does nothing else);
from Python::

    from vadbench.publish import publish_suite
    from vadbench.results import ResultsStore

    publish_suite(ResultsStore("vadbench-results"), "leaderboards", ["ped2"], command="my notebook")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_json, atomic_write_text, load_json
from ..checkout import git_commit
from ..machine import machine_info, machine_summary
from ..names import safe_name
from ..provenance import commits_of, provenance
from ..results import ResultsStore, compute_seconds
from .leaderboard import aggregate, write_leaderboard
from .pareto import load_literature, plot_pareto
from .reproduction import claim_paragraph, render_reproduction, reproduction_rows

#: The published methods (speed and accuracy as their papers report them) that plots and tables show
#: for context: ``leaderboards/literature.csv`` of the checkout.
LITERATURE_FILE = Path(__file__).resolve().parents[2] / "leaderboards" / "literature.csv"


def finished_rows(records: Iterable[Mapping]) -> list[dict]:
    """The leaderboard rows (:func:`~vadbench.publish.leaderboard.aggregate`) of the cells that succeeded."""
    return [r for r in aggregate(records) if str(r.get("status", "ok")).startswith("ok")]


def leaderboards(store: ResultsStore, out_dir: str | Path, datasets: Sequence[str] | None = None, *,
                 command: str | None, latex: bool = False) -> dict[str, dict[str, Path]]:
    """Write ``<dataset>.md``/``.csv`` (and ``.tex``) of each dataset (default: every dataset in ``store``).

    Returns the written paths by dataset, in order.
    """
    if datasets is None:
        datasets = sorted({r["dataset"]["name"] for r in store.records()})
    written = {}
    for ds in datasets:
        records = store.records(dataset=ds)
        written[ds] = write_leaderboard(records, Path(out_dir), ds, command=command,
                                        commit=commits_of(records), latex=latex)
    return written


def pareto_figure(store: ResultsStore, dataset: str, out_dir: str | Path, *, x: str = "fps_e2e",
                  y: str = "micro_auc", literature_file: str | Path | None = None) -> list[Path]:
    """Draw ``<out_dir>/<dataset>_pareto.png``/``.svg`` of the finished cells of ``dataset`` in ``store``,
    with the published points of ``literature_file`` (a CSV like ``leaderboards/literature.csv``) if given."""
    rows = finished_rows(store.records(dataset=dataset))
    literature = load_literature(literature_file, dataset) if literature_file else None
    return plot_pareto(rows, x=x, y=y, out_base=Path(out_dir) / f"{dataset}_pareto",
                       title=f"{dataset}: {x} vs {y}", machine=machine_info(), literature=literature)


def publish_dataset(store: ResultsStore, dataset: str, out_dir: str | Path, *, command: str = "",
                    duration: float | None = None, suite: Mapping | None = None,
                    literature_file: str | Path | None = LITERATURE_FILE) -> dict[str, Any] | None:
    """Write the leaderboard, Pareto plot, manifest (and reproduction table) of ``dataset`` into ``out_dir``.

    ``command`` and ``duration`` (seconds of the run that made the cells) go into the tables and the
    manifest; ``suite`` (a loaded suite, :func:`vadbench.suites.load_suite`) names the published
    methods its models reproduce, which adds ``<dataset>_reproduction.md`` when ``literature_file``
    exists. Returns ``{"leaderboard": {"md": path, "csv": path}, "md": path, "plots": [paths],
    "reproduction": path or None, "manifest": path}``, or None when ``store`` holds no cell of
    ``dataset`` (nothing is written then).
    """
    safe_name(dataset, what="dataset")  # it names the files below
    out_dir = Path(out_dir)
    records = store.records(dataset=dataset)
    if not records:
        return None
    machine = machine_info()
    paths = write_leaderboard(records, out_dir, dataset, command=command, commit=commits_of(records),
                              machine=machine)
    lit_file = Path(literature_file) if literature_file is not None else None
    literature = load_literature(lit_file, dataset) if lit_file is not None and lit_file.exists() else None
    rows = finished_rows(records)
    plots = plot_pareto(rows, x="fps_e2e", y="micro_auc", out_base=out_dir / f"{dataset}_pareto",
                        title=f"{dataset}: end-to-end speed vs micro AUC", machine=machine,
                        literature=literature)
    reproduction = None
    if suite and lit_file is not None and literature is not None \
            and any(m.get("reproduces") for m in suite.get("models", [])):
        where = machine_summary(machine) if isinstance(machine, dict) else str(machine)
        entries = reproduction_rows(rows, load_literature(lit_file, None), suite)
        reproduction = out_dir / f"{dataset}_reproduction.md"
        claim = ""
        if suite.get("claim"):  # the seed paper's claim, from the board and the profiling run the suite names
            profile_file = out_dir / suite["claim"]["profile"]
            profile = load_json(profile_file) if profile_file.exists() else []
            claim = claim_paragraph(rows, profile, suite["claim"], profile_file.name)
        atomic_write_text(reproduction, render_reproduction(entries, dataset, machine=where, claim=claim))
    # the cells' own commits and source hashes (vadbench.provenance.provenance): a board's cells may come from
    # many commits; "published_from" is only the checkout that wrote these files
    manifest = out_dir / f"{dataset}_manifest.json"
    atomic_write_json(manifest, {
        "dataset": dataset, "command": command, "published_from": git_commit(), "machine": machine,
        "duration_seconds": duration, "compute_seconds": compute_seconds(records),
        "suite": suite and suite.get("file"),
        "results": str(store.root), "cells": sorted(r["cell"] for r in records), **provenance(records)})
    md = Path(paths["md"]) if isinstance(paths, dict) and "md" in paths else out_dir / f"{dataset}.md"
    return {"leaderboard": paths, "md": md, "plots": plots, "reproduction": reproduction,
            "manifest": manifest}


def publish_suite(store: ResultsStore, leaderboards_dir: str | Path, datasets: Sequence[str] | None = None, *,
                  command: str = "", duration: float | None = None, suite: Mapping | None = None,
                  literature_file: str | Path | None = LITERATURE_FILE) -> dict[str, dict[str, Any]]:
    """:func:`publish_dataset` for each of ``datasets`` (default: every dataset in ``store``), into
    ``leaderboards_dir``; returns what each wrote, by dataset (datasets without cells are left out)."""
    if datasets is None:
        datasets = sorted({r["dataset"]["name"] for r in store.records()})
    published = {}
    for ds in datasets:
        result = publish_dataset(store, ds, leaderboards_dir, command=command, duration=duration, suite=suite,
                                 literature_file=literature_file)
        if result is not None:
            published[ds] = result
    return published
