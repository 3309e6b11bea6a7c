"""The machine a speed figure was measured on: :func:`machine_info` (stored with every speed record) and
:func:`machine_summary` (one line of it, for table headers and plot titles).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import plugins

__all__ = ["machine_info", "machine_summary"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model", "Processor") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gpu_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else None


def machine_info() -> dict:
    """Describe the machine a speed figure was measured on.

    CPU model, logical cores (and those this process may use), torch threads,
    memory, OS, Python/torch/numpy/OpenCV versions, and the GPU (name, memory,
    compute capability, driver, CUDA) where ``torch.cuda`` is available.
    Plugins add fields through the ``vadbench_update_machine_info(info)`` hook;
    if the plugins cannot be loaded at all the hook is skipped, but an error
    raised by a hook implementation propagates.

    >>> info = machine_info()
    >>> info["logical_cores"] >= 1 and "torch" in info and "cpu" in info
    True
    """
    import torch

    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        import cv2

        opencv = cv2.__version__
    except Exception:  # noqa: BLE001 - optional for this description
        opencv = None
    info: dict[str, Any] = {
        "node": socket.gethostname(),
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "memory_gb": _mem_total_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": opencv,
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        info.update({
            "gpu": props.name,
            "gpu_count": torch.cuda.device_count(),
            "gpu_memory_gb": round(props.total_memory / 1024**3, 1),
            "gpu_capability": f"{props.major}.{props.minor}",
            "gpu_driver": _gpu_driver(),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        })
    try:
        pm = plugins.get_plugin_manager()
    except Exception:  # noqa: BLE001 - plugins that fail to load must not stop a profile
        pm = None
    if pm is not None:
        pm.hook.vadbench_update_machine_info(info=info)
    return info


def machine_summary(info: Mapping | None) -> str:
    """One line naming a machine, for table headers and plot titles.

    >>> machine_summary({"cpu": "Xeon X", "usable_cores": 2, "torch_threads": 2, "torch": "2.1"})
    'Xeon X, 2 cores, 2 torch threads; torch 2.1'
    >>> machine_summary({"cpu": "Xeon X", "gpu": "H100", "gpu_driver": "550", "cuda": "12.4", "torch": "2.1"})
    'H100 (driver 550, CUDA 12.4); Xeon X; torch 2.1'
    """
    if not info:
        return "machine not recorded"
    cpu = str(info.get("cpu") or "unknown CPU")
    torch_v = f"torch {info['torch']}" if info.get("torch") else ""
    if info.get("gpu"):
        extra = ", ".join(x for x in (f"driver {info['gpu_driver']}" if info.get("gpu_driver") else "",
                                      f"CUDA {info['cuda']}" if info.get("cuda") else "") if x)
        parts = [f"{info['gpu']} ({extra})" if extra else str(info["gpu"]), cpu, torch_v]
    else:
        cores = info.get("usable_cores") or info.get("logical_cores")
        bits = [cpu]
        if cores:
            bits.append(f"{cores} cores")
        if info.get("torch_threads"):
            bits.append(f"{info['torch_threads']} torch threads")
        parts = [", ".join(bits), torch_v]
    return "; ".join(p for p in parts if p)
