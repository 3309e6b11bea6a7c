"""Export a fitted model's hot path (``forward``) to ONNX and run it with ONNX Runtime.

Any model whose ``forward`` is torch code on a tensor batch exports: the hot
path is wrapped in a module and traced on ``example_input``. The export is
checked against torch on sample input before it is kept. Needs the extra
``pip install vadbench[onnx]`` (onnx, onnxruntime, onnxscript).
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes
from .errors import PluginError, VadbenchError


def _torch_hot_path(model):
    import torch

    batch = model.example_input(2)
    if not isinstance(batch, torch.Tensor):
        raise PluginError(f"model {model.name}: its forward takes {type(batch).__name__}, not a torch "
                          "tensor; only torch hot paths export to ONNX")

    class HotPath(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            for key, value in vars(inner).items():  # register sub-modules so weights are exported
                if isinstance(value, torch.nn.Module):
                    self.add_module(key, value)

        def forward(self, x):
            return self.inner.forward(x)

    return HotPath(model).eval(), batch


def export_onnx(model, path: str | Path, *, atol: float = 1e-4, rtol: float = 1e-3) -> dict:
    """Write ``model``'s hot path to ``path`` (ONNX) and check it against torch; return the check."""
    import torch

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise VadbenchError("ONNX export needs onnx and onnxruntime: pip install 'vadbench[onnx]'") from None
    module, batch = _torch_hot_path(model)
    with torch.inference_mode():
        expected = module(batch).detach().numpy()
    program = torch.onnx.export(module, (batch,), dynamo=True, verbose=False, input_names=["frames"],
                                output_names=["scores"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    buf = io.BytesIO()
    # dynamo=True always returns a program, and its save() writes to a file object as well as to a path
    program.save(buf)  # type: ignore[union-attr, arg-type]
    atomic_write_bytes(path, buf.getvalue())
    got = OnnxHotPath(path).run(batch.numpy())
    error = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if not np.allclose(got, expected, atol=atol, rtol=rtol):
        Path(path).unlink()
        raise PluginError(
            f"model {model.name}: ONNX Runtime differs from torch by {error:.3g}; export discarded")
    return {"path": str(path), "max_abs_error": error, "batch": list(batch.shape)}


class OnnxHotPath:
    """An ONNX Runtime session for an exported hot path (CPU provider unless told otherwise)."""

    def __init__(self, path: str | Path, providers=("CPUExecutionProvider",), threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=list(providers))
        graph_input = self.session.get_inputs()[0]
        self.input = graph_input.name
        # the graph's declared element type, e.g. "tensor(uint8)" for students fed raw frames
        self.dtype = np.dtype(_ONNX_TYPES.get(graph_input.type, "float32"))

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(batch, dtype=self.dtype)})[0]


_ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
               "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32",
               "tensor(int64)": "int64"}


def onnx_twin(model, path: str | Path):
    """A copy of ``model`` whose ``forward`` runs the exported graph (for ``vadbench profile --onnx``)."""
    import torch

    session = OnnxHotPath(path)
    twin = copy.copy(model)
    twin.name = f"{model.name}[onnx]"

    def forward(batch):
        array = batch.numpy() if isinstance(batch, torch.Tensor) else batch
        return torch.from_numpy(session.run(array))

    twin.forward = forward
    return twin
