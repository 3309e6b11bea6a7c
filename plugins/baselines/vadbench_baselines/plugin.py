"""Registration of the baseline models: the only place vadbench learns their names."""

from vadbench import hookimpl

from .conv_ae import ConvAE
from .ffp import FutureFramePrediction
from .motion import FlowMagnitude, FrameDifference
from .sparse import SparseCombination


@hookimpl
def vadbench_register_models(registry):
    registry.register("motion-diff", FrameDifference, family="baseline")
    registry.register("motion-flow", FlowMagnitude, family="baseline")
    # the learned baselines' ``quick`` configurations train in seconds on a tiny synthetic dataset
    registry.register("conv-ae", ConvAE, family="baseline",
                      quick={"size": (96, 64), "epochs": 1, "max_steps": 5})
    registry.register("ffp-unet", FutureFramePrediction, family="baseline",
                      quick={"size": (96, 64), "epochs": 1, "max_steps": 5})
    registry.register("sparse-combination", SparseCombination, family="baseline",
                      quick={"size": (90, 60), "scales": (1, 3), "motion_thr": 0.0, "max_combos": 5})
