"""Hot paths under pytest-benchmark: run `tox -e bench` (or add --benchmark-enable) for medians.

No test here asserts a time; the numbers go to pytest-benchmark's report, with
the machine described by the hook in tests/conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vadbench
from vadbench.metrics import frame_auc


@pytest.fixture(scope="module")
def ped2_sized_scores():
    rng = np.random.default_rng(0)
    lengths = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
    labels = [(np.arange(n) > n // 3).astype(np.uint8) for n in lengths]
    scores = [lab + rng.normal(0, 1, len(lab)) for lab in labels]
    return scores, labels


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_bench_frame_auc(benchmark, ped2_sized_scores, average):
    scores, labels = ped2_sized_scores
    value = benchmark(frame_auc, scores, labels, average=average, sigma=3)
    assert 0.5 < value <= 1.0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from vadbench.contract import tiny_dataset

    root = tmp_path_factory.mktemp("bench")
    return root, tiny_dataset(root)


@pytest.mark.parametrize("name", vadbench.list_models())
def test_bench_model_forward_batch1(benchmark, name, tiny):
    """Each model's hot path at batch 1, after a quick fit on the tiny synthetic dataset."""
    from vadbench.plugins import model_registry
    from vadbench.results import ResultsStore
    from vadbench.runner import ModelCache

    root, dataset = tiny
    model, _ = ModelCache(ResultsStore(root / "store"), dataset, 0, "cpu").get(
        name, model_registry().entry(name).quick)
    batch = model.example_input(1)
    with torch.inference_mode():
        out = benchmark(model.forward, batch)
    assert len(out) >= 1
