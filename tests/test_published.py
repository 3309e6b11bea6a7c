"""Every published number can be recomputed from the stored per-frame scores and the dataset's labels."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import DATA, REPO

from vadbench.results import ResultsStore
from vadbench.runner import evaluate_scores, open_dataset

STORES = sorted((REPO / "leaderboards" / "results").glob("*"))


@pytest.mark.parametrize("store_dir", STORES, ids=[p.name for p in STORES])
def test_published_metrics_recompute_from_stored_scores(store_dir: Path, tmp_path):
    store = ResultsStore(store_dir)
    records = store.records(status="ok")
    assert records and not store.warnings
    for record in records:
        ds = record["dataset"]
        if ds["name"] == "synthetic":
            dataset = open_dataset("synthetic", ds.get("options") or {}, cache_dir=tmp_path)
        else:
            root = DATA / Path(ds["root"]).name
            if not root.exists():
                pytest.skip(f"real data not found at {root} (set VADBENCH_DATA)")
            dataset = open_dataset(ds["name"], ds.get("options") or {}, root=root)
        assert dataset.fingerprint == ds["fingerprint"]
        metrics = evaluate_scores(dataset, store.load_scores(record), store.load_regions(record) or {},
                                  seed=record["seed"])
        for key in ("micro_auc", "macro_auc", "rbdc", "tbdc"):
            assert metrics[key] == pytest.approx(record["metrics"][key], abs=1e-12), (record["cell"], key)

    table = REPO / "leaderboards" / f"{store_dir.name}.csv"
    rows = {row["model"]: row for row in csv.DictReader(table.open())}
    by_model: dict[str, list[float]] = {}
    for record in records:
        by_model.setdefault(record["model"]["name"], []).append(record["metrics"]["micro_auc"])
    for model, values in by_model.items():
        assert float(rows[model]["micro_auc_mean"]) == pytest.approx(sum(values) / len(values), abs=1e-9)


def test_readme_tables_are_the_published_ones():
    """The README opens with the Ped2 table: every row of it must be a row of leaderboards/ped2.md."""
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- ped2-table:start -->", "<!-- ped2-table:end -->"
    assert start in readme and end in readme
    block = [line for line in readme.split(start)[1].split(end)[0].splitlines() if line.startswith("|")]
    published = set((REPO / "leaderboards" / "ped2.md").read_text().splitlines())
    assert len(block) > 3 and [line for line in block if line not in published] == []
