"""The plugin contract (vadbench.contract), checked on every registered model.

Each model, in its registered ``quick`` configuration, fits a tiny synthetic
dataset, scores every test video with one finite score per frame, is profiled,
reloads from its saved state to the same scores, gives identical scores when
fitted again with the same seed (determinism on CPU), and runs its hot path
before it is fitted.
"""

from __future__ import annotations

import pytest

import vadbench
from vadbench.contract import check_model, tiny_dataset


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(scope="module")
def tiny(workdir):
    return tiny_dataset(workdir)


@pytest.mark.parametrize("name", vadbench.list_models())
def test_model_honours_the_contract(name, workdir, tiny):
    speed = check_model(name, workdir, tiny)
    assert speed["model"] == name
