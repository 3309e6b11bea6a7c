"""The student networks, the map discriminator, the phase-1 decoder and BatchNorm folding.

Re-implemented from the description of the Fast-AED architecture (see the
package README); no code of the authors' repository is used.

Student (:class:`StudentNet`)
    frames ``t-k, t, t+k`` stacked on channels -> convolutional stem -> strided
    3x3 down-sampling stages -> ``depth`` convolutional-attention blocks ->
    heads ``S`` (1x1), ``M`` (4x4) and ``L`` (16x16) reading the last feature
    map. The encoder is either the native conv stack (:class:`ConvEncoder`) or
    a timm ``features_only`` backbone (:class:`TimmEncoder`).
Attention (:class:`ConvAttention`)
    queries from a depthwise 3x3 conv (stride 1) -> BN -> 1x1 projection; keys
    and values from a depthwise 3x3 conv with stride ``kv_stride`` -> BN -> 1x1
    projection; scaled dot-product attention over the spatial positions; 1x1
    output projection. Pre-norm (LayerNorm over channels) and residuals around
    attention and a 1x1-conv feed-forward network.
Discriminator (:class:`MapDiscriminator`)
    sees only the multi-scale maps: the finest map is convolved (3x3, 4
    channels), ReLU, max-pooled to the next scale and concatenated with that
    map, and so on; the vector reached at 1x1 is concatenated with the 1x1
    score and classified by an MLP (9 -> 50 -> 1) that returns a *logit*.

>>> import torch
>>> net = StudentNet(in_ch=3, widths=(8, 16), depth=1, heads=1, dim_head=8, head_hidden=8)
>>> {k: tuple(v.shape) for k, v in net(torch.zeros(2, 3, 40, 56)).items()}
{'1x1': (2, 1, 1), '4x4': (2, 4, 4), '16x16': (2, 16, 16)}
>>> d = MapDiscriminator((1, 4, 16))
>>> tuple(d(net(torch.zeros(2, 3, 40, 56))).shape), sum(p.numel() for p in d.parameters())
((2,), 959)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vadbench.maps import DEFAULT_SCALES, scale_key

# --------------------------------------------------------------------------- blocks


class ChanLayerNorm(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (gain and bias per channel)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # layer_norm over the last axis of the NHWC view: one fused kernel, and a free view
        # (no copy) when x is channels-last, the layout of the inference network
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.g.reshape(-1), self.b.reshape(-1),
                         self.eps)
        return y.permute(0, 3, 1, 2)


class ConvAttention(nn.Module):
    """Multi-head attention whose Q, K, V are convolutional projections of the feature map."""

    def __init__(self, dim: int, heads: int = 5, dim_head: int = 64, proj_kernel: int = 3,
                 kv_stride: int = 2):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head = heads, dim_head
        pad = proj_kernel // 2
        self.to_q = nn.Sequential(
            nn.Conv2d(dim, dim, proj_kernel, padding=pad, groups=dim, bias=False),
            nn.BatchNorm2d(dim),
            nn.Conv2d(dim, inner, 1, bias=False))
        self.to_kv = nn.Sequential(
            nn.Conv2d(dim, dim, proj_kernel, padding=pad, stride=kv_stride, groups=dim, bias=False),
            nn.BatchNorm2d(dim),
            nn.Conv2d(dim, 2 * inner, 1, bias=False))
        self.to_out = nn.Conv2d(inner, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        nh, d = self.heads, self.dim_head
        q = self.to_q(x).reshape(b, nh, d, h * w).transpose(2, 3)  # (b, heads, hw, d)
        kv = self.to_kv(x)
        k, v = kv.reshape(b, 2, nh, d, -1).unbind(1)
        out = F.scaled_dot_product_attention(q, k.transpose(2, 3), v.transpose(2, 3))  # scale d^-0.5
        return self.to_out(out.transpose(2, 3).reshape(b, nh * d, h, w))


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(dim, dim * mult, 1), nn.GELU(), nn.Conv2d(dim * mult, dim, 1))

    def forward(self, x):
        return self.net(x)


class AttentionBlock(nn.Module):
    """Pre-norm residual block: ``x + attn(norm(x))`` then ``x + ffn(norm(x))``."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_mult: int = 4, proj_kernel: int = 3,
                 kv_stride: int = 2):
        super().__init__()
        self.norm1 = ChanLayerNorm(dim)
        self.attn = ConvAttention(dim, heads, dim_head, proj_kernel, kv_stride)
        self.norm2 = ChanLayerNorm(dim)
        self.ff = FeedForward(dim, mlp_mult)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1, reflect: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    if reflect:
        layers += [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride=stride, padding=0, bias=False)]
    else:
        layers += [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)]
    return nn.Sequential(*layers, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# --------------------------------------------------------------------------- encoders


class ConvEncoder(nn.Module):
    """Stem (k x k conv, stride ``stem_stride``) then one stride-2 3x3 conv per further width.

    ``forward`` returns the feature map of every stage (finest first).
    """

    def __init__(self, in_ch: int, widths: Sequence[int] = (16, 32, 64, 128, 256), stem_kernel: int = 7,
                 stem_stride: int = 1, reflect: bool = True):
        super().__init__()
        widths = list(widths)
        self.stem = conv_bn_relu(in_ch, widths[0], stem_kernel, stem_stride, reflect=reflect)
        self.downs = nn.ModuleList(conv_bn_relu(widths[i], widths[i + 1], 3, 2)
                                   for i in range(len(widths) - 1))
        self.channels = widths  # of each stage's output

    def forward(self, x) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


class TimmEncoder(nn.Module):
    """A timm ``features_only`` backbone (random init); returns its selected feature maps, finest first."""

    def __init__(self, name: str, in_ch: int, out_indices: Sequence[int] = (1, 2, 3), **kwargs):
        super().__init__()
        import timm

        self.body = timm.create_model(name, features_only=True, pretrained=False, in_chans=in_ch,
                                      out_indices=tuple(out_indices), **kwargs)
        self.channels = list(self.body.feature_info.channels())

    def forward(self, x) -> list[torch.Tensor]:
        return list(self.body(x))


# --------------------------------------------------------------------------- heads


@torch.fx.wrap
def adaptive_max_pool(x: torch.Tensor, n: int) -> torch.Tensor:
    """``F.adaptive_max_pool2d(x, n)`` written with max-pools and slices, so that it exports to ONNX.

    ONNX has no adaptive max-pool. Window ``i`` of an axis of length ``L`` spans
    ``[floor(i L / n), ceil((i + 1) L / n))``, as in torch; as fast as torch's kernel on
    the students' map sizes. ``torch.fx`` keeps it as one call (BatchNorm folding traces
    the network with symbolic shapes).

    >>> x = torch.arange(35.).reshape(1, 1, 5, 7)
    >>> bool((adaptive_max_pool(x, 3) == F.adaptive_max_pool2d(x, 3)).all())
    True
    """
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if h % n == 0 and w % n == 0:
        return F.max_pool2d(x, (h // n, w // n))
    rows = torch.cat([x[..., (i * h) // n:-((-(i + 1) * h) // n), :].amax(-2, keepdim=True)
                      for i in range(n)], -2)
    return torch.cat([rows[..., (j * w) // n:-((-(j + 1) * w) // n)].amax(-1, keepdim=True)
                      for j in range(n)], -1)


class ScoreHead(nn.Module):
    """S: adaptive max-pool to 2x2 -> flatten -> ReLU -> Linear -> (sigmoid if ``act='paper'``)."""

    def __init__(self, dim: int, act: str = "linear"):
        super().__init__()
        self.fc = nn.Linear(4 * dim, 1)
        self.act = act

    def forward(self, x):
        y = self.fc(F.relu(adaptive_max_pool(x, 2).flatten(1)))
        return torch.sigmoid(y) if self.act == "paper" else y


class MapHead(nn.Module):
    """M / L: 3x3 conv -> ReLU -> 3x3 conv to 1 channel -> (ReLU if ``act='paper'``) -> adaptive
    max-pool n x n."""

    def __init__(self, dim: int, n: int, hidden: int = 64, act: str = "linear"):
        super().__init__()
        self.n, self.act = n, act
        self.conv1 = nn.Conv2d(dim, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, 1, 3, padding=1)

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x)))
        if self.act == "paper":
            y = F.relu(y)
        return adaptive_max_pool(y, self.n)


# --------------------------------------------------------------------------- student


class StudentNet(nn.Module):
    """The Fast-AED student; ``forward(x)`` returns ``{"1x1": (B,1,1), "4x4": (B,4,4), "16x16": (B,16,16)}``.

    Parameters
    ----------
    in_ch : int
        Input channels: 3 grayscale frames or 9 colour channels.
    widths : sequence of int
        Channels of the stem and of each stride-2 stage (native encoder).
    backbone : str, optional
        A timm model name; replaces the native encoder (``features_only``).
    depth, heads, dim_head, mlp_mult, kv_stride, proj_kernel
        The convolutional-attention blocks (``depth=0``: none).
    scales : sequence of int
        Output maps; 1 is the S head, any other n an n x n map head.
    head_hidden : int
        Hidden channels of the map heads.
    act : {"linear", "paper"}
        ``paper``: sigmoid on S and ReLU on the maps, as in the authors' code;
        ``linear``: no output activation (regression to normalised targets).
    fine_heads : int
        Channels of the map heads' input on the finer previous stage (:class:`FineMap`; 0: none).
    """

    def __init__(self, in_ch: int = 3, widths: Sequence[int] = (16, 32, 64), stem_kernel: int = 3,
                 stem_stride: int = 1, reflect: bool = False, backbone: str | None = None,
                 out_indices: Sequence[int] = (1, 2, 3), backbone_kwargs: dict | None = None,
                 depth: int = 1, heads: int = 2, dim_head: int = 32, mlp_mult: int = 2, kv_stride: int = 2,
                 proj_kernel: int = 3, scales: Sequence[int] = DEFAULT_SCALES, head_hidden: int = 32,
                 act: str = "linear", fine_heads: int = 0):
        super().__init__()
        if backbone:
            self.encoder = TimmEncoder(backbone, in_ch, out_indices, **(backbone_kwargs or {}))
        else:
            self.encoder = ConvEncoder(in_ch, widths, stem_kernel, stem_stride, reflect)
        dim = self.encoder.channels[-1]
        self.dim = dim
        self.blocks = nn.Sequential(*[AttentionBlock(dim, heads, dim_head, mlp_mult, proj_kernel, kv_stride)
                                      for _ in range(depth)])
        self.scales = tuple(int(s) for s in scales)
        self.fine = None
        map_dim = dim
        if fine_heads:  # map heads on the finer previous stage, FPN-style (top-down + lateral)
            self.fine = FineMap(self.encoder.channels[-2], dim, int(fine_heads))
            map_dim = int(fine_heads)
        self.heads = nn.ModuleDict()
        for n in self.scales:
            head = ScoreHead(dim, act) if n == 1 else MapHead(map_dim, n, head_hidden, act)
            self.heads[scale_key(n)] = head

    def features(self, x) -> tuple[list[torch.Tensor], torch.Tensor]:
        feats = self.encoder(x)
        return feats, self.blocks(feats[-1])

    def forward(self, x) -> dict[str, torch.Tensor]:
        feats, z = self.features(x)
        zm = z if self.fine is None else self.fine(feats[-2], z)
        out = {}
        for key, head in self.heads.items():
            y = head(z if key == "1x1" else zm)
            out[key] = y.reshape(y.shape[0], 1, 1) if key == "1x1" else y[:, 0]
        return out


class FineMap(nn.Module):
    """``BN(lateral(f)) + upsample(BN(top(z)))`` then ReLU: the map heads' input at the finer stage's grid."""

    def __init__(self, c_fine: int, c_top: int, dim: int):
        super().__init__()
        self.lateral = nn.Sequential(nn.Conv2d(c_fine, dim, 1, bias=False), nn.BatchNorm2d(dim))
        self.top = nn.Sequential(nn.Conv2d(c_top, dim, 1, bias=False), nn.BatchNorm2d(dim))

    def forward(self, f, z):
        t = F.interpolate(self.top(z), size=f.shape[-2:], mode="nearest")
        return F.relu(self.lateral(f) + t)


# --------------------------------------------------------------------------- phase 1


class FrameDecoder(nn.Module):
    """Phase-1 decoder: from the last feature map back to the finest encoder resolution.

    Each stage is a 2x up-sampling transposed conv (then resized to the next
    encoder stage's exact size) -> BN -> ReLU; no skip connections, so the
    whole encoder and attention stack must carry the frame. A 1x1 conv gives
    ``out_ch`` channels (the current frame).
    """

    def __init__(self, channels: Sequence[int], out_ch: int):
        super().__init__()
        chans = list(channels)[::-1]  # coarse first
        self.ups = nn.ModuleList(nn.Sequential(nn.ConvTranspose2d(a, b, 2, stride=2, bias=False),
                                               nn.BatchNorm2d(b), nn.ReLU(inplace=True))
                                 for a, b in itertools.pairwise(chans))
        self.out = nn.Conv2d(chans[-1], out_ch, 1)

    def forward(self, z: torch.Tensor, sizes: Sequence[tuple[int, int]]) -> torch.Tensor:
        sizes = list(sizes)[::-1][1:]  # the sizes to reach, coarse to fine
        for up, size in zip(self.ups, sizes, strict=False):
            z = up(z)
            if tuple(z.shape[-2:]) != tuple(size):
                z = F.interpolate(z, size=size, mode="nearest")
        return self.out(z)


# --------------------------------------------------------------------------- discriminator


class MapDiscriminator(nn.Module):
    """One teacher's discriminator over the multi-scale maps; returns one logit per sample.

    For the default scales (1, 4, 16) it has 959 parameters: conv 1->4 on the
    16x16 map, max-pool 4, concat the 4x4 map, conv 5->8, max-pool 4, concat
    the 1x1 score, Linear 9->50, LeakyReLU, Linear 50->1. Other scale sets chain
    the same way (a final global max-pool when the coarsest map is not 1x1).
    """

    def __init__(self, scales: Sequence[int] = DEFAULT_SCALES, widths: Sequence[int] = (4, 8),
                 hidden: int = 50):
        super().__init__()
        self.scales = sorted((int(s) for s in scales), reverse=True)  # finest first
        maps = [s for s in self.scales if s > 1]
        self.convs = nn.ModuleList()
        cin = 0
        for i in range(len(maps)):
            cin += 1
            cout = widths[min(i, len(widths) - 1)]
            self.convs.append(nn.Conv2d(cin, cout, 3, padding=1))
            cin = cout
        features = cin + (1 if 1 in self.scales else 0)
        self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, maps: dict[str, torch.Tensor]) -> torch.Tensor:
        x = None
        grids = [s for s in self.scales if s > 1]
        for i, s in enumerate(grids):
            m = maps[scale_key(s)].unsqueeze(1)
            x = m if x is None else torch.cat([x, m], 1)
            x = F.relu(self.convs[i](x))
            nxt = grids[i + 1] if i + 1 < len(grids) else 1
            x = F.max_pool2d(x, s // nxt) if s % nxt == 0 else adaptive_max_pool(x, nxt)
        parts = [] if x is None else [x.flatten(1)]
        if 1 in self.scales:
            parts.append(maps["1x1"].reshape(-1, 1))
        return self.mlp(torch.cat(parts, 1))[:, 0]


# --------------------------------------------------------------------------- inference


class FusedMapHeads(nn.Module):
    """All map heads of a trained student as one conv pair (an exact re-parameterisation for inference).

    The first 3x3 convs of the heads are concatenated into one conv, the second
    ones into one grouped conv (one group per head); each output channel is then
    max-pooled to its head's grid.
    """

    def __init__(self, heads: dict[str, MapHead]):
        super().__init__()
        heads = dict(heads)
        self.keys = list(heads)
        self.ns = [heads[k].n for k in self.keys]
        self.paper = [heads[k].act == "paper" for k in self.keys]
        first = [heads[k].conv1 for k in self.keys]
        second = [heads[k].conv2 for k in self.keys]
        hid = first[0].out_channels
        self.conv1 = nn.Conv2d(first[0].in_channels, hid * len(first), 3, padding=1)
        self.conv2 = nn.Conv2d(hid * len(first), len(first), 3, padding=1, groups=len(first))
        with torch.no_grad():
            self.conv1.weight.copy_(torch.cat([c.weight for c in first]))
            self.conv1.bias.copy_(torch.cat([c.bias for c in first]))
            self.conv2.weight.copy_(torch.cat([c.weight for c in second]))
            self.conv2.bias.copy_(torch.cat([c.bias for c in second]))

    def forward(self, z) -> list[torch.Tensor]:
        y = self.conv2(F.relu(self.conv1(z)))
        out = []
        for i, n in enumerate(self.ns):
            yi = y[:, i:i + 1]
            if self.paper[i]:
                yi = F.relu(yi)
            out.append(adaptive_max_pool(yi, n)[:, 0])
        return out


class InferenceNet(nn.Module):
    """A trained :class:`StudentNet` rearranged for inference (same outputs).

    The input scaling ``1/128`` is folded into the stem convolution (exact:
    zero padding is zero in both scales), the map heads are fused
    (:class:`FusedMapHeads`). Input: the uint8 frames converted to float,
    unscaled.
    """

    def __init__(self, net: StudentNet, input_scale: float = 1.0 / 128.0):
        super().__init__()
        import copy

        net = copy.deepcopy(net).eval()
        stem = next(m for m in net.encoder.modules() if isinstance(m, nn.Conv2d))
        with torch.no_grad():
            stem.weight.mul_(input_scale)
        self.encoder, self.blocks, self.fine = net.encoder, net.blocks, net.fine
        self.score_head = net.heads["1x1"] if "1x1" in net.heads else None  # noqa: SIM401 - ModuleDict has no get
        maps = {k: h for k, h in net.heads.items() if k != "1x1"}
        self.map_heads = FusedMapHeads(maps) if maps else None
        self.map_keys = list(maps)

    def forward(self, x) -> dict[str, torch.Tensor]:
        feats = self.encoder(x)
        z = self.blocks(feats[-1])
        out = {}
        if self.score_head is not None:
            out["1x1"] = self.score_head(z).reshape(-1, 1, 1)
        if self.map_heads is not None:
            zm = z if self.fine is None else self.fine(feats[-2], z)
            for k, m in zip(self.map_keys, self.map_heads(zm), strict=True):
                out[k] = m
        return out


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (in eval mode) with every BatchNorm that directly follows a conv folded into it.

    Tries ``torch.fx`` fusion first (any traceable graph, timm included); when
    tracing fails it folds ``Conv2d -> BatchNorm2d`` pairs inside ``nn.Sequential``
    containers.
    """
    import copy

    from torch.fx.experimental.optimization import fuse
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        return fuse(copy.deepcopy(module).eval(), inplace=True)
    except Exception:  # noqa: BLE001 - not traceable: fold the sequential pairs only
        m = copy.deepcopy(module).eval()
    for parent in m.modules():
        if isinstance(parent, nn.Sequential):
            kids = list(parent._modules.items())
            for (n1, a), (n2, b) in itertools.pairwise(kids):
                if isinstance(a, nn.Conv2d) and type(b) is nn.BatchNorm2d:
                    parent._modules[n1] = fuse_conv_bn_eval(a, b)
                    parent._modules[n2] = nn.Identity()
    return m


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def feature_grid(size_hw: tuple[int, int], n_down: int, stem_stride: int = 1) -> tuple[int, int]:
    """Spatial size of the last native-encoder stage for an input (H, W)."""
    h, w = size_hw
    h, w = math.ceil(h / stem_stride), math.ceil(w / stem_stride)
    for _ in range(n_down):
        h, w = (h + 1) // 2, (w + 1) // 2
    return h, w
