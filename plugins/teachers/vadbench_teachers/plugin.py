"""Registration of the teachers: the only place vadbench learns their names."""

from vadbench import hookimpl

from .ae import AutoencoderTeacher
from .attr import AttributeTeacher
from .ssl import SequenceTeacher

# name -> (factory, quick configuration: trains in seconds on a tiny synthetic dataset)
MODELS = {
    "teacher-attr": (AttributeTeacher, {}),
    "teacher-ae": (AutoencoderTeacher, {"epochs": 2, "batch_size": 32}),
    "teacher-ssl": (SequenceTeacher, {"epochs": 2, "batch_size": 32}),
}


@hookimpl
def vadbench_register_models(registry):
    for name, (cls, quick) in MODELS.items():
        registry.register(name, cls, family="teacher", quick=quick)
