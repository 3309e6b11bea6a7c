"""Shared fixtures: where the real data lives, and machine info for pytest-benchmark."""

from __future__ import annotations

import contextlib
import os
import types
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


@contextlib.contextmanager
def extra_models(**factories):
    """Register throw-away models (name -> class) for the duration of a test, as a plugin would."""
    import vadbench
    from vadbench.plugins import get_plugin_manager, model_registry

    @vadbench.hookimpl
    def vadbench_register_models(registry):
        for name, factory in factories.items():
            registry.register(name, factory, family="baseline")

    pm = get_plugin_manager()
    pm.register(types.SimpleNamespace(vadbench_register_models=vadbench_register_models), name="test-models")
    model_registry.cache_clear()
    try:
        yield
    finally:
        pm.unregister(name="test-models")
        model_registry.cache_clear()


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add torch, threads and accelerator to pytest-benchmark's machine description."""
    from vadbench.profile import machine_info as vadbench_machine_info

    machine_info["vadbench"] = vadbench_machine_info()
