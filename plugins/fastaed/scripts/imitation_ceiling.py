"""How well would a student score on Ped2 if it reproduced its teachers' maps exactly?

    python plugins/fastaed/scripts/imitation_ceiling.py [--data-root ../shared/data] \\
        [--results leaderboards/results/ped2] [--json plugins/fastaed/results/ped2_imitation_ceiling.json]

A student's frame score estimates the mean over its teachers of
``log1p(raw_t / n_t)``, where ``raw_t`` is teacher ``t``'s largest object score
in the frame (its 1x1 map, also the maximum of its finer maps) and ``n_t`` one
normaliser per teacher (``model.FastAED.transform``). A student that imitated
perfectly would score exactly that. This script rebuilds it from the teachers'
stored per-frame test scores (``<results>/scores``; ``log1p`` units are undone
with ``expm1``) and takes the micro AUC (sigma 3, the suite's convention) for
*every* pair or triple of normalisers on a log grid from 1e-6 to 1e6 (steps of
sqrt(10) for two teachers, of 10 for three). The best of them is an oracle (it
is picked on test labels), so it is an upper bound for any imitation of these
teachers through this frame score. It decides nothing and configures no model.

Nothing here trains; it reads the stored scores of seeds 0, 1 and 2 and the labels.
"""

from __future__ import annotations

import glob
import itertools
import json
from pathlib import Path

import numpy as np

from vadbench.atomic import atomic_write_text
from vadbench.metrics import frame_auc

# how each teacher's stored frame score relates to its raw largest object score (plugin.py of the teachers)
UNDO = {"teacher-attr": np.expm1, "teacher-ae": np.expm1, "teacher-ssl": lambda x: x}
TEAMS = (("teacher-attr", "teacher-ae"), ("teacher-attr", "teacher-ae", "teacher-ssl"))


def target_scores(raw: list[list[np.ndarray]], norms) -> list[np.ndarray]:
    """A perfect imitator's frame scores: per video, the mean over teachers of ``log1p(raw / n)``.

    >>> [s.tolist() for s in target_scores([[np.array([0.0, 1.0])], [np.array([3.0, 0.0])]], (1.0, 3.0))]
    [[0.34657359027997264, 0.34657359027997264]]
    """
    return [np.mean([np.log1p(np.maximum(r[i], 0.0) / n) for r, n in zip(raw, norms)], 0)
            for i in range(len(raw[0]))]


def oracle(raw, labels, grid) -> dict:
    """The best micro AUC (sigma 3) over every combination of normalisers in ``grid``."""
    best = {"micro_s3": -1.0}
    for norms in itertools.product(grid, repeat=len(raw)):
        auc = frame_auc(target_scores(raw, norms), labels, sigma=3)
        if auc > best["micro_s3"]:
            best = {"micro_s3": auc, "normalisers": [float(n) for n in norms]}
    return best


def main(argv=None) -> dict:
    from _stored import ped2, store_parser, stored_scores

    args = store_parser(__doc__).parse_args(argv)
    videos = list(ped2(args.data_root).test)
    labels = [v.labels for v in videos]
    report = {"what": "micro AUC (%, sigma 3) on the Ped2 test videos of a student that reproduced its teachers' "
                      "frame targets exactly, at the best normalisers of a log grid (an oracle upper bound)",
              "command": "python plugins/fastaed/scripts/imitation_ceiling.py", "seeds": {}}
    for seed in (0, 1, 2):
        stored = {}
        for t in UNDO:
            (path,) = glob.glob(str(Path(args.results) / "scores" / f"{t}__ped2__s{seed}__*.npz"))
            stored[t] = stored_scores(path, videos)
        row = {t: round(100 * frame_auc(s, labels, sigma=3), 2) for t, s in stored.items()}
        for team in TEAMS:
            grid = np.logspace(-6, 6, 25 if len(team) == 2 else 13)
            best = oracle([[UNDO[t](x) for x in stored[t]] for t in team], labels, grid)
            row[" + ".join(team)] = {"micro_s3": round(100 * best["micro_s3"], 2), "normalisers": best["normalisers"]}
        report["seeds"][seed] = row
        print(seed, row, flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
