"""Datasets: the data model (:class:`Video`, :class:`Split`, :class:`Dataset`) and the loaders.

``load_ucsd(root)`` on the real Ped2 folder gives 16 training and 12 test videos,
2550 and 2010 frames, 1648 of them anomalous (tests/test_data_ped2.py).

Registered names (``vadbench.create_dataset("ped2", root=...)``) add the
evaluation conventions of each dataset; see :mod:`vadbench.data.builtin`.
"""

from .avenue import load_avenue
from .cache import cache_root, cached_frames
from .detect import detect_layout
from .detections import attach_detections, find_detections, read_detections
from .folders import DATASET_FOLDERS, resolve_root
from .frames import FrameSource
from .shanghaitech import load_shanghaitech
from .ucsd import load_ucsd
from .video import Dataset, Split, Video

__all__ = ["DATASET_FOLDERS", "Dataset", "FrameSource", "Split", "Video", "attach_detections", "cache_root",
           "cached_frames", "detect_layout", "find_detections", "load_avenue", "load_shanghaitech",
           "load_ucsd", "read_detections", "resolve_root"]
