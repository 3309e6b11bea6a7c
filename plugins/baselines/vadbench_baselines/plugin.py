"""Registration of the baseline models: the only place vadbench learns their names."""

from vadbench import hookimpl

from .motion import FlowMagnitude, FrameDifference


@hookimpl
def vadbench_register_models(registry):
    registry.register("motion-diff", FrameDifference, family="baseline")
    registry.register("motion-flow", FlowMagnitude, family="baseline")
