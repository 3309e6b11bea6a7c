"""The ``vadbench`` console script.

    vadbench list models|datasets [PATTERN]
    vadbench datasets check NAME --root PATH
    vadbench synth --out DIR [--seed N]
    vadbench run [--suite NAME | --models A,B --datasets D] [--data-root PATH] [--seeds 0,1,2]
    vadbench profile MODEL [MODEL ...] [--dataset D --data-root PATH] [--reference MODEL]
    vadbench eval --results DIR            (recompute every metric from stored scores)
    vadbench leaderboard --results DIR [--dataset D] [--out DIR] [--latex]
    vadbench pareto --results DIR --dataset D [--x fps_e2e] [--y micro_auc] [--out DIR]
    vadbench curves --results DIR --dataset D --models A,B [--videos 01,04] --out PATH
    vadbench watch SOURCE --model NAME [--dataset D --data-root PATH] [--false-alarm-rate 0.01]
    vadbench export MODEL --format onnx [--dataset D --data-root PATH] [--out FILE]
    vadbench validate MODEL --dataset D [--data-root PATH] [--grid JSON] [--json FILE]
    vadbench new-plugin NAME [--out DIR]

Errors in the input (a missing folder, a corrupt frame, an unknown model) are
printed as one line naming the file or name at fault; exit status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .argtypes import count_at_least, csv_list, json_of, name_arg, output_file, rate
from .commands import DEFAULT_RESULTS, data, evaluate, models, publish, run, validate
from .errors import VadbenchError

# count_at_least, json_of, output_file and rate lived here; plugin scripts still import them from here
__all__ = ["DEFAULT_RESULTS", "build_parser", "count_at_least", "json_of", "main", "name_arg", "output_file",
           "rate"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``func``, its ``cmd_*`` in :mod:`vadbench.commands`."""
    p = argparse.ArgumentParser(prog="vadbench", description="Video anomaly detection benchmark suite.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list registered models or datasets")
    s.add_argument("what", choices=["models", "datasets"])
    s.add_argument("pattern", nargs="?", default="*")
    s.set_defaults(func=data.cmd_list)

    s = sub.add_parser("datasets", help="inspect a dataset folder")
    dsub = s.add_subparsers(dest="action", required=True)
    c = dsub.add_parser("check", help="count videos, frames, anomalous frames, masks, tracks and detections")
    c.add_argument("name")
    c.add_argument("--root")
    c.add_argument("--labels", help="label convention where a dataset has several (avenue: masks|intervals)")
    c.add_argument("--detections", help="precomputed detections folder, or 'none' (default: auto, "
                                        "ROOT/detections/ or ROOT/../detections/NAME-OF-ROOT/)")
    c.add_argument("--deep", action="store_true", help="also decode every frame and mask")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=data.cmd_datasets_check)

    s = sub.add_parser("synth", help="write the synthetic dataset in the Ped2 frame-folder layout")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=data.cmd_synth)

    s = sub.add_parser("run", help="train, score, evaluate and profile a grid; write leaderboards")
    s.add_argument("--suite", help="a named suite (default: synthetic) or a TOML file")
    s.add_argument("--quick", action="store_true", help="the suite's quick configurations, one seed")
    s.add_argument("--models", type=name_arg("model", many=True),
                   help="comma-separated model names (with --datasets)")
    s.add_argument("--datasets", type=name_arg("dataset", many=True), help="comma-separated dataset names")
    s.add_argument("--data-root", help="dataset folder, or a folder holding it (e.g. ../shared/data)")
    s.add_argument("--seeds", help="comma-separated seeds")
    s.add_argument("--results", default=DEFAULT_RESULTS, help="results store folder")
    s.add_argument("--leaderboards", help="where tables and plots go (default RESULTS/leaderboards)")
    s.add_argument("--executor", choices=["local", "ray"], default="local")
    s.add_argument("--address", help="Ray cluster address")
    s.add_argument("--device", default="cpu")
    s.add_argument("--force", action="store_true", help="recompute cells that already have a record")
    s.add_argument("--publish-only", action="store_true",
                   help="run no cell: write the leaderboards, Pareto plot and manifest of the cells already "
                        "in the store (e.g. after `vadbench eval --add-missing`)")
    s.set_defaults(func=run.cmd_run)

    s = sub.add_parser("profile", help="time models' hot paths and end-to-end scoring, interleaved")
    s.add_argument("models", nargs="+", type=name_arg("model"))
    s.add_argument("--dataset", type=name_arg("dataset"),
                   help="fit the models on this dataset and time them end to end on its test videos")
    s.add_argument("--data-root")
    s.add_argument("--results", default=DEFAULT_RESULTS, help="where fitted models are cached")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--videos", type=int, default=2)
    s.add_argument("--batch-sizes", default="1,8,32")
    s.add_argument("--rounds", type=count_at_least(1), default=10)
    s.add_argument("--warmup", type=count_at_least(0), default=3)
    s.add_argument("--e2e-rounds", type=count_at_least(1), default=3,
                   help="end-to-end rounds over the --videos (median reported; more rounds, steadier ratios)")
    s.add_argument("--reference", help="report speed ratios to this model")
    s.add_argument("--device", default="cpu", help="cpu, or cuda[:i] for models with a device setting "
                   "(fastaed-*, fastano*); fitted models are fitted on the CPU and timed on the device")
    s.add_argument("--json", type=output_file, help="also write the records to this JSON file")
    s.add_argument("--onnx", metavar="DIR",
                   help="also time each model's ONNX Runtime export (written to DIR)")
    s.add_argument("--untrained",
                   help="comma-separated models timed with fresh weights, not fitted (with --dataset)")
    s.set_defaults(func=models.cmd_profile)

    s = sub.add_parser("eval", help="recompute metrics from stored per-frame scores and compare")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--per-video", metavar="CELLS",
                   help="instead, a per-video table (own AUC, medians, micro AUC without the video) of the "
                        "cells matching this glob, e.g. 'teacher-attr__ped2__s0*'")
    s.add_argument("--add-missing", action="store_true",
                   help="write into each record the metrics defined after it was made (e.g. "
                        "micro_auc_minmax), where its stored metrics recompute exactly; nothing stored is "
                        "changed")
    s.set_defaults(func=evaluate.cmd_eval)

    s = sub.add_parser("leaderboard", help="write <dataset>.md/.csv from the results store")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--dataset", type=name_arg("dataset"))
    s.add_argument("--out", default="leaderboards")
    s.add_argument("--latex", action="store_true")
    s.set_defaults(func=publish.cmd_leaderboard)

    s = sub.add_parser("pareto", help="draw the speed-accuracy Pareto plot")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--dataset", required=True, type=name_arg("dataset"))
    s.add_argument("--x", default="fps_e2e",
                   choices=["fps_e2e", "fps_model", "fps_model_b1", "fps_model_best"])
    s.add_argument("--y", default="micro_auc", choices=["micro_auc", "macro_auc", "rbdc", "tbdc"])
    s.add_argument("--out", default="leaderboards")
    s.add_argument("--literature", help="overlay published points from this CSV")
    s.set_defaults(func=publish.cmd_pareto)

    s = sub.add_parser("curves", help="per-video score curves with the ground truth shaded")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--dataset", required=True, type=name_arg("dataset"))
    s.add_argument("--models", required=True, type=name_arg("model", many=True),
                   help="comma-separated model names")
    s.add_argument("--videos", help="comma-separated video ids (default: all)")
    s.add_argument("--out", required=True, help="output path without extension")
    s.add_argument("--false-alarm-rate", type=rate,
                   help="draw each model's alert threshold: the score this fraction of held-out training "
                        "frames exceed (each scored by a model fitted on the other folds)")
    s.add_argument("--threshold-folds", type=count_at_least(2), default=2,
                   help="folds of training videos the threshold is calibrated on (default 2)")
    s.set_defaults(func=publish.cmd_curves)

    s = sub.add_parser("watch", help="score a video file, frame folder, camera or stream with a fitted model")
    s.add_argument("source", help="video file, frame folder, camera index (0) or rtsp:// address")
    s.add_argument("--model", required=True, type=name_arg("model"))
    s.add_argument("--dataset", default="synthetic", type=name_arg("dataset"),
                   help="the model is fitted on this dataset's training videos")
    s.add_argument("--data-root")
    s.add_argument("--results", default=DEFAULT_RESULTS, help="where fitted models are cached")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--false-alarm-rate", type=rate, default=0.01,
                   help="share of normal training frames allowed above the alert threshold (each scored by a "
                        "model fitted on the other folds)")
    s.add_argument("--threshold-folds", type=count_at_least(2), default=2,
                   help="folds of training videos the threshold is calibrated on (default 2)")
    s.add_argument("--chunk", type=int, default=64)
    s.add_argument("--out", default="vadbench-watch")
    s.set_defaults(func=models.cmd_watch)

    s = sub.add_parser("export", help="export a fitted model's hot path to ONNX, checked against torch")
    s.add_argument("model", type=name_arg("model"))
    s.add_argument("--format", choices=["onnx"], default="onnx")
    s.add_argument("--dataset", default="synthetic", type=name_arg("dataset"),
                   help="the model is fitted on this dataset's training videos")
    s.add_argument("--data-root")
    s.add_argument("--results", default=DEFAULT_RESULTS)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--out", help="output file (default MODEL.onnx)")
    s.set_defaults(func=models.cmd_export)

    s = sub.add_parser("validate", help="rank a model's configurations on pseudo-anomalies of held-out "
                                        "training videos (no test video is read)")
    s.add_argument("model", type=name_arg("model"))
    s.add_argument("--dataset", default="synthetic", type=name_arg("dataset"))
    s.add_argument("--data-root")
    s.add_argument("--config", type=json_of(dict), default={},
                   help="JSON object: settings every candidate shares")
    s.add_argument("--grid", type=json_of(list), help="JSON list of objects: the candidate settings "
                                                      "(default: the registered configuration alone)")
    s.add_argument("--held-out", type=csv_list,
                   help="training video ids to hold out (default: the last 20%%)")
    s.add_argument("--kinds", type=csv_list, help="pseudo-anomalies to make (default: every kind of "
                                                  "vadbench.pseudo_anomalies)")
    s.add_argument("--copies", type=count_at_least(1), default=2, help="copies per held-out video and kind")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--work", default="vadbench-validate", help="where the fitted candidates are cached")
    s.add_argument("--json", type=output_file, help="write the report here")
    s.set_defaults(func=validate.cmd_validate)

    s = sub.add_parser("new-plugin", help="scaffold a competitor package (entry point, model, contract test)")
    s.add_argument("name")
    s.add_argument("--out", help="folder to write (default: ./NAME)")
    s.set_defaults(func=models.cmd_new_plugin)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command = "vadbench " + " ".join(shlex.quote(a) for a in argv)  # recorded with results
    try:
        return args.func(args)
    except VadbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished cells are kept; rerun to complete the rest", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
