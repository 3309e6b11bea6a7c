"""The FastAno predictor: a small 3D-convolutional U-Net from 5 frames to the next one.

Written from the architecture description in the research digest (layer list,
kernel sizes, strides, normalisation); no code of the original repository is
used. With ``width=64`` the network has 2,158,529 parameters (batch norm), the
count of the published model.

Shapes for the published input ``(B, 1, 5, 240, 360)`` (C, T, H, W after B)::

    enc1  Conv3d 1->w,   k3 s2 p1            -> (w,  3, 120, 180)   LeakyReLU(0.2)
    enc2  Conv3d w->2w,  k3 s2 p1 + norm     -> (2w, 2,  60,  90)   LeakyReLU(0.2)
    enc3  Conv3d 2w->4w, k3 s2 p1 + norm     -> (4w, 1,  30,  45)
    dec3  ReLU, ConvT3d 4w->2w, k2 s2 + norm -> (2w, 2,  60,  90)   concat enc2
    dec2  ReLU, ConvT3d 4w->w, k(3,4,4) s2 p1 + norm -> (w, 3, 120, 180)  concat enc1
    dec1  ReLU, ConvT3d 2w->1, k(1,2,2) s(1,2,2) p(1,0,0) -> (1, 1, 240, 360)  tanh

The height and width of the input must be multiples of 8 (three stride-2 steps
that the decoder undoes exactly); the clip length is 5.

``impl="3d"`` runs the layers as PyTorch's 3D (transposed) convolutions;
``impl="2d"`` computes exactly the same function with 2D (transposed)
convolutions, one per output time step over the input time steps its kernel
reaches (:func:`conv3d_2d`, :func:`conv_transpose3d_2d`). Both use the same
parameters. With torch 2.14.1 on a 2-core CPU the 2D form trains about 7%
faster at the CPU configurations (192x128 and 240x160, width 16) and about 7%
slower at the published size (measured by a script since retired; its figures are in
``docs/experiments/fastano/results/train_impl_speed_t*.json``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3d_2d(x: torch.Tensor, conv: nn.Conv3d) -> torch.Tensor:
    """``conv(x)`` for a :class:`~torch.nn.Conv3d` (no dilation or groups) computed with ``conv2d``."""
    t_in, (kt, _, _) = x.shape[2], conv.kernel_size
    st, pt = conv.stride[0], conv.padding[0]
    t_out = (t_in + 2 * pt - kt) // st + 1
    out = []
    for to in range(t_out):
        taps = [(k, to * st - pt + k) for k in range(kt) if 0 <= to * st - pt + k < t_in]
        xs = torch.cat([x[:, :, ti] for _, ti in taps], 1)
        ws = torch.cat([conv.weight[:, :, k] for k, _ in taps], 1)
        out.append(F.conv2d(xs, ws, conv.bias, conv.stride[1:], conv.padding[1:]))
    return torch.stack(out, 2)


def conv_transpose3d_2d(x: torch.Tensor, conv: nn.ConvTranspose3d) -> torch.Tensor:
    """``conv(x)`` for a :class:`~torch.nn.ConvTranspose3d` (no output padding, dilation or groups)
    computed with ``conv_transpose2d``."""
    t_in, (kt, _, _) = x.shape[2], conv.kernel_size
    st, pt = conv.stride[0], conv.padding[0]
    t_out = (t_in - 1) * st - 2 * pt + kt
    out = []
    for to in range(t_out):
        taps = [(ti, to + pt - ti * st) for ti in range(t_in) if 0 <= to + pt - ti * st < kt]
        if not taps:  # no input reaches this step: the bias alone
            shape = (x.shape[0], conv.out_channels, *_spatial_out(x, conv))
            bias = conv.bias.view(1, -1, 1, 1).expand(shape) if conv.bias is not None else x.new_zeros(shape)
            out.append(bias)
            continue
        xs = torch.cat([x[:, :, ti] for ti, _ in taps], 1)
        ws = torch.cat([conv.weight[:, :, k] for _, k in taps], 0)
        out.append(F.conv_transpose2d(xs, ws, conv.bias, conv.stride[1:], conv.padding[1:]))
    return torch.stack(out, 2)


def _spatial_out(x: torch.Tensor, conv: nn.ConvTranspose3d) -> tuple[int, int]:
    return tuple((n - 1) * s - 2 * p + k for n, s, p, k in
                 zip(x.shape[3:], conv.stride[1:], conv.padding[1:], conv.kernel_size[1:], strict=True))


def _norm(channels: int, kind: str) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "instance":
        return nn.InstanceNorm3d(channels)
    raise ValueError(f"norm must be 'batch' or 'instance', not {kind!r}")


class FastAnoNet(nn.Module):
    """Next-frame predictor; input (B, 1, 5, H, W) in [0, 1], output (B, 1, 1, H, W) in [-1, 1].

    The output is ``tanh``; the predicted frame in [0, 1] is ``(out + 1) / 2``
    (see :meth:`predict`).
    """

    clip = 5

    def __init__(self, width: int = 64, norm: str = "batch", impl: str = "3d"):
        super().__init__()
        if impl not in ("2d", "3d"):
            raise ValueError(f"impl must be '2d' or '3d', not {impl!r}")
        self.impl = impl
        w = width
        self.enc1 = nn.Conv3d(1, w, 3, 2, 1)
        self.enc2 = nn.Conv3d(w, 2 * w, 3, 2, 1)
        self.norm2 = _norm(2 * w, norm)
        self.enc3 = nn.Conv3d(2 * w, 4 * w, 3, 2, 1)
        self.norm3 = _norm(4 * w, norm)
        self.dec3 = nn.ConvTranspose3d(4 * w, 2 * w, 2, 2)
        self.dnorm3 = _norm(2 * w, norm)
        self.dec2 = nn.ConvTranspose3d(4 * w, w, (3, 4, 4), 2, 1)
        self.dnorm2 = _norm(w, norm)
        self.dec1 = nn.ConvTranspose3d(2 * w, 1, (1, 2, 2), (1, 2, 2), (1, 0, 0))
        self.act_enc = nn.LeakyReLU(0.2)
        self.act_dec = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.clip or x.shape[3] % 8 or x.shape[4] % 8:
            raise ValueError("FastAnoNet expects (B, 1, 5, H, W) with H, W multiples of 8; "
                             f"got {tuple(x.shape)}")
        if self.impl == "2d":
            conv, convt = conv3d_2d, conv_transpose3d_2d
        else:
            def conv(inp, layer):
                return layer(inp)
            convt = conv
        e1 = conv(x, self.enc1)
        e2 = self.norm2(conv(self.act_enc(e1), self.enc2))
        e3 = self.norm3(conv(self.act_enc(e2), self.enc3))
        d3 = self.dnorm3(convt(self.act_dec(e3), self.dec3))
        d2 = self.dnorm2(convt(self.act_dec(torch.cat([d3, e2], 1)), self.dec2))
        out = convt(self.act_dec(torch.cat([d2, e1], 1)), self.dec1)
        return torch.tanh(out)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted next frame in [0, 1], shape (B, H, W)."""
        return (self.forward(x)[:, 0, 0] + 1) / 2
