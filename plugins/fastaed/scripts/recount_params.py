"""Correct the parameter count of Fast-AED records written before count_params skipped private caches.

Until then, ``vadbench.profile.count_params`` also counted ``FastAED._infer``, the
BatchNorm-folded inference copy a student builds when it first scores, so every
fitted student's record held about twice its parameters. The count depends on
the configuration only, so it is recomputed from a fresh model built with the
record's configuration, after checking that the stored figure is exactly that
count plus the folded copy's (the diagnosis); other models are left alone.

    python plugins/fastaed/scripts/recount_params.py leaderboards/results/ped2
"""

from __future__ import annotations

import argparse

from vadbench import create_model
from vadbench.atomic import atomic_write_json
from vadbench.profile import count_params
from vadbench.results import ResultsStore


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", help="results store folder")
    args = p.parse_args()
    store = ResultsStore(args.results)
    fixed = 0
    for record in store.records(status="ok"):
        speed, model = record.get("speed") or {}, record["model"]
        if model.get("family") != "student" or "params" not in speed:
            continue
        fresh = create_model(model["name"], **model["config"])
        right = count_params(fresh)
        folded = sum(p.numel() for p in fresh.infer_net().parameters())
        if speed["params"] == right:
            continue
        if speed["params"] != right + folded:
            raise SystemExit(f"{store.record_path(record['cell'])}: params {speed['params']} is neither "
                             f"{right} nor {right} + {folded} (network + folded copy); not touched")
        speed["params"] = right
        atomic_write_json(store.record_path(record["cell"]), record)
        print(f"{record['cell']}: params {right + folded} -> {right}")
        fixed += 1
    print(f"{fixed} record(s) corrected in {store.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
