"""Third-party plugins: installed with pip from a package built here, found with no edit in vadbench/."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vadbench
from vadbench.errors import PluginError, UnknownNameError
from vadbench.registry import Registry

PLUGIN_MODEL = '''
import numpy as np
from vadbench import Model, Scores, hookimpl


class Brightness(Model):
    """Mean brightness of each frame: a toy competitor."""

    family = "competitor"

    def fit(self, train, ctx):
        self.mean_ = float(np.mean([f.mean() for f in train.videos[0].frames(gray=True)]))

    def example_input(self, batch_size=1):
        return np.zeros((batch_size, 8, 8), np.uint8)

    def forward(self, batch):
        return np.abs(batch.reshape(len(batch), -1).mean(1) - self.mean_)

    def score(self, video):
        return Scores(frame=self.forward(video.read(gray=True)))

    def state_dict(self):
        return {"mean": self.mean_}

    def load_state_dict(self, state):
        self.mean_ = float(state["mean"])


@hookimpl
def {hook}(registry):
    registry.register("toy-brightness", Brightness, family="competitor")
'''


def _install_plugin(tmp_path: Path, hook: str) -> Path:
    """Build and pip-install a tiny plugin package into a private target folder."""
    src = tmp_path / "src"
    (src / "toyplugin").mkdir(parents=True)
    (src / "toyplugin" / "__init__.py").write_text(PLUGIN_MODEL.replace("{hook}", hook))
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "vadbench-toyplugin"
        version = "0.0.1"
        [project.entry-points.vadbench]
        toy = "toyplugin"
    """))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(src)], check=True)
    return target


def _vadbench(target: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "vadbench.cli", *args], check=False, env=env,
                          capture_output=True, text=True, timeout=300)


def test_third_party_plugin_is_listed_and_runs(tmp_path):
    target = _install_plugin(tmp_path, "vadbench_register_models")
    listed = _vadbench(target, "list", "models", "toy-*")
    assert listed.returncode == 0, listed.stderr
    assert "toy-brightness" in listed.stdout and "competitor" in listed.stdout
    run = _vadbench(target, "run", "--models", "toy-brightness", "--datasets", "synthetic",
                    "--results", str(tmp_path / "results"))
    assert run.returncode == 0, run.stderr
    assert "toy-brightness" in (tmp_path / "results" / "leaderboards" / "synthetic.md").read_text()


def test_misspelt_hook_fails_loudly(tmp_path):
    target = _install_plugin(tmp_path, "vadbench_register_model")
    listed = _vadbench(target, "list", "models")
    assert listed.returncode == 2
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 1 and "vadbench_register_model" in lines[0] and "toy" in lines[0]


def test_registry_lists_with_wildcards_and_suggests_names():
    assert "motion-diff" in vadbench.list_models("motion-*")
    assert vadbench.list_models("no-such-*") == []
    with pytest.raises(UnknownNameError, match="motion-diff"):
        vadbench.create_model("motion-dif")
    assert vadbench.create_model("motion-diff", block=8).block == 8


def test_registry_rejects_unsafe_and_duplicate_names():
    reg = Registry("model")
    with pytest.raises(PluginError):
        reg.register("../escape", dict)
    reg.register("a", dict)
    with pytest.raises(PluginError):
        reg.register("a", list)
