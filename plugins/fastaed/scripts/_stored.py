"""What the scripts that read the Ped2 results store share: their arguments, the dataset, a model's cells."""

from __future__ import annotations

import argparse

import numpy as np

from vadbench.cli import output_file


def store_parser(doc: str) -> argparse.ArgumentParser:
    """``--data-root``, ``--results`` (the results store) and ``--json`` (where the report goes)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--results", default="leaderboards/results/ped2")
    ap.add_argument("--json", type=output_file, default=None)
    return ap


def ped2(data_root: str):
    """The Ped2 dataset found under ``data_root`` (the dataset folder or a folder holding it);
    a missing or malformed folder ends the script with vadbench's one-line error."""
    import vadbench
    from vadbench.errors import VadbenchError
    from vadbench.runner import resolve_root

    try:
        return vadbench.create_dataset("ped2", root=resolve_root("ped2", data_root))
    except VadbenchError as exc:
        raise SystemExit(str(exc)) from None


def model_cells(results: str, model: str, videos) -> list[tuple[dict, list[np.ndarray]]]:
    """Every finished Ped2 cell of ``model`` in the results store, by cell name: its record and
    its per-frame scores of ``videos``, in their order."""
    from vadbench.results import ResultsStore

    store = ResultsStore(results)
    out = []
    for rec in store.records(dataset="ped2", status="ok"):
        if rec["model"]["name"] == model:
            scores = store.load_scores(rec)
            out.append((rec, [scores[str(v.id)] for v in videos]))
    return out
