"""``vadbench list``, ``vadbench datasets check``, ``vadbench synth``: what is registered and what a
dataset folder holds."""

from __future__ import annotations

import json
from argparse import Namespace


def cmd_list(args: Namespace) -> int:
    import vadbench

    from ..plugins import dataset_registry, model_registry

    registry = model_registry() if args.what == "models" else dataset_registry()
    names = (vadbench.list_models if args.what == "models" else vadbench.list_datasets)(args.pattern)
    for name in names:
        entry = registry.entry(name)
        print(f"{name:28s} {entry.family:11s} {entry.plugin:22s} {entry.description}")
    return 0


def cmd_datasets_check(args: Namespace) -> int:
    import vadbench

    options = {"root": args.root} if args.root else {}
    if args.labels:
        options["labels"] = args.labels
    if args.detections:
        options["detections"] = args.detections
    dataset = vadbench.create_dataset(args.name, **options)
    summary = dataset.summary()
    summary.update(dataset.detection_summary())  # reads the box files: proves they pair with the videos
    masks = [v for v in dataset.test if v.has_masks]
    if args.deep:  # decode every frame and mask once: proves the folder is whole
        for split in (dataset.train, dataset.test):
            for v in split:
                for _ in v.frames(gray=True):
                    pass
        for v in masks:
            v.masks()
        summary["decoded"] = True
    summary["test_regions"] = sum(len(v.tracks) for v in dataset.test if v.tracks is not None)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        for key, value in summary.items():
            print(f"{key:24s} {value}")
    return 0


def cmd_synth(args: Namespace) -> int:
    from ..data.synthetic import generate

    out = generate(args.out, seed=args.seed)
    print(out)
    return 0
