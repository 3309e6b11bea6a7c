"""FastAno for vadbench (registered through the ``vadbench`` entry point as ``fastano`` and
``fastano-paper``)."""

from .model import FastAno
from .net import FastAnoNet

__all__ = ["FastAno", "FastAnoNet"]
