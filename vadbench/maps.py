"""Multi-scale anomaly maps: the keys and the pooling that teachers and students share.

A teacher's ``multiscale_maps(video)`` returns ``{"1x1": (T, 1, 1), "4x4": (T, 4, 4),
"16x16": (T, 16, 16)}``; a student learns those maps. Each coarser map is the adaptive
max-pooling of a finer one: for output row ``i`` of an ``H``-row map pooled to ``n`` rows,
input rows ``floor(i*H/n)`` to ``ceil((i+1)*H/n) - 1`` (PyTorch's ``adaptive_max_pool2d``);
the same for columns.

>>> import numpy as np
>>> scale_key(16)
'16x16'
>>> m = np.zeros((1, 8, 8), np.float32); m[0, 6, 1] = 2.0
>>> {k: v.tolist() for k, v in pool_maps(m, (1, 2)).items()}
{'1x1': [[[2.0]]], '2x2': [[[0.0, 0.0], [2.0, 0.0]]]}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_SCALES = (1, 4, 16)


def scale_key(n: int) -> str:
    """The key of the ``n x n`` map in a ``multiscale_maps`` dict."""
    return f"{n}x{n}"


def pool_maps(maps: np.ndarray, scales: Sequence[int] = DEFAULT_SCALES) -> dict[str, np.ndarray]:
    """Adaptive max-pooling of maps (T, H, W) to each ``n x n`` of ``scales``, as float32 arrays."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    return {scale_key(n): F.adaptive_max_pool2d(x, (n, n))[:, 0].numpy() for n in scales}
