"""The profiler on two tiny models: keys, interleaving, ratios, size counts. No time is asserted."""

import json

import numpy as np
import pytest
import torch

from vadbench.data.frames import FrameSource
from vadbench.data.video import Video
from vadbench.profile import count_gmacs, count_params, format_profile_table, machine_info, profile_models

CALLS: list = []


class TorchConv:
    """A model holding one known convolution: 3->8 channels, 3x3, on 16x16 frames."""

    name = "conv"
    family = "baseline"

    def __init__(self):
        torch.manual_seed(0)
        self.net = torch.nn.Conv2d(3, 8, 3, padding=1)

    def example_input(self, b):
        return torch.zeros(b, 3, 16, 16)

    def forward(self, x):
        CALLS.append(("conv", len(x)))
        return self.net(x).mean(dim=(1, 2, 3))

    def score(self, video):
        CALLS.append(("conv-score", video.id))
        frames = torch.from_numpy(video.read().astype(np.float32)).permute(0, 3, 1, 2)
        return self.forward(frames).numpy()


class NumpyDiff:
    name = "diff"
    family = "baseline"

    def example_input(self, b):
        return np.zeros((b, 16, 16), np.float32)

    def forward(self, x):
        CALLS.append(("diff", len(x)))
        return np.abs(np.diff(x, axis=0, prepend=x[:1])).mean(axis=(1, 2))

    def score(self, video):
        CALLS.append(("diff-score", video.id))
        return self.forward(video.read(gray=True).astype(np.float32))


def _videos():
    rng = np.random.default_rng(0)
    return [Video(f"{i:02d}", FrameSource.from_array(rng.integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)))
            for i in range(2)]


@pytest.fixture(scope="module")
def results():
    CALLS.clear()
    out = profile_models([TorchConv(), NumpyDiff()], batch_sizes=(2,), warmup=1, rounds=3, videos=_videos(),
                         e2e_rounds=2, reference="conv")
    return out, list(CALLS)


def test_result_keys_and_shapes(results):
    out, _ = results
    assert [r["model"] for r in out] == ["conv", "diff"]
    for r in out:
        for key in ("params", "gmacs", "fps_model_b1", "fps_model_best", "best_batch", "fps_model",
                    "latency_ms_p50", "latency_ms_p95", "fps_e2e", "e2e_frames", "peak_mem_mb", "machine",
                    "protocol", "ratio_fps_e2e_vs_conv", "ratio_fps_model_vs_conv"):
            assert key in r, key
        assert sorted(r["fps_model"]) == ["1", "2"]  # batch 1 is always measured
        assert set(r["fps_model"]["1"]) >= {"median", "iqr"}
        assert r["fps_model_b1"] == r["fps_model"]["1"]["median"] > 0
        assert r["best_batch"] in (1, 2) and r["fps_model_best"] >= r["fps_model_b1"]
        assert r["latency_ms_p95"] >= r["latency_ms_p50"] > 0
        assert r["e2e_frames"] == 8 and r["fps_e2e"] > 0 and r["peak_mem_mb"] >= 0
        p = r["protocol"]
        assert p["interleaved"] is True and p["rounds"] == 3 and p["warmup"] == 1
        assert p["batch_sizes"] == [1, 2]
        assert p["device"] == "cpu" and p["threads"] == torch.get_num_threads()
        assert r["machine"]["torch"] == torch.__version__
    json.dumps(out, allow_nan=False)  # storable in a record as is
    assert out[0]["ratio_fps_model_vs_conv"] == 1.0 and out[0]["ratio_fps_e2e_vs_conv"] == 1.0
    assert out[1]["ratio_fps_model_vs_conv"] > 0 and out[1]["ratio_fps_e2e_vs_conv"] > 0


def test_rounds_are_interleaved(results):
    _, calls = results
    # Per batch size: warm-up of each model, then timed rounds alternating conv, diff, conv, diff ...
    # (count_gmacs adds one conv call of batch 1 at the end).
    b1 = [name for name, n in calls if n == 1 and name in ("conv", "diff")]
    assert b1[:2] == ["conv", "diff"]                           # warm-up
    assert b1[2:8] == ["conv", "diff"] * 3                      # 3 interleaved rounds
    b2 = [name for name, n in calls if n == 2]
    assert b2 == ["conv", "diff"] + ["conv", "diff"] * 3
    scores = [name for name, _ in calls if name.endswith("-score")]
    assert scores == (["conv-score"] * 2 + ["diff-score"] * 2) * 2  # e2e rounds interleaved too


def test_params_and_gmacs_of_a_known_conv(results):
    out, _ = results
    conv, diff = out
    assert conv["params"] == 8 * 3 * 3 * 3 + 8 == count_params(TorchConv())
    assert conv["gmacs"] == pytest.approx(16 * 16 * 8 * 3 * 3 * 3 / 1e9)  # output pixels x kernel MACs
    assert diff["params"] == 0 and diff["gmacs"] is None
    assert count_gmacs(NumpyDiff()) is None


