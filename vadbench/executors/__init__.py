"""Executors run the cells of a grid: ``map(fn, cells)`` yields one record per cell as it finishes.

``local`` runs them one after another in this process; ``ray`` sends each cell
to a Ray cluster (``pip install vadbench[ray]``). Both write to the same results
store through the same :func:`vadbench.runner.run_cell`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..errors import VadbenchError


class LocalExecutor:
    """Runs cells one after another in this process."""

    name = "local"

    def map(self, fn: Callable, cells: Iterable) -> Iterator[dict]:
        for cell in cells:
            yield fn(cell)


def get_executor(name: str = "local", **options):
    """The executor called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(**options)
    raise VadbenchError(f"unknown executor {name!r} (local, ray)")
