"""Per-frame scores of every registered model on the tiny synthetic dataset, hashed.

A recorded check that a refactoring changed no number: run it on the commit before and
the commit after, with the same machine and torch, and compare the two JSON files::

    python docs/experiments/score_identity.py --out before.json
    python docs/experiments/score_identity.py --out after.json --compare before.json

Each model is fitted in its registered ``quick`` configuration with seed 0 on the
contract's tiny synthetic dataset (``vadbench.contract.TINY``), exactly as the plugin
contract test fits it, and its test scores are hashed (SHA-256 of the float64 bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from vadbench.contract import TINY, _fit, _scores
from vadbench.plugins import model_registry
from vadbench.runner import open_dataset


def score_hashes(workdir: Path, only: list[str] | None = None) -> dict[str, str]:
    """SHA-256 of each model's concatenated per-frame test scores."""
    dataset = open_dataset("synthetic", TINY, cache_dir=workdir / "cache")
    out = {}
    for entry in model_registry().list():
        name = entry.name if hasattr(entry, "name") else str(entry)
        if only and name not in only:
            continue
        model = _fit(name, dataset, workdir / name)
        frames = np.concatenate([np.asarray(s, dtype=np.float64) for s in _scores(model, dataset)])
        out[name] = hashlib.sha256(frames.tobytes()).hexdigest()
        print(f"{name}: {out[name][:16]}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier output to compare with")
    parser.add_argument("--models", help="comma-separated subset")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hashes = score_hashes(Path(tmp), args.models.split(",") if args.models else None)
    args.out.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        if args.models:  # compare the models asked for only
            before = {k: v for k, v in before.items() if k in args.models.split(",")}
        changed = sorted(k for k in before if k in hashes and before[k] != hashes[k])
        gone = sorted(set(before) - set(hashes))
        print(f"identical: {len(before) - len(changed) - len(gone)}, changed: {changed}, no longer registered: {gone}")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
