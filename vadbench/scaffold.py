"""``vadbench new-plugin NAME``: a competitor package that installs with pip and passes its contract test.

>>> import tempfile, pathlib
>>> out = new_plugin("my-model", pathlib.Path(tempfile.mkdtemp()) / "my-model")
>>> sorted(p.name for p in out.rglob("*") if p.is_file())
['README.md', '__init__.py', 'model.py', 'plugin.py', 'pyproject.toml', 'test_contract.py']
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import VadbenchError

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "vadbench-{name}"
version = "0.1.0"
description = "{name}: a vadbench competitor"
requires-python = ">=3.10"
dependencies = ["vadbench", "numpy", "torch"]

[project.entry-points.vadbench]
{module} = "{module}.plugin"

[tool.setuptools.packages.find]
include = ["{module}*"]
'''

PLUGIN = '''"""Registers {name} with vadbench (found through the `vadbench` entry point in pyproject.toml)."""

from vadbench import hookimpl

from .model import {cls}


@hookimpl
def vadbench_register_models(registry):
    # family: teacher, student, competitor or baseline; quick: a configuration that trains in seconds
    registry.register("{name}", {cls}, family="competitor", quick={{"size": (64, 48)}})
'''

MODEL = '''"""{name}: replace this distance-to-the-mean-frame placeholder with your method.

The four duties of a vadbench model: fit, score, example_input/forward (the hot
path the profiler times, the same code score runs) and state_dict/load_state_dict.
"""

from __future__ import annotations

import numpy as np
import torch

from vadbench import Model, Scores


class {cls}(Model):
    """Per frame: the largest block-wise distance to the mean training frame."""

    family = "competitor"

    def __init__(self, size=(180, 120), block=8):
        super().__init__(size=size, block=block)
        self.size, self.block = tuple(size), block
        self.mean = torch.zeros(self.size[1], self.size[0])

    def fit(self, train, ctx):
        """Learn from the normal training videos only."""
        total, count = torch.zeros_like(self.mean), 0
        for video in train:
            frames = torch.from_numpy(video.read(gray=True, size=self.size)).float()
            total += frames.sum(0)
            count += len(frames)
        self.mean = total / max(count, 1)

    def example_input(self, batch_size=1):
        return torch.rand(batch_size, self.size[1], self.size[0]) * 255

    def forward(self, batch):
        diff = (batch - self.mean).abs().unsqueeze(1)
        return torch.nn.functional.avg_pool2d(diff, self.block).flatten(1).amax(1)

    def score(self, video):
        frames = torch.from_numpy(video.read(gray=True, size=self.size)).float()
        with torch.inference_mode():
            return Scores(frame=self.forward(frames).numpy().astype(np.float64))

    def state_dict(self):
        return {{"mean": self.mean}}

    def load_state_dict(self, state):
        self.mean = state["mean"]
'''

TEST = '''"""The vadbench plugin contract, checked on {name} (fit, score, profile, reload, determinism)."""

from vadbench.contract import check_model


def test_{module}_honours_the_vadbench_contract(tmp_path):
    check_model("{name}", tmp_path)
'''

README = '''# vadbench-{name}

A vadbench competitor. Install it next to vadbench and it is listed at once:

    pip install -e .
    vadbench list models "{name}"
    python -m pytest tests
    vadbench run --models {name} --datasets ped2 --data-root PATH
'''


def new_plugin(name: str, out: str | Path) -> Path:
    """Write a plugin package for the model ``name`` into the folder ``out``; return it."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise VadbenchError(f"{name!r}: a plugin name is lower case letters, digits and '-'")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise VadbenchError(f"{out}: folder exists and is not empty")
    module = "vadbench_" + name.replace("-", "_")
    cls = "".join(part.capitalize() for part in name.split("-"))
    values = {"name": name, "module": module, "cls": cls}
    files = {"pyproject.toml": PYPROJECT, f"{module}/__init__.py": '"""{name} for vadbench."""\n',
             f"{module}/plugin.py": PLUGIN, f"{module}/model.py": MODEL, "tests/test_contract.py": TEST,
             "README.md": README}
    for rel, template in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return out
