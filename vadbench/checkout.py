"""Which commit of a git checkout the running code is, and whether its source differs from that commit."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .provenance import is_source


def git_commit(cwd: Path | None = None, packages: Iterable[str | Path] | None = None) -> str | None:
    """The checkout's HEAD commit, with ``+dirty`` when the source of the code a cell ran differs from it.

    Only source counts: the ``*.py`` files (outside ``tests/`` folders, as
    :func:`vadbench.provenance.source_hash`) under the ``packages`` folders that
    lie in the checkout (default: ``vadbench/`` and ``plugins/`` at its top),
    modified, staged, deleted or untracked. A README, a doc, the leaderboards or
    the results store the publishing run rewrites never make a commit dirty.
    None outside a git checkout.
    """
    where = cwd or Path(__file__).parent
    try:
        def git(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["git", *args], check=False, cwd=where, capture_output=True, text=True,
                                  timeout=10)

        out = git("rev-parse", "HEAD")
        commit = out.stdout.strip()
        if out.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}", commit):
            return None
        top = Path(git("rev-parse", "--show-toplevel").stdout.strip()).resolve()
        folders = [Path(p).resolve() for p in packages] if packages is not None else [top / "vadbench",
                                                                                         top / "plugins"]
        inside = {f: f.relative_to(top) for f in folders if f == top or top in f.parents}
        if not inside:
            return commit
        status = git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--",
                     *(f":(top,literal){rel.as_posix()}" for rel in inside.values()))
        if status.returncode != 0:
            return commit + "+dirty"  # cannot tell: do not claim a clean tree
        paths, entries = [], iter(status.stdout.split("\0"))
        for entry in entries:  # "XY path"; a rename's or copy's old path follows as an entry of its own
            if len(entry) > 3:
                paths.append(entry[3:])
                if "R" in entry[:2] or "C" in entry[:2]:
                    paths.append(next(entries, ""))
        for path in paths:
            absolute = top / path
            for folder in inside:
                if absolute == folder or folder in absolute.parents:
                    rel = absolute.name if folder.suffix == ".py" else absolute.relative_to(folder)
                    if is_source(rel):
                        return commit + "+dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return None
