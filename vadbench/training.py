"""The plain training loop that the plugins share: shuffled mini-batches, Adam, a decaying learning rate.

Plugins that train one network on items drawn from the training videos (clips,
windows, object crops) only say how a batch of item indices becomes a loss;
:func:`train_epochs` does the rest the same way for all of them, so that their
seeds mean the same thing: the order of the items is a fresh permutation per
epoch, drawn from the plugin's generator before any batch of that epoch is built.

Example (a least-squares fit of one weight to ``y = 3 x``):

>>> import numpy as np, torch
>>> x = torch.linspace(-1, 1, 64); y = 3 * x
>>> w = torch.nn.Parameter(torch.zeros(()))
>>> def loss_of(idx):
...     i = torch.as_tensor(idx)
...     return ((w * x[i] - y[i]) ** 2).mean()
>>> history = train_epochs([w], loss_of, n_items=64, epochs=40, batch_size=16, lr=0.1,
...                        rng=np.random.default_rng(0))
>>> len(history), round(float(w.detach()), 1)
(40, 3.0)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch


def start_fit(ctx, *, threads: int | None, device) -> tuple[np.random.Generator, torch.device]:
    """What a plugin's ``fit`` does first: its thread count, its seeds and its device, from the run context.

    Seeds torch's global generator with ``ctx.seed`` (so a network built next is
    reproducible) and returns a NumPy generator seeded the same way, with the
    device to train on (``ctx.device`` when the run sets one, else ``device``).

    >>> from vadbench import RunContext
    >>> rng, dev = start_fit(RunContext(cache_dir=".", seed=3), threads=None, device="cpu")
    >>> int(rng.integers(100)) == int(np.random.default_rng(3).integers(100)), str(dev)
    (True, 'cpu')
    """
    if threads:
        torch.set_num_threads(threads)
    seed = int(getattr(ctx, "seed", 0))
    torch.manual_seed(seed)
    return np.random.default_rng(seed), torch.device(getattr(ctx, "device", None) or device)


SCHEDULES = ("cosine", "onecycle")


def train_epochs(params: Iterable[torch.nn.Parameter],
                 loss_of: Callable[[np.ndarray | torch.Tensor], torch.Tensor], *,
                 n_items: int, epochs: int, batch_size: int, lr: float,
                 rng: np.random.Generator | torch.Generator, schedule: str = "cosine",
                 max_steps: int | None = None, log: Callable[[str], None] | None = None, name: str = "model",
                 after_epoch: Callable[[int], None] | None = None) -> list[float]:
    """Minimise ``loss_of(indices)`` over shuffled mini-batches of ``n_items`` items; the mean loss per epoch.

    Adam over ``epochs`` passes over the items (or ``max_steps`` steps if
    fewer), its learning rate on ``schedule``: ``"cosine"`` starts at ``lr``
    and decays to 0; ``"onecycle"`` is PyTorch's ``OneCycleLR`` peaking at
    ``lr``. Each epoch's order is ``rng.permutation`` (a NumPy generator) or
    ``torch.randperm`` drawn from ``rng`` (a torch generator). ``loss_of`` gets
    the item indices of one batch in that order and returns the batch's mean
    loss; it may draw from ``rng`` itself (augmentation), after the epoch's
    permutation. ``after_epoch(epoch)`` (1-based) runs after each epoch. The
    history is the mean loss per item of each epoch.
    """
    if n_items < 1:
        raise ValueError("train_epochs: no training items")
    if schedule not in SCHEDULES:
        raise ValueError(f"train_epochs: schedule must be one of {SCHEDULES}, not {schedule!r}")
    params = list(params)
    total = epochs * math.ceil(n_items / batch_size)
    if max_steps is not None:
        total = min(total, int(max_steps))
    opt = torch.optim.Adam(params, lr=lr)
    sched: torch.optim.lr_scheduler.LRScheduler
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(total, 1))
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / max(total, 1))))
    history: list[float] = []
    step, start = 0, time.perf_counter()
    while step < total:
        order = torch.randperm(n_items, generator=rng) if isinstance(rng, torch.Generator) \
            else rng.permutation(n_items)
        running, count = 0.0, 0
        for b in range(0, n_items, batch_size):
            if step >= total:
                break
            batch = order[b:b + batch_size]
            loss = loss_of(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running, count, step = running + float(loss.detach()) * len(batch), count + len(batch), step + 1
        history.append(running / max(count, 1))
        if log is not None:
            log(f"{name}: epoch {len(history)} loss {history[-1]:.5f} step {step}/{total} "
                f"{time.perf_counter() - start:.0f}s")
        if after_epoch is not None:
            after_epoch(len(history))
    return history
