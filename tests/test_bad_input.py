"""The bad-input catalogue: each case is one clear line naming the file, and finished results survive.

Every data case runs ``vadbench run`` on a tiny Ped2-like folder whose results
store already holds a finished cell (on a healthy copy): the broken cell is
recorded as failed with the one-line reason naming the file, the run exits 1,
and the finished record is untouched.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import extra_models

import vadbench
from vadbench.cli import main
from vadbench.results import ResultsStore

H, W = 48, 64


def _frames(folder, n):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(str(folder)))
    for k in range(n):
        cv2.imwrite(str(folder / f"{k:03d}.jpg"), rng.integers(0, 255, (H, W), dtype=np.uint8))


def tiny_ped2(root):
    """Frame-folder Ped2 layout: 1 training video, 2 test videos of 6 frames, frames 2-3 anomalous."""
    _frames(root / "training" / "frames" / "01", 6)
    for vid in ("01", "02"):
        _frames(root / "testing" / "frames" / vid, 6)
        masks = root / "testing" / "gt_masks" / vid
        masks.mkdir(parents=True)
        for k in range(6):
            cv2.imwrite(str(masks / f"{k:03d}.png"), np.full((H, W), 255 * (k in (2, 3)), np.uint8))
    return root


def _break(case, root):
    """Damage the copy at ``root`` as ``case`` says; return the path the error must name."""
    test = root / "testing"
    if case == "missing root":
        import shutil

        shutil.rmtree(root)
        return root
    if case == "unknown layout":
        (test / "frames").rename(test / "clips")
        return root
    if case == "empty video folder":
        for f in (test / "frames" / "02").iterdir():
            f.unlink()
        return test / "frames" / "02"
    if case == "corrupt jpeg":
        bad = test / "frames" / "02" / "003.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
        return bad
    if case == "truncated jpeg":  # decodes (grey-filled, a libjpeg warning) but has no end-of-image marker
        bad = test / "frames" / "01" / "004.jpg"
        data = bad.read_bytes()
        scan = data.index(b"\xff\xda")  # cut in the middle of the compressed image data
        bad.write_bytes(data[: scan + (len(data) - scan) // 2])
        return bad
    if case == "labels longer than frames":
        m = root / "labels" / "UCSDped2.m"
        m.parent.mkdir()
        m.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [3:4];\n"
                     "TestVideoFile{end+1}.gt_frame = [3:9];\n")
        return m
    if case == "masks of the wrong size":
        bad = test / "gt_masks" / "01" / "004.png"
        cv2.imwrite(str(bad), np.zeros((H // 2, W), np.uint8))
        return test / "gt_masks" / "01"
    if case == "masks fewer than frames":
        (test / "gt_masks" / "02" / "005.png").unlink()
        return test / "gt_masks" / "02"
    raise AssertionError(case)


DATA_CASES = ["missing root", "unknown layout", "empty video folder", "corrupt jpeg", "truncated jpeg",
              "labels longer than frames", "masks of the wrong size", "masks fewer than frames"]


@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_dataset_fails_its_cell_naming_the_file(case, tmp_path, capsys):
    results = tmp_path / "results"
    good = tiny_ped2(tmp_path / "good")
    base = ["run", "--models", "motion-diff", "--datasets", "ped2", "--results", str(results)]
    assert main([*base, "--data-root", str(good)]) == 0
    finished = {p.name: p.read_bytes() for p in (results / "records").glob("*.json")}

    broken = tiny_ped2(tmp_path / "broken")
    named = _break(case, broken)
    capsys.readouterr()
    assert main([*base, "--data-root", str(broken), "--seeds", "1"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("FAILED")]
    assert len(err) == 1 and str(named) in err[0], err
    failed = [r for r in ResultsStore(results).records() if r["status"] == "failed"]
    assert len(failed) == 1 and str(named) in failed[0]["error"] and "\n" not in failed[0]["error"]
    if case == "truncated jpeg":
        assert failed[0]["error"].endswith(f"{named}: truncated JPEG: no end-of-image marker"), \
            failed[0]["error"]
    for name, data in finished.items():  # the finished cell is kept as it was
        assert (results / "records" / name).read_bytes() == data


def test_truncated_avi_names_the_file(tmp_path):
    from vadbench.data import FrameSource
    from vadbench.errors import DataError

    path = tmp_path / "01.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    for k in range(20):
        writer.write(np.full((H, W, 3), 10 * k, np.uint8))
    writer.release()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError) as err:
        FrameSource.from_video(path).read_all()
    assert str(path) in str(err.value) and "\n" not in str(err.value)


class _Base(vadbench.Model):
    family = "baseline"
    trainable = False

    def fit(self, train, ctx):
        return None


class _NaN(_Base):
    def score(self, video):
        return np.full(len(video), np.nan)


class _Short(_Base):
    def score(self, video):
        return np.zeros(len(video) - 1)


class _Raises(_Base):
    def score(self, video):
        raise ValueError("the plugin broke")


@pytest.fixture
def bad_plugins():
    with extra_models(**{"bad-nan": _NaN, "bad-short": _Short, "bad-raises": _Raises}):
        yield


@pytest.mark.parametrize(("model", "message"), [
    ("bad-nan", "returned 6 NaN or infinite scores"),
    ("bad-short", "returned 5 scores for 6 frames"),
    ("bad-raises", "ValueError: the plugin broke"),
    ("motion-dif", "unknown model 'motion-dif'; did you mean motion-diff"),
])
def test_bad_plugin_fails_its_cell_with_one_line(model, message, bad_plugins, tmp_path, capsys):
    root = tiny_ped2(tmp_path / "ped2")
    assert main(["run", "--models", f"motion-diff,{model}", "--datasets", "ped2", "--data-root", str(root),
                 "--results", str(tmp_path / "res")]) == 1
    records = {r["model"]["name"]: r for r in ResultsStore(tmp_path / "res").records()}
    assert records["motion-diff"]["status"] == "ok"
    assert message in records[model]["error"] and "\n" not in records[model]["error"]
    assert message in capsys.readouterr().err
