"""Concurrent cells share generated data safely: a complete synthetic folder or cache file is never replaced.

Many ``ensure`` calls (threads, processes) race on one fresh cache folder while
readers look at it: a reader never sees the folder incomplete or vanishing,
everyone ends with the same folder, and its files are byte-identical to a
fresh ``generate`` of the same seed. The "unlocked" cases switch the lock file
off, so that every caller generates and the atomic publish alone must keep the
first complete copy. A Ray run of several cells on one fresh store loses none.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import vadbench
from vadbench.data import synthetic
from vadbench.data.cache import cached_array
from vadbench.data.synthetic import COMPLETE_MARKER, ensure, generate

TINY = {"n_train": 1, "n_test": 2, "n_frames": 12, "width": 64, "height": 48}
SEED = 3


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _look(path: Path) -> str | None:
    """None if ``path`` is absent or complete and whole; else what is wrong with it."""
    if not path.exists():
        return None
    try:
        if not (path / COMPLETE_MARKER).is_file():
            return f"{path}: visible without its {COMPLETE_MARKER} marker"
        for split, n in (("training", TINY["n_train"]), ("testing", TINY["n_test"])):
            for i in range(1, n + 1):
                frames = len(list((path / split / "frames" / f"{i:02d}").glob("*.jpg")))
                if frames != TINY["n_frames"]:
                    return f"{path}: {split} video {i:02d} holds {frames} frames"
                if split == "testing":
                    masks = len(list((path / split / "gt_masks" / f"{i:02d}").glob("*.png")))
                    if masks != TINY["n_frames"]:
                        return f"{path}: test video {i:02d} holds {masks} masks"
    except OSError as exc:  # the folder vanished or was swapped under the reader
        return f"{path}: {exc}"
    return None


def _no_locks():
    synthetic._locked = lambda _path: contextlib.nullcontext()


def _ensure_worker(cache: str, start, unlocked: bool, out=None) -> tuple[str, dict, int]:
    """``ensure`` the dataset where ``create_dataset("synthetic", cache_dir=cache)`` keeps it.

    Returns the folder, its files' hashes and its inode (the folder a reader would be inside).
    """
    if unlocked:
        _no_locks()
    start.wait()
    path = ensure(Path(cache) / "synthetic", seed=SEED, **TINY)
    problem = _look(path)
    assert problem is None, problem
    result = (str(path), _hashes(path), os.stat(path).st_ino)
    if out is not None:
        out.put(result)
    return result


def _reader_worker(cache: str, start, stop, unlocked: bool, out=None) -> tuple[int, list[str]]:
    """Look at the folder as often as possible; load the dataset like a cell once it is there."""
    if unlocked:
        _no_locks()
    path = Path(cache) / "synthetic" / synthetic.cache_name(SEED, **TINY)
    looks, problems, first = 0, [], None
    start.wait()
    while not stop.is_set() or looks < 20:
        looks += 1
        problem = _look(path)
        if problem:
            problems.append(problem)
        with contextlib.suppress(FileNotFoundError):
            inode = os.stat(path).st_ino
            first = first or inode
            if inode != first:  # the folder this reader first saw complete was swapped for another copy
                problems.append(f"{path}: replaced while readers were in it")
        if path.exists():
            try:
                ds = vadbench.create_dataset("synthetic", seed=SEED, cache_dir=cache, **TINY)
                assert ds.summary()["test_frames"] == TINY["n_test"] * TINY["n_frames"]
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                problems.append(f"load: {type(exc).__name__}: {exc}")
    if out is not None:
        out.put((looks, problems))
    return looks, problems


def _check_outcome(cache: Path, results, problems, tmp_path) -> None:
    """Readers saw no problem; every writer got the same folder, never replaced since; its files are right."""
    assert problems == []
    paths, hashes, inodes = zip(*results, strict=True)
    assert len(set(paths)) == 1
    assert set(inodes) == {os.stat(paths[0]).st_ino}  # the first complete copy is the one everyone uses
    reference = _hashes(generate(tmp_path / "reference", seed=SEED, **TINY))
    assert all(h == reference for h in hashes)  # byte-identical to a fresh generation of the seed
    name = Path(paths[0]).name
    left = sorted(p.name for p in (cache / "synthetic").iterdir())
    assert left in ([name], [name, f"{name}.lock"]), left  # no temporary folders left behind


@pytest.mark.parametrize("unlocked", [False, True], ids=["locked", "unlocked"])
def test_concurrent_ensure_in_threads(unlocked, tmp_path, monkeypatch):
    if unlocked:
        monkeypatch.setattr(synthetic, "_locked", lambda _path: contextlib.nullcontext(), raising=False)
    cache = tmp_path / "cache"
    start, stop = threading.Barrier(8), threading.Event()
    results, readers = [None] * 6, [None] * 2

    def writer(i):
        results[i] = _ensure_worker(str(cache), start, False)

    def reader(i):
        readers[i] = _reader_worker(str(cache), start, stop, False)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads[:6]:
        t.join(60)
    stop.set()
    for t in threads[6:]:
        t.join(60)
    assert all(r is not None for r in results + readers), "a thread failed (see the captured output)"
    _check_outcome(cache, results, [p for _, ps in readers for p in ps], tmp_path)


def test_concurrent_ensure_in_processes(tmp_path):
    """Six processes ensure at once, every other one without the lock file (so several generate); two read."""
    ctx = multiprocessing.get_context("spawn")
    cache = tmp_path / "cache"
    start, stop, wrote, read = ctx.Barrier(8), ctx.Event(), ctx.Queue(), ctx.Queue()
    writers = [ctx.Process(target=_ensure_worker, args=(str(cache), start, i % 2 == 1, wrote))
               for i in range(6)]
    readers = [ctx.Process(target=_reader_worker, args=(str(cache), start, stop, False, read))
               for _ in range(2)]
    for proc in writers + readers:
        proc.start()
    try:
        results = [wrote.get(timeout=120) for _ in writers]
        stop.set()
        looks = [read.get(timeout=120) for _ in readers]
    finally:
        stop.set()
        for proc in writers + readers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    assert all(n >= 20 for n, _ in looks)
    _check_outcome(cache, results, [p for _, ps in looks for p in ps], tmp_path)


def test_cached_array_keeps_the_first_complete_file(tmp_path):
    """A caller that computed while another stored the file leaves the stored file (same inode) alone."""
    computing = threading.Event()

    def slow():
        computing.set()
        time.sleep(0.2)
        return np.arange(6, dtype=np.uint8)

    out = {}
    t = threading.Thread(
        target=lambda: out.setdefault("slow", cached_array("t", {"k": 1}, slow, cache_dir=tmp_path)))
    t.start()
    computing.wait(5)
    first = cached_array("t", {"k": 1}, lambda: np.arange(6, dtype=np.uint8), cache_dir=tmp_path)
    (stored,) = (tmp_path / "t").glob("*.npy")
    inode = stored.stat().st_ino
    t.join(10)
    assert stored.stat().st_ino == inode  # not replaced by the late writer
    assert np.array_equal(out["slow"], first) and np.array_equal(np.load(stored), first)
    stored.write_bytes(b"damaged")  # a damaged file is still computed again and replaced
    again = cached_array("t", {"k": 1}, lambda: np.arange(6, dtype=np.uint8), cache_dir=tmp_path)
    assert np.array_equal(again, first)
    assert np.array_equal(np.load(stored), first)


SUITE = """
name = "concurrent"
dataset = "synthetic"
seeds = [0, 1]
dataset_options = {n_train = 2, n_test = 2, n_frames = 24, width = 96, height = 64}
profile = {batch_sizes = [1], rounds = 1, warmup = 0, e2e_rounds = 1, videos = 1}
[[models]]
name = "motion-diff"
[[models]]
name = "motion-flow"
"""


def test_ray_cells_on_one_fresh_store_all_finish(tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'vadbench[ray]'")
    from vadbench.cli import main
    from vadbench.results import ResultsStore

    suite = tmp_path / "concurrent.toml"
    suite.write_text(SUITE)
    results = tmp_path / "results"
    try:  # every cell generates or finds the synthetic dataset in the fresh store's cache at once
        code = main(["run", "--suite", str(suite), "--executor", "ray", "--results", str(results)])
    finally:
        ray.shutdown()
    records = ResultsStore(results).records()
    assert [r.get("error") for r in records if r["status"] != "ok"] == []
    assert code == 0 and len(records) == 4
    assert len({r["dataset"]["fingerprint"] for r in records}) == 1
    (folder,) = [p for p in (results / "cache" / "synthetic").iterdir() if p.is_dir()]
    assert (folder / COMPLETE_MARKER).is_file() and not folder.name.startswith(".")
