"""The torch side the network teachers share: array/tensor conversion and the training loop.

:func:`to_tensor` and :func:`to_numpy` turn the arrays of an
:data:`~.objects.Objects` dict into tensors and back; :func:`train_network` is the loop every teacher that
trains a network (the autoencoder, the sequence teacher) runs, the core's
:func:`vadbench.training.train_epochs` with a one-cycle learning rate.
"""

from __future__ import annotations

import numpy as np
import torch

from vadbench.training import train_epochs


def to_tensor(a) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def train_network(net: torch.nn.Module, x: torch.Tensor, batch_loss, *, epochs: int, batch_size: int,
                  lr: float, generator: torch.Generator, ctx=None, name: str = "teacher") -> list[float]:
    """Train ``net`` on the items of ``x`` as the network teachers do; the mean loss per item of each epoch.

    ``batch_loss(xb)`` gives the loss of a batch of items. The loop is
    :func:`vadbench.training.train_epochs` with a one-cycle learning rate, each
    epoch's order drawn from ``generator`` (which ``batch_loss`` may use too);
    ``net`` is left in eval mode.

    >>> net = torch.nn.Linear(1, 1); x = torch.linspace(-1, 1, 32)[:, None]
    >>> loss = lambda xb: ((net(xb) - 2 * xb) ** 2).mean()
    >>> history = train_network(net, x, loss, epochs=30, batch_size=8, lr=0.1, generator=torch.Generator())
    >>> len(history), history[-1] < history[0], net.training
    (30, True, False)
    """
    net.train()
    history = train_epochs(net.parameters(), lambda idx: batch_loss(x[idx]), n_items=len(x), epochs=epochs,
                           batch_size=batch_size, lr=lr, rng=generator, schedule="onecycle",
                           log=ctx.log if ctx is not None else None, name=name)
    net.eval()
    return history


__all__ = ["to_numpy", "to_tensor", "train_network"]
