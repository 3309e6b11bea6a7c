"""How well would a student score on Ped2 if it reproduced its teachers' maps exactly?

    python plugins/fastaed/scripts/imitation_ceiling.py [--data-root ../shared/data] \\
        [--results leaderboards/results/ped2] [--json plugins/fastaed/results/ped2_imitation_ceiling.json]

A student's frame score estimates the mean over its teachers of
``log1p(raw_t / n_t)``, where ``raw_t`` is teacher ``t``'s largest object score
in the frame (its 1x1 map, also the maximum of its finer maps) and ``n_t`` one
normaliser per teacher (``model.FastAED.transform``). A student that imitated
perfectly would score exactly that. This script rebuilds it from the teachers'
per-frame test scores in the results store (``log1p`` units, where the cell's
configuration says so, are undone with ``expm1``) and takes the micro AUC
(sigma 3, the suite's convention) for *every* pair or triple of normalisers on a
log grid from 1e-6 to 1e6 (steps of sqrt(10) for two teachers, of 10 for three).
The best of them is an oracle (it is picked on test labels), so it is an upper
bound for any imitation of these teachers through this frame score. It decides
nothing and configures no model.

Nothing here trains; it reads the stored scores of seeds 0, 1 and 2 and the labels.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from vadbench.atomic import atomic_write_text
from vadbench.metrics import frame_auc

TEACHERS = ("teacher-attr", "teacher-ae", "teacher-ssl")
TEAMS = (("teacher-attr", "teacher-ae"), ("teacher-attr", "teacher-ae", "teacher-ssl"))


def raw_frame_scores(stored: np.ndarray, record: dict) -> np.ndarray:
    """A teacher's largest object score per frame, from the frame scores its cell stored.

    The record's configuration says how they were stored: ``frame_score="log1p"``
    keeps ``log1p`` of it, the default (``"max"``) the score itself.

    >>> raw_frame_scores(np.log1p([0.0, 3.0]), {"model": {"config": {"frame_score": "log1p"}}}).tolist()
    [0.0, 3.0]
    """
    log_units = record["model"]["config"].get("frame_score") == "log1p"
    return np.expm1(stored) if log_units else np.asarray(stored)


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
    from _stored import model_cells, ped2, store_parser

    args = store_parser(__doc__).parse_args(argv)
    videos = list(ped2(args.data_root).test)
    labels = [v.labels for v in videos]
    report = {"what": "micro AUC (%, sigma 3) on the Ped2 test videos of a student that reproduced its teachers' "
                      "frame targets exactly, at the best normalisers of a log grid (an oracle upper bound)",
              "command": "python plugins/fastaed/scripts/imitation_ceiling.py", "seeds": {}}
    cells = {t: {rec["seed"]: (rec, scores) for rec, scores in model_cells(args.results, t, videos)}
             for t in TEACHERS}
    for seed in (0, 1, 2):
        missing = [t for t in TEACHERS if seed not in cells[t]]
        if missing:
            raise SystemExit(f"{args.results}: no finished Ped2 cell of {', '.join(missing)} with seed {seed} "
                             "(run the suite: vadbench run --suite ped2)")
        stored = {t: cells[t][seed][1] for t in TEACHERS}
        row = {t: round(100 * frame_auc(s, labels, sigma=3), 2) for t, s in stored.items()}
        raw = {t: [raw_frame_scores(x, cells[t][seed][0]) for x in stored[t]] for t in TEACHERS}
        for team in TEAMS:
            grid = np.logspace(-6, 6, 25 if len(team) == 2 else 13)
            best = oracle([raw[t] for t in team], labels, grid)
            row[" + ".join(team)] = {"micro_s3": round(100 * best["micro_s3"], 2), "normalisers": best["normalisers"]}
        report["seeds"][seed] = row
        print(seed, row, flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