def test_count_params_through_module_attribute():
    class Wrapped:
        module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))

    assert count_params(Wrapped()) == (4 * 3 + 3) + (3 + 1)
    assert count_params(torch.nn.Linear(2, 2)) == 6


def test_reference_must_be_profiled_and_table_formats(results):
    with pytest.raises(ValueError, match="reference"):
        profile_models([NumpyDiff()], rounds=1, warmup=0, reference="conv")
    table = format_profile_table(results[0])
    assert "conv" in table and "diff" in table and "x e2e vs conv" in table and "machine:" in table


def test_machine_info_and_plugin_hook(monkeypatch):
    from vadbench import plugins

    class Hook:
        @staticmethod
        def vadbench_update_machine_info(info):
            info["extra"] = "from a plugin"

    class PM:
        hook = Hook()

    monkeypatch.setattr(plugins, "get_plugin_manager", lambda: PM())
    info = machine_info()
    assert info["extra"] == "from a plugin" and info["logical_cores"] >= 1
    assert {"cpu", "python", "torch", "numpy", "os", "torch_threads"} <= set(info)


def test_profile_command_times_fitted_and_untrained_models_end_to_end(tmp_path, capsys):
    from vadbench.atomic import load_json
    from vadbench.cli import main

    out = tmp_path / "profile.json"
    assert main(["profile", "motion-diff", "motion-flow", "--dataset", "synthetic", "--untrained",
                 "motion-flow", "--results", str(tmp_path / "res"), "--videos", "1", "--rounds", "2",
                 "--warmup", "1", "--batch-sizes", "1", "--e2e-rounds", "2", "--reference", "motion-diff",
                 "--json", str(out)]) == 0
    records = {r["model"]: r for r in load_json(out)}
    assert set(records) == {"motion-diff", "motion-flow"}
    assert {r["protocol"]["e2e_rounds"] for r in records.values()} == {2}
    assert all(r["fps_e2e"] > 0 and r["e2e_frames"] > 0 for r in records.values())
    assert records["motion-flow"]["ratio_fps_e2e_vs_motion-diff"] > 0
    assert "motion-flow" in capsys.readouterr().out


def test_a_fitted_student_counts_its_network_once():
    """The BatchNorm-folded inference copy a student builds after fit is not a second network."""
    pytest.importorskip("vadbench_fastaed", reason="the Fast-AED plugin is not installed")
    from vadbench import create_model

    model = create_model("fastaed-xs")
    before = count_params(model)
    model.infer_net()  # builds and keeps the folded copy, as scoring does
    assert isinstance(model._infer, torch.nn.Module)
    assert count_params(model) == before == sum(p.numel() for p in model.net.parameters())


@pytest.mark.parametrize("option, value, message", [
    ("--e2e-rounds", "0", "argument --e2e-rounds: must be at least 1, got 0"),
    ("--rounds", "-1", "argument --rounds: must be at least 1, got -1"),
    ("--warmup", "-1", "argument --warmup: must be at least 0, got -1"),
    ("--rounds", "two", "argument --rounds: invalid integer value: 'two'"),
])
def test_profile_counts_out_of_range_are_one_line_errors(option, value, message, capsys):
    from vadbench.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["profile", "motion-diff", option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"vadbench profile: error: {message}" and "Traceback" not in "".join(err)


def test_profile_on_a_gpu_builds_models_there_or_says_why_not():
    """``--device cuda`` builds each model with its ``device`` setting; one without it is refused in one
    line."""
    from vadbench.cli import main

    with pytest.raises(SystemExit, match="--device gpu: not a device name"):
        main(["profile", "fastaed-xs", "--device", "gpu"])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="--device cuda: torch sees no CUDA device on this machine"):
            main(["profile", "fastaed-xs", "--device", "cuda"])
    with pytest.raises(SystemExit,
                       match="model motion-diff has no 'device' setting, so it cannot be timed on meta"):
        main(["profile", "motion-diff", "--device", "meta"])
    pytest.importorskip("vadbench_fastaed", reason="the Fast-AED plugin is not installed")
    from vadbench.commands.models import on_device

    student = on_device("fastaed-xs", "cpu")
    assert "device" not in student.config  # the default is not recorded: configurations keep their hashes
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here to build the student on")
    student = on_device("fastaed-xs", "cuda", student.state_dict())
    assert student.forward(student.example_input(4)).device.type == "cuda"


def test_profile_json_destination_is_checked_before_any_timing(tmp_path, capsys):
    """A ``--json`` path that cannot be written ends the command at once, not after the profile has run."""
    from vadbench.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as stop:
        main(["profile", "motion-diff", "--json", str(blocker / "profile.json")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"vadbench profile: error: argument --json: {blocker} is a file, so "
                       f"{blocker}/profile.json cannot be written")
