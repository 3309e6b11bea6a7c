"""Registration of the Fast-AED students: the only place vadbench learns their names.

Every configuration is :class:`~vadbench_fastaed.model.FastAED` with the
defaults below; the ablations differ from their base in one setting only.
``QUICK`` overrides (registered as each name's ``quick`` configuration) make any
of them train in seconds on a tiny synthetic dataset.
"""

from __future__ import annotations

from vadbench import hookimpl

from .model import FastAED

# every registered teacher; the attribute teacher (nearest neighbours) needs cross-fitted
# targets, the autoencoder teacher is used directly (see README.md, "Training")
ALL_TEACHERS = ["teacher-attr", "teacher-ae"]
TARGETS = {"teacher-attr": "crossfit", "teacher-ae": "direct", "*": "crossfit"}

# the teachers on the boxes of the datasets' detections files (a COCO-pretrained Mask R-CNN's), with the
# same target kinds as their background-subtraction twins
BOX_TEACHERS = ["teacher-attr-boxes", "teacher-ae-boxes"]
BOX_TARGETS = {"teacher-attr-boxes": "crossfit", "teacher-ae-boxes": "direct", "*": "crossfit"}

# the authors' network (9 colour channels, native 640x360, 16..256 channels, 4 down-samplings,
# 5 attention blocks of 5 heads x 64; 4,997,747 parameters without the unused out_image conv)
PAPER = {"teachers": ALL_TEACHERS, "targets": TARGETS, "size": (640, 360), "color": True, "offset": 3,
         "widths": (16, 32, 64, 128, 256), "stem_kernel": 7, "stem_stride": 1, "reflect": True,
         "depth": 5, "heads": 5, "dim_head": 64, "mlp_mult": 4, "kv_stride": 2, "head_hidden": 64,
         "act": "paper", "normalize": "max", "pretrain_epochs": 35, "epochs": 35, "batch_size": 48,
         "opt": "adam", "lr": 1e-4, "weight_decay": 5e-6, "sched": "step", "warmup_epochs": 0, "lam": 0.1,
         "d_lr": 1e-4, "infer_batch": 32}

# CPU students (grayscale, reduced input; sized by measurement, see README.md)
COMMON = {"teachers": ALL_TEACHERS, "targets": TARGETS, "epochs": 20}
S = dict(COMMON, size=(120, 80), widths=(16, 24, 48), stem_kernel=3, stem_stride=2, depth=1, heads=2,
         dim_head=24, mlp_mult=2, head_hidden=16, fine_heads=24)
XS = dict(COMMON, size=(45, 30), widths=(12, 24, 48), stem_kernel=3, stem_stride=1, depth=1, heads=2,
          dim_head=24, mlp_mult=2, head_hidden=24)
# fastaed-s on a finer input, registered by the replication rule in README.md
M = {**S, "size": (180, 120), "train_stride": 2}
MBV3 = dict(COMMON, size=(120, 80), backbone="mobilenetv3_small_050", out_indices=(1, 2, 3), depth=1, heads=2,
            dim_head=16, mlp_mult=2, head_hidden=16, fine_heads=16)

CONFIGS: dict[str, dict] = {
    "fastaed-paper": PAPER,
    "fastaed-s": S,
    "fastaed-xs": XS,
    "fastaed-mbv3": MBV3,
    "fastaed-m": M,
    # fastaed-m with the authors' 7x7 stem, registered by the stem check in README.md
    "fastaed-m-stem7": {**M, "stem_kernel": 7},
    # fastaed-m with twice the stem's filters and the last stage's channels, registered by the
    # wider-encoder check in README.md
    "fastaed-m-wide": {**M, "widths": (32, 48, 96)},
    # the fast and the larger student distilled from the teachers on detector boxes, everything else as
    # registered for fastaed-xs and fastaed-m (fixed before any of their test videos was scored)
    "fastaed-xs-boxes": {**XS, "teachers": BOX_TEACHERS, "targets": BOX_TARGETS},
    "fastaed-m-boxes": {**M, "teachers": BOX_TEACHERS, "targets": BOX_TARGETS},
    # the fast student distilled from teacher-kin-boxes alone, the teacher whose settings were chosen without
    # test labels (a nearest-neighbour teacher: cross-fitted targets)
    "fastaed-xs-kin": {**XS, "teachers": ["teacher-kin-boxes"], "targets": {"*": "crossfit"}},
    # fastaed-xs-kin with one enlarged copy of every training video (an object pasted 1.5-2.5x larger, scored
    # by the teacher), the winner of the label-free check in docs/experiments/fastaed ("Enlarged clips and a
    # finer input") before any of its test videos was scored
    "fastaed-xs-kin-big": {**XS, "teachers": ["teacher-kin-boxes"], "targets": {"*": "crossfit"},
                           "enlarged": 1},
    # ablations of fastaed-xs-boxes, one setting each (registered before any of their test videos was scored)
    "fastaed-xs-boxes-kd": {**XS, "teachers": BOX_TEACHERS, "targets": BOX_TARGETS, "lam": 0.0},
    "fastaed-xs-boxes-single": {**XS, "teachers": BOX_TEACHERS, "targets": BOX_TARGETS, "scales": (16,),
                                "score": "max"},
    "fastaed-xs-boxes-pre": {**XS, "teachers": BOX_TEACHERS, "targets": BOX_TARGETS, "pretrain_epochs": 5},
    "fastaed-xs-boxes-attr": {**XS, "teachers": ["teacher-attr-boxes"], "targets": BOX_TARGETS},
}
# the same ablations of fastaed-s on the background-subtraction teachers (-kd, -single, -pre, -attr, -ae) were
# retired when the -boxes ablations above replaced them; their figures are in docs/experiments/fastaed

QUICK = {"epochs": 1, "pretrain_epochs": 0, "quick": True, "batch_size": 16, "infer_batch": 16,
         "decode_threads": 1, "speedups": (2,)}
QUICK_PAPER = dict(QUICK, size=(64, 36), depth=1, pretrain_epochs=1)


# every CPU student learns from sped-up clips, added after distilling on normal clips alone gave a student
# uncorrelated with its teacher on Ped2's test videos (README.md, "Training", point 3); later options were
# judged on training videos only
TEST_HISTORY = ("sped-up training clips added after a student trained without them was found uncorrelated "
                "with its teacher on Ped2 test videos")


@hookimpl
def vadbench_register_models(registry):
    for name, defaults in CONFIGS.items():
        quick = QUICK_PAPER if name == "fastaed-paper" else dict(QUICK, pretrain_epochs=min(1, defaults.get(
            "pretrain_epochs", 0)))
        history = TEST_HISTORY if defaults.get("speedups", (2, 3, 4)) and name != "fastaed-paper" else ""
        registry.register(name, FastAED, family="student", quick=quick, test_history=history, **defaults)
