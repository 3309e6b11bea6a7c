"""Shared fixtures: where the real data lives, and machine info for pytest-benchmark."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]

# The benchmarks fit every model first; they run only when asked (`tox -e bench` sets VADBENCH_BENCH=1).
if os.environ.get("VADBENCH_BENCH") != "1":
    collect_ignore_glob = ["bench/*"]
DATA = Path(os.environ.get("VADBENCH_DATA", REPO.parent / "shared" / "data"))


def real_data(*parts: str) -> Path:
    """A path under the real data folder; skips the test, saying why, when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set VADBENCH_DATA to the folder holding "
                    "ucsd_ped2/ and labels/)")
    return path


@pytest.fixture
def ped2_root() -> Path:
    return real_data("ucsd_ped2")


@pytest.fixture
def labels_root() -> Path:
    return real_data("labels")


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add torch, threads and accelerator to pytest-benchmark's machine description."""
    from vadbench.profile import machine_info as vadbench_machine_info

    machine_info["vadbench"] = vadbench_machine_info()
