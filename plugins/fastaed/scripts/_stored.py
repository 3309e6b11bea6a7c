"""What the scripts that read the Ped2 results store share: their arguments, the dataset, a cell's scores."""

from __future__ import annotations

import argparse

import numpy as np


def store_parser(doc: str) -> argparse.ArgumentParser:
    """``--data-root``, ``--results`` (the results store) and ``--json`` (where the report goes)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--results", default="leaderboards/results/ped2")
    ap.add_argument("--json", default=None)
    return ap


def ped2(data_root: str):
    """The Ped2 dataset found under ``data_root`` (the dataset folder or a folder holding it)."""
    import vadbench
    from vadbench.runner import resolve_root

    return vadbench.create_dataset("ped2", root=resolve_root("ped2", data_root))


def stored_scores(path, videos) -> list[np.ndarray]:
    """The per-frame scores of ``videos`` in one cell's score file of the results store."""
    with np.load(path) as z:
        return [z[str(v.id)] for v in videos]
