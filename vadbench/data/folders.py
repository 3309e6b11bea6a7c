"""Where each dataset's folder lies: the one table of conventional folder names.

A data root (``--data-root``, ``$VADBENCH_DATA``) holds one folder per dataset.
Each dataset's names are tried in order; the first is the name vadbench documents
and looks for under ``$VADBENCH_DATA``, the others are the names of the original
archives.

>>> DATASET_FOLDERS["ped2"][0], default_folder("shanghaitech"), default_folder("mine")
('ucsd_ped2', 'shanghaitech', 'mine')
"""

from __future__ import annotations

from pathlib import Path

#: dataset name -> folder names tried under a data root, the documented one first
DATASET_FOLDERS: dict[str, tuple[str, ...]] = {
    "ped2": ("ucsd_ped2", "ped2", "UCSDped2"),
    "ped1": ("ucsd_ped1", "ped1", "UCSDped1"),
    "avenue": ("avenue", "Avenue"),
    "shanghaitech": ("shanghaitech", "ShanghaiTech"),
}


def default_folder(dataset: str) -> str:
    """The documented folder name of ``dataset`` under a data root (its own name if it has none)."""
    return DATASET_FOLDERS.get(dataset, (dataset,))[0]


def resolve_root(dataset: str, data_root: str | Path | None) -> str | None:
    """The folder of ``dataset``: ``data_root`` itself, or its conventional sub-folder.

    >>> import tempfile, pathlib
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> (top / "UCSDped2").mkdir()
    >>> resolve_root("ped2", top) == str(top / "UCSDped2"), resolve_root("avenue", top) == str(top)
    (True, True)
    >>> resolve_root("ped2", None) is None
    True
    """
    if data_root is None:
        return None
    root = Path(data_root).expanduser()
    for name in DATASET_FOLDERS.get(dataset, (dataset,)):
        if (root / name).is_dir():
            return str(root / name)
    return str(root)
