"""Run cells as Ray tasks, locally or on a cluster.

Each cell becomes one task requesting ``cpus_per_cell`` CPUs (and one GPU when
the run's device is CUDA); the task calls the same cell function as the local
executor, so records land in the same results store (which must be on a
filesystem every worker sees, e.g. NFS on a cluster). Records are yielded as
tasks finish, in completion order.

With no address a private local Ray instance is started (``num_cpus`` of this
machine); ``address="auto"`` or ``"ray://host:10001"`` joins a running cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..errors import VadbenchError


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_cell: float = 1, gpus_per_cell: float = 0,
                 num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise VadbenchError("the ray executor needs Ray: pip install 'vadbench[ray]'") from None
        self.ray = ray
        self.cpus_per_cell, self.gpus_per_cell = cpus_per_cell, gpus_per_cell
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": num_cpus}
            ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, **kwargs)

    def map(self, fn: Callable, cells: Iterable) -> Iterator[dict]:
        remote = self.ray.remote(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell)(fn)
        pending = [remote.remote(cell) for cell in cells]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(done[0])

    def shutdown(self) -> None:
        self.ray.shutdown()
