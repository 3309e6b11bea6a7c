"""Training losses that several model plugins share (torch is imported by the caller's model).

>>> import torch
>>> x = torch.zeros(1, 4, 4)
>>> float(gradient_loss(x, x))
0.0
"""

from __future__ import annotations


def gradient_loss(pred, target):
    """Mean absolute difference of the absolute horizontal and vertical gradients of (..., H, W) images.

    The image-gradient term of future-frame predictors (Liu et al., CVPR 2018; FastAno):
    it penalises blurry predictions that a pixel loss alone tolerates.
    """
    def grads(x):
        return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()

    (px, py), (tx, ty) = grads(pred), grads(target)
    return (px - tx).abs().mean() + (py - ty).abs().mean()
