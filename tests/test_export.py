"""ONNX export: the exported hot path gives the same scores through ONNX Runtime as through torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vadbench
from vadbench.cli import main
from vadbench.export import OnnxHotPath, export_onnx, onnx_twin

pytest.importorskip("onnxruntime", reason="ONNX export is an extra: pip install 'vadbench[onnx]'")

TORCH_MODELS = [n for n in vadbench.list_models()
                if isinstance(vadbench.create_model(n).example_input(1), torch.Tensor)]


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_onnx_runtime_matches_torch(name, tmp_path):
    model = vadbench.create_model(name)
    check = export_onnx(model, tmp_path / f"{name}.onnx")
    batch = model.example_input(3)
    with torch.inference_mode():
        expected = np.asarray(model.forward(batch))
    got = OnnxHotPath(tmp_path / f"{name}.onnx").run(batch.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    assert check["max_abs_error"] < 1e-3
    twin = onnx_twin(model, tmp_path / f"{name}.onnx")
    np.testing.assert_allclose(np.asarray(twin.forward(batch)), expected, rtol=1e-3, atol=1e-4)


def test_export_command_writes_a_checked_file(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "motion-diff", "--results", str(tmp_path / "res"), "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and "matches torch" in capsys.readouterr().out


def test_numpy_hot_path_is_refused_clearly(tmp_path):
    with pytest.raises(vadbench.errors.PluginError, match="only torch hot paths"):
        export_onnx(vadbench.create_model("motion-flow"), tmp_path / "x.onnx")
