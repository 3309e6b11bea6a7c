"""Which part of teacher-attr do the other models follow? Rank correlations on the Ped2 test videos, no labels.

    python plugins/fastaed/scripts/fidelity_by_group.py [--data-root ../shared/data] \\
        [--results leaderboards/results/ped2] [--json plugins/fastaed/results/ped2_fidelity_by_group.json]

Fits ``teacher-attr`` (registered defaults, seed 0) on the Ped2 training videos,
reading its detections from the results store's object cache when they are
there, and splits its frame score into its three attribute groups (velocity,
geometry, appearance): each group's object scores, smoothed along tracks,
then the frame's largest, as the teacher itself does with their mean. Then,
for every finished cell of the models listed in the results store, the
Spearman correlation of its per-frame test scores with each group and with
the teacher's own score. No label is read: this measures imitation, not accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from vadbench.atomic import atomic_write_text

MODELS = ("teacher-attr", "fastaed-s", "fastaed-s-attr", "fastaed-xs", "fastaed-m", "fastaed-m-stem7",
          "fastaed-m-wide", "teacher-ae", "fastano", "motion-flow", "motion-diff", "ffp-unet")


def group_frame_scores(teacher, videos) -> dict[str, np.ndarray]:
    """Each attribute group's frame scores (and ``"all"``, the teacher's), concatenated over ``videos``."""
    from vadbench_teachers.attr import GROUPS
    from vadbench_teachers.base import smooth_along_tracks

    per: dict[str, list[np.ndarray]] = {g: [] for g in (*GROUPS, "all")}
    for v in videos:
        objs = teacher.video_objects(v)
        by_group = teacher.group_scores(objs)
        for g in GROUPS:
            s = smooth_along_tracks(objs["frame"], objs["box"], np.maximum(by_group[g], 0.0), teacher.track_window)
            per[g].append(teacher.frame_scores(len(v), objs["frame"], s))
        per["all"].append(teacher.frame_scores(len(v), objs["frame"], teacher.object_scores(objs)))
    return {g: np.concatenate(x) for g, x in per.items()}


def main(argv=None) -> dict:
    from _stored import model_cells, ped2, store_parser

    args = store_parser(__doc__).parse_args(argv)

    import vadbench
    from vadbench import RunContext

    ds = ped2(args.data_root)
    teacher = vadbench.create_model("teacher-attr")
    teacher.fit(ds.train, RunContext(cache_dir=str(Path(args.results) / "cache"), seed=0))
    videos = list(ds.test)
    groups = group_frame_scores(teacher, videos)
    report = {"what": "Spearman correlation of stored Ped2 test frame scores with teacher-attr's attribute groups "
                      "(no labels read)",
              "command": "python plugins/fastaed/scripts/fidelity_by_group.py",
              "groups_among_themselves": {f"{a}-{b}": round(float(spearmanr(groups[a], groups[b])[0]), 3)
                                          for i, a in enumerate(groups) for b in list(groups)[i + 1:]},
              "cells": {}}
    for model in MODELS:
        for rec, scores in model_cells(args.results, model, videos):
            s = np.concatenate(scores)
            cell = rec["cell"]
            report["cells"][cell] = {g: round(float(spearmanr(s, x)[0]), 3) for g, x in groups.items()}
            print(cell, report["cells"][cell], flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
