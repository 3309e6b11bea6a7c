"""What code a cell ran: a hash of the Python source of each package involved, and the commits behind a board.

A record's ``git_commit`` names the checkout's HEAD, but a checkout holds more
than the code a cell ran (READMEs, leaderboards, other plugins), and the code
can be edited without a commit. So a record also carries ``code``: for the
``vadbench`` package, the plugin package that provides the model and, for a
student, its teachers' packages, the first 12 hex digits of a SHA-256 of the
package's ``*.py`` files (:func:`source_hash`). Two cells with the same
``code`` ran the same source, whatever their commits say.

>>> import tempfile, pathlib
>>> pkg = pathlib.Path(tempfile.mkdtemp()) / "mypkg"
>>> pkg.mkdir()
>>> _ = (pkg / "__init__.py").write_text("x = 1\\n")
>>> before = source_hash(pkg)
>>> len(before), all(c in "0123456789abcdef" for c in before)
(12, True)
>>> _ = (pkg / "README.md").write_text("docs")          # not source: same hash
>>> _ = (pkg / "data.npz").write_bytes(b"\\x00\\x01")    # not source either
>>> source_hash(pkg) == before
True
>>> _ = (pkg / "__init__.py").write_text("x = 2\\n")   # source: another hash
>>> source_hash(pkg) == before
False
>>> commits_of([{"git_commit": "a" * 40}, {"git_commit": "b" * 40}, {"git_commit": "b" * 40}, {}])
{'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb': 2, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': 1, None: 1}
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Folders under a package that are not the code it runs.
SKIPPED_DIRS = frozenset({"tests", "test", "__pycache__"})


def is_source(relative: str | Path) -> bool:
    """Whether a path (relative to a package folder) is source that :func:`source_hash` covers.

    >>> [is_source(p) for p in ("model.py", "nets/blocks.py", "README.md", "tests/test_x.py")]
    [True, True, False, False]
    """
    parts = Path(relative).parts
    return bool(parts) and parts[-1].endswith(".py") and not SKIPPED_DIRS.intersection(parts[:-1])


def source_files(package_dir: str | Path) -> list[Path]:
    """The ``*.py`` files of a package folder (or the module file itself), sorted by relative path."""
    root = Path(package_dir)
    if root.is_file():
        return [root]
    return sorted((p for p in root.rglob("*.py") if p.is_file() and is_source(p.relative_to(root))),
                  key=lambda p: p.relative_to(root).as_posix())


def source_hash(package_dir: str | Path) -> str:
    """First 12 hex digits of the SHA-256 of the sorted (relative path, bytes) of every ``*.py`` under
    ``package_dir``.

    READMEs, data files, ``__pycache__`` and ``tests/`` folders do not count. A
    single-module "package" (a ``.py`` file) hashes that file. Not cached: see
    :func:`package_hash`.
    """
    root = Path(package_dir)
    digest = hashlib.sha256()
    for path in source_files(root):
        name = path.name if root.is_file() else path.relative_to(root).as_posix()
        data = path.read_bytes()
        # length-prefixed: no two file sets hash alike by concatenation
        for part in (name.encode("utf-8"), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()[:12]


@functools.cache
def _package_hash(resolved: str) -> str:
    return source_hash(resolved)


def package_hash(package_dir: str | Path) -> str:
    """:func:`source_hash`, computed once per folder per process (the source a process imported stays put)."""
    return _package_hash(str(Path(package_dir).resolve()))


def package_of(module_name: str) -> tuple[str, Path] | None:
    """The top-level package of ``module_name`` and its import folder (a module's file), or None.

    >>> name, folder = package_of("vadbench.runner")
    >>> name, folder.name
    ('vadbench', 'vadbench')
    """
    top = module_name.split(".")[0]
    module = sys.modules.get(top)
    if module is None:
        try:
            module = importlib.import_module(top)
        except Exception:  # noqa: BLE001 - a module that cannot be imported names no code
            return None
    file = getattr(module, "__file__", None)
    if getattr(module, "__path__", None) is not None:  # a package
        folder = Path(file).parent if file else next((Path(p) for p in module.__path__), None)
        return (top, folder) if folder is not None else None
    return (top, Path(file)) if file else None


def _module_of(thing: Any) -> str | None:
    """The module that defines a model object, a factory, or a registered model name."""
    if isinstance(thing, str):
        try:
            from .plugins import model_registry

            factory = model_registry().entry(thing).factory
        except Exception:  # noqa: BLE001 - not registered here: no code to name
            return None
        return (getattr(factory, "__module__", None)
                or getattr(getattr(factory, "func", None), "__module__", None))
    return getattr(type(thing), "__module__", None)


def packages_of(*models: Any) -> dict[str, Path]:
    """``{package name: import folder}`` of ``vadbench`` and of the packages that define ``models``.

    ``models`` are model objects or registered model names (a student's teachers
    as named in its record's ``depends_on``); names that resolve to nothing are
    left out.
    """
    out = {"vadbench": Path(__file__).resolve().parent}
    for thing in models:
        module = _module_of(thing)
        found = package_of(module) if module else None
        if found is not None:
            out.setdefault(*found)
    return dict(sorted(out.items()))


def code_of(*models: Any) -> dict[str, str]:
    """``record["code"]``: ``{package name: 12 hex digits}`` of ``vadbench`` and the packages of ``models``.

    >>> code = code_of(object())  # a builtin type comes from no package folder
    >>> list(code), code["vadbench"] == package_hash(Path(__file__).parent)
    (['vadbench'], True)
    """
    return {name: package_hash(folder) for name, folder in packages_of(*models).items()}


def code_at_commit(repo: str | Path, commit: str, folders: Mapping[str, str]) -> dict[str, str]:
    """``record["code"]`` as it was at a clean ``commit``: :func:`source_hash` of each package's tracked
    source.

    ``folders`` maps package names to their folders relative to the checkout
    ``repo`` (e.g. ``{"vadbench": "vadbench"}``). The files are read from git
    (``git archive``), so the working tree does not matter. Use it only for a
    record whose ``git_commit`` has no ``+dirty``: a clean commit is the source
    its cell ran, so its code can be recovered; a dirty one cannot. A package
    missing at that commit raises ``ValueError``.
    """
    import io
    import subprocess
    import tarfile
    import tempfile

    if commit.endswith("+dirty"):
        raise ValueError(f"commit {commit}: the cell ran uncommitted source, which git cannot give back")
    with tempfile.TemporaryDirectory() as tmp:
        for folder in folders.values():
            out = subprocess.run(["git", "-C", str(repo), "archive", commit, "--", folder],
                                 capture_output=True, check=False)
            if out.returncode:
                raise ValueError(f"commit {commit} has no {folder}: {out.stderr.decode().strip()}")
            with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        return {name: source_hash(Path(tmp) / folder) for name, folder in folders.items()}


# --------------------------------------------------------------------------- the cells behind a board


def commits_of(records: Iterable[Mapping]) -> dict[str | None, int]:
    """``{git_commit: number of cells}`` of ``records`` (None: not recorded), most cells first."""
    counts: dict[str | None, int] = {}
    for r in records:
        counts[r.get("git_commit")] = counts.get(r.get("git_commit"), 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or "~")))


def provenance(records: Iterable[Mapping]) -> dict:
    """The manifest's account of the code behind a board's cells.

    ``commits``: one entry per distinct ``git_commit`` (``"<sha>"``,
    ``"<sha>+dirty"`` or None), most cells first, with ``n_cells`` and the
    sorted ``cells``; ``code``: one entry per distinct ``record["code"]``, with
    the commits its cells name, ``n_cells`` and ``cells``; ``code_unknown``: the
    cells whose records have no ``code`` (made before it was recorded);
    ``code_recovered``: the cells whose ``code`` was recovered afterwards from
    their clean commit (:func:`code_at_commit`), not hashed when they ran.

    >>> p = provenance([{"cell": "a", "git_commit": "c1", "code": {"vadbench": "x"}},
    ...                 {"cell": "b", "git_commit": "c1"}, {"cell": "c", "git_commit": "c2"}])
    >>> [(e["commit"], e["n_cells"]) for e in p["commits"]], p["code"][0]["cells"], p["code_unknown"]
    ([('c1', 2), ('c2', 1)], ['a'], {'n_cells': 2, 'cells': ['b', 'c']})
    >>> provenance([{"cell": "a", "code": {"vadbench": "x"}, "code_recovered_from": "c1"}])["code_recovered"]
    {'n_cells': 1, 'cells': ['a']}
    """
    records = list(records)
    by_commit: dict[str | None, list[str]] = {}
    by_code: dict[tuple, dict] = {}
    unknown: list[str] = []
    recovered = sorted(str(r.get("cell")) for r in records if r.get("code") and r.get("code_recovered_from"))
    for r in records:
        cell = str(r.get("cell"))
        by_commit.setdefault(r.get("git_commit"), []).append(cell)
        code = r.get("code")
        if not code:
            unknown.append(cell)
            continue
        entry = by_code.setdefault(tuple(sorted(code.items())), {"code": dict(sorted(code.items())),
                                                                 "commits": [], "cells": []})
        entry["cells"].append(cell)
        if r.get("git_commit") not in entry["commits"]:
            entry["commits"].append(r.get("git_commit"))
    commits = [{"commit": c, "n_cells": n, "cells": sorted(by_commit[c])}
               for c, n in commits_of(records).items()]
    code = sorted(({**e, "commits": sorted(e["commits"], key=lambda c: c or "~"), "n_cells": len(e["cells"]),
                    "cells": sorted(e["cells"])} for e in by_code.values()),
                  key=lambda e: (-e["n_cells"], e["cells"][0]))
    return {"commits": commits, "code": code,
            "code_unknown": {"n_cells": len(unknown), "cells": sorted(unknown)},
            "code_recovered": {"n_cells": len(recovered), "cells": recovered}}
