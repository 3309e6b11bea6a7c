"""Re-evaluate saved per-frame Ped2 scores under other published conventions (no model is run).

    python plugins/fastano/scripts/conventions.py SCORES.npz --skip-first 5

Reads the ``--scores`` file of ``measure_ped2.py`` and prints micro/macro AUC (%)
of every scoring variant in it with the first ``k`` frames of each video
dropped (FastAno drops 5, Liu et al.'s evaluation 4), plain and with sigma 3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2data import DEFAULT_ROOT


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scores")
    ap.add_argument("--skip-first", type=int, default=5)
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    args = ap.parse_args(argv)
    import vadbench
    from vadbench.metrics import frame_auc

    test = vadbench.create_dataset("ped2", root=args.root).test
    saved = np.load(args.scores)
    variants = sorted({k.split("|")[0] for k in saved.files})
    for var in variants:
        s = [saved[f"{var}|{v.id}"] for v in test]
        y = [v.labels for v in test]
        row = []
        for avg in ("micro", "macro"):
            for sigma in (None, 3):
                auc = frame_auc(s, y, average=avg, sigma=sigma, skip_first=args.skip_first)
                row.append(f"{avg}{'_s3' if sigma else ''}={100 * auc:.2f}")
        print(f"{var} skip_first={args.skip_first}: " + " ".join(row))


if __name__ == "__main__":
    main()
