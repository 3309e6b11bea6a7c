"""The shared training loop: both schedules, both kinds of generator, the per-item loss history."""

import numpy as np
import pytest
import torch

from vadbench.training import train_epochs


def _least_squares(schedule, rng):
    x = torch.linspace(-1, 1, 50)
    w = torch.nn.Parameter(torch.zeros(()))
    seen = []

    def loss_of(idx):
        seen.append([int(i) for i in idx])
        i = torch.as_tensor(idx)
        return ((w * x[i] - 3 * x[i]) ** 2).mean()

    history = train_epochs([w], loss_of, n_items=50, epochs=30, batch_size=8, lr=0.2, rng=rng,
                           schedule=schedule)
    return float(w.detach()), history, seen


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_both_schedules_fit_a_weight(schedule):
    w, history, _ = _least_squares(schedule, np.random.default_rng(0))
    assert abs(w - 3) < 0.05
    assert history[-1] < history[0] / 100


def test_a_torch_generator_orders_each_epoch_with_randperm():
    _, _, seen = _least_squares("onecycle", torch.Generator().manual_seed(5))
    first_epoch = [i for batch in seen[:7] for i in batch]  # 50 items in batches of 8: 7 batches
    assert first_epoch == torch.randperm(50, generator=torch.Generator().manual_seed(5)).tolist()
    assert _least_squares("onecycle", torch.Generator().manual_seed(5))[:2] == \
        _least_squares("onecycle", torch.Generator().manual_seed(5))[:2]


def test_the_history_is_the_mean_loss_per_item():
    w = torch.nn.Parameter(torch.zeros(()))
    # batches of 4, 4 and 2 items whose loss is their size: (4*4 + 4*4 + 2*2) / 10 items
    history = train_epochs([w], lambda idx: w * 0 + float(len(idx)), n_items=10, epochs=1, batch_size=4,
                           lr=0.1, rng=np.random.default_rng(0))
    assert history == [pytest.approx(3.6)]


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="schedule must be one of"):
        train_epochs([torch.nn.Parameter(torch.zeros(()))], lambda idx: None, n_items=4, epochs=1,
                     batch_size=2, lr=0.1, rng=np.random.default_rng(0), schedule="step")
