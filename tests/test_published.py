"""Every published number can be recomputed from the stored per-frame scores and the dataset's labels.

Two recomputations: with the code that produced the numbers (``vadbench.runner.evaluate_scores``, which
also covers RBDC and TBDC), and an independent one of the frame-level AUCs from the labels a user
loads (``vadbench.create_dataset``) with scikit-learn's ``roc_auc_score`` and scipy's
``gaussian_filter1d`` only, none of ``vadbench.metrics``. Then every column of
``leaderboards/<store>.csv`` is rebuilt from the records (means and sample standard deviations over
seeds) and compared, and the README's table must be the published table of ``leaderboards/ped2.md``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, REPO
from scipy.ndimage import gaussian_filter1d
from sklearn.metrics import roc_auc_score

import vadbench
from vadbench.results import ResultsStore
from vadbench.runner import evaluate_scores

STORES = sorted((REPO / "leaderboards" / "results").glob("*"))

#: Means and stds over seeds in the CSV, and where a record keeps each value.
AUCS = ("micro_auc", "macro_auc", "micro_auc_minmax")        # recomputed independently here
STORED = ("rbdc", "tbdc")                                     # a record's stored value (no 2nd region metric)
SPEEDS = ("fps_e2e", "fps_model_b1", "fps_model_best")        # record["speed"]
OPTIONAL = {"micro_auc_minmax_mean", "micro_auc_minmax_std"}  # older CSVs do not have them yet
PLAIN = ("rank", "model", "family", "config_hash", "dataset", "label_source", "n_seeds", "seeds", "n_failed",
         "status", "failed", "params", "gmacs", "config")
CHECKED = set(PLAIN) | {f"{k}_{s}" for k in (*AUCS, *STORED, *SPEEDS, "train_seconds")
                        for s in ("mean", "std")}


# --------------------------------------------------------------------------- an independent frame-level AUC


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores))


def independent_aucs(scores: dict, videos, conventions: dict) -> dict:
    """Micro, macro and per-video min-max micro AUC of one cell, from its scores and the videos' labels.

    Per video: drop the first ``skip_first`` frames, smooth with ``gaussian_filter1d(sigma)``,
    min-max rescale when the conventions say ``normalize="minmax"``; micro pools every frame of
    every video, macro averages the AUCs of the videos that hold both classes (``single_class``:
    ``drop`` leaves the others out, ``one`` counts them as 1, ``pad`` adds a normal frame below
    and an anomalous one above), and ``micro_auc_minmax`` pools after each video's min-max.
    """
    sigma = conventions.get("sigma")
    skip = int(conventions.get("skip_first") or 0)
    normalize = conventions.get("normalize")
    policy = conventions.get("single_class") or "drop"
    assert normalize in (None, "minmax") and policy in ("drop", "one", "pad", "raise"), conventions

    def rescale(a: np.ndarray) -> np.ndarray:
        lo, hi = (a.min(), a.max()) if a.size else (0.0, 0.0)
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)

    smoothed, rescaled, labels = [], [], []
    for video in videos:
        s = np.asarray(scores[video.id], dtype=np.float64).reshape(-1)[skip:]
        y = np.asarray(video.labels).astype(int).reshape(-1)[skip:]
        assert s.shape == y.shape, (video.id, s.shape, y.shape)
        if sigma and s.size:
            s = gaussian_filter1d(s, float(sigma))
        smoothed.append(rescale(s) if normalize == "minmax" else s)
        rescaled.append(rescale(s))
        labels.append(y)
    y_all = np.concatenate(labels)
    per_video = []
    for s, y in zip(smoothed, labels, strict=True):
        if y.size == 0:
            continue
        if 0 < y.sum() < y.size:
            per_video.append(_auc(y, s))
        elif policy == "one":
            per_video.append(1.0)
        elif policy == "pad":
            per_video.append(_auc(np.r_[0, y, 1], np.r_[s.min() - 1.0, s, s.max() + 1.0]))
    return {"micro_auc": _auc(y_all, np.concatenate(smoothed)),
            "macro_auc": float(np.mean(per_video)) if per_video else None,
            "micro_auc_minmax": _auc(y_all, np.concatenate(rescaled))}


def test_independent_aucs_on_a_hand_made_case():
    class V:
        def __init__(self, vid, labels):
            self.id, self.labels = vid, np.array(labels)

    videos = [V("a", [0, 0, 1, 1]), V("b", [0, 0, 0]), V("c", [1, 0, 1])]
    scores = {"a": [0.0, 1.0, 2.0, 3.0], "b": [5.0, 6.0, 7.0], "c": [1.0, 0.0, 2.0]}
    r = independent_aucs(scores, videos, {"sigma": None, "skip_first": 0})
    # pooled, by hand: the anomalous frames' scores against the normal ones', ties counting one half
    pos, neg = [2, 3, 1, 2], [0, 1, 5, 6, 7, 0]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert r["micro_auc"] == pytest.approx(pairs / (len(pos) * len(neg)))
    assert r["macro_auc"] == pytest.approx(1.0)  # b dropped; a and c separate perfectly
    # per-video min-max: a -> 0, 1/3, 2/3, 1; b -> 0, .5, 1; c -> .5, 0, 1
    pos, neg = [2 / 3, 1, 0.5, 1], [0, 1 / 3, 0, 0.5, 1, 0]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert r["micro_auc_minmax"] == pytest.approx(pairs / (len(pos) * len(neg)))
    assert independent_aucs(scores, videos, {"skip_first": 1, "single_class": "one"})["macro_auc"] == 1.0


# --------------------------------------------------------------------------- the checks, on one store


def _dataset(ds: dict, tmp_path: Path, opened: dict):
    key = json.dumps([ds["name"], ds.get("options") or {}, ds.get("root") and Path(ds["root"]).name],
                     sort_keys=True, default=str)
    if key not in opened:
        options = dict(ds.get("options") or {})
        if ds["name"] == "synthetic":
            opened[key] = vadbench.create_dataset("synthetic", cache_dir=str(tmp_path / "synthetic"),
                                                  **options)
        else:
            root = DATA / Path(ds["root"]).name
            if not root.exists():
                pytest.skip(f"real data not found at {root} (set VADBENCH_DATA)")
            opened[key] = vadbench.create_dataset(ds["name"], root=str(root), **options)
    return opened[key]


def recompute_store(store_dir: Path, tmp_path: Path) -> dict[str, dict]:
    """``{cell: independently recomputed AUCs}`` of every finished cell, each checked against its record
    (and the record's metrics against ``evaluate_scores``, RBDC and TBDC included)."""
    store = ResultsStore(store_dir)
    records = store.records(status="ok")
    assert records and not store.warnings
    opened: dict = {}
    out = {}
    for record in records:
        ds = record["dataset"]
        dataset = _dataset(ds, tmp_path, opened)
        assert dataset.fingerprint == ds["fingerprint"], record["cell"]
        scores = store.load_scores(record)
        videos = list(dataset.test)
        assert sorted(scores) == sorted(v.id for v in videos), record["cell"]
        metrics = evaluate_scores(dataset, scores, store.load_regions(record) or {}, seed=record["seed"])
        for key in ("micro_auc", "macro_auc", "rbdc", "tbdc"):
            assert metrics[key] == pytest.approx(record["metrics"][key], abs=1e-12), (record["cell"], key)
        mine = independent_aucs(scores, videos, record["metrics"]["conventions"])
        for key in AUCS:
            if key in record["metrics"]:
                assert mine[key] == pytest.approx(record["metrics"][key], abs=1e-9), (record["cell"], key)
        out[record["cell"]] = mine
    return out


def _config_hash(config) -> str:
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def _finite(values) -> list[float]:
    out = []
    for v in values:
        if v is None or isinstance(v, bool):
            continue
        v = float(v)
        if math.isfinite(v):
            out.append(v)
    return out


def _check_mean_std(row: dict, column: str, values, where: str, *, tol: float) -> None:
    vals = _finite(values)
    mean = float(np.mean(vals)) if vals else None
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else None  # the sample std, as published
    for suffix, expected in (("mean", mean), ("std", std)):
        published = row[f"{column}_{suffix}"]
        if expected is None:
            assert published == "", (where, f"{column}_{suffix}", published)
        else:
            assert published != "" and float(published) == pytest.approx(expected, rel=1e-12, abs=tol), (
                where, f"{column}_{suffix}", published, expected)


def _plain_number(published: str, expected, where: str) -> None:
    if expected is None:
        assert published == "", where
    else:
        assert float(published) == pytest.approx(float(expected), rel=1e-12), where


def check_table(csv_path: Path, records: list[dict], recomputed: dict[str, dict]) -> None:
    """Every column of the published CSV, rebuilt from the records (AUCs from the independent
    recomputation)."""
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    unchecked = set(columns) - CHECKED
    assert not unchecked, f"{csv_path.name} publishes columns no test checks: {sorted(unchecked)}"
    missing = CHECKED - OPTIONAL - set(columns)
    assert not missing, f"{csv_path.name} lacks columns {sorted(missing)}"
    aucs = [k for k in AUCS if f"{k}_mean" in columns]

    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["model"]["name"], _config_hash(r["model"].get("config") or {}), r["dataset"]["name"],
               r["dataset"].get("label_source") or "")
        groups.setdefault(key, []).append(r)
    published = {(row["model"], row["config_hash"], row["dataset"], row["label_source"]): row for row in rows}
    assert len(published) == len(rows), "two CSV rows for one (model, config, dataset, labels)"
    assert sorted(published) == sorted(groups), (
        f"rows without records: {sorted(set(published) - set(groups))}; "
        f"records without a row (not republished yet?): {sorted(set(groups) - set(published))}")

    assert [int(row["rank"]) for row in rows] == list(range(1, len(rows) + 1))
    micro = [float(row["micro_auc_mean"]) if row["micro_auc_mean"] else None for row in rows]
    assert micro == sorted(micro, key=lambda m: (m is None, -(m or 0.0))), "rows not sorted by micro AUC"

    for key, recs in groups.items():
        row, where = published[key], f"{csv_path.name}: {key[0]} {key[1]}"
        recs = sorted(recs, key=lambda r: r["seed"])
        ok = [r for r in recs if r["status"] == "ok"]
        bad = [r for r in recs if r["status"] != "ok"]
        first = (ok or recs)[0]
        assert row["family"] == (first["model"].get("family") or ""), where
        config = json.dumps(first["model"].get("config") or {}, sort_keys=True, default=str)
        assert row["config"] == config, where
        assert int(row["n_seeds"]) == len(ok) and int(row["n_failed"]) == len(bad), where
        assert row["seeds"] == " ".join(str(r["seed"]) for r in ok), where
        assert row["failed"] == "; ".join(f"seed {r['seed']}: {r.get('error') or 'unknown error'}"
                                          for r in bad)
        assert row["status"] == ("ok" if ok else f"failed: {bad[0].get('error') or 'unknown error'}"), where
        for k in aucs:  # independently recomputed, for the records that carry the metric (as published)
            _check_mean_std(row, k, [recomputed[r["cell"]][k] for r in ok if k in r["metrics"]], where,
                            tol=1e-9)
        for k in STORED:
            _check_mean_std(row, k, [r["metrics"].get(k) for r in ok], where, tol=0.0)
        for k in SPEEDS:
            _check_mean_std(row, k, [(r.get("speed") or {}).get(k) for r in ok], where, tol=0.0)
        _check_mean_std(row, "train_seconds", [r.get("train_seconds") for r in ok], where, tol=0.0)
        for k in ("params", "gmacs"):
            values = ((r.get("speed") or {}).get(k) for r in ok)
            first_value = next((v for v in values if v is not None), None)
            _plain_number(row[k], first_value, f"{where} {k}")


@pytest.mark.parametrize("store_dir", STORES, ids=[p.name for p in STORES])
def test_published_numbers_recompute_from_stored_scores(store_dir: Path, tmp_path):
    recomputed = recompute_store(store_dir, tmp_path)
    records = ResultsStore(store_dir).records()
    assert {r["dataset"]["name"] for r in records} == {store_dir.name}
    check_table(REPO / "leaderboards" / f"{store_dir.name}.csv", records, recomputed)


def _table_block(lines: list[str]) -> list[str]:
    """The first run of consecutive table lines (``|...``)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_readme_tables_are_the_published_ones():
    """The README opens with the Ped2 table: it must be leaderboards/ped2.md's table, header and every row,
    in order."""
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- ped2-table:start -->", "<!-- ped2-table:end -->"
    assert start in readme and end in readme
    block = [line for line in readme.split(start)[1].split(end)[0].splitlines() if line.startswith("|")]
    published = _table_block((REPO / "leaderboards" / "ped2.md").read_text().splitlines())
    assert len(published) > 3 and block == published
