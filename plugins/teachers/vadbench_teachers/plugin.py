"""Registration of the teachers: the only place vadbench learns their names."""

from vadbench import hookimpl

from .ae import AutoencoderTeacher
from .attr import AttributeTeacher
from .ssl import SequenceTeacher

BOXES = {"kind": "precomputed"}

# name -> (factory, registered defaults, quick configuration: trains in seconds on a tiny synthetic dataset).
# frame_score "log1p" where it won the label-free pseudo-anomaly check (README.md, "The label-free check";
# results/ped2_<teacher>_frame_score_pseudo.json); teacher-ssl lost it and keeps "max".
MODELS = {
    "teacher-attr": (AttributeTeacher, {"frame_score": "log1p"}, {}),
    "teacher-ae": (AutoencoderTeacher, {"frame_score": "log1p"}, {"epochs": 2, "batch_size": 32}),
    "teacher-ssl": (SequenceTeacher, {}, {"epochs": 2, "batch_size": 32}),
    # The same three on the boxes of the dataset's detections file (a COCO-pretrained Mask R-CNN's on Ped2
    # and Avenue): every other setting is the background-subtraction teacher's, frozen before any test video
    # was scored with these boxes (README.md, "Teachers on a pretrained detector's boxes").
    "teacher-attr-boxes": (AttributeTeacher, {"frame_score": "log1p", "detector": BOXES}, {}),
    "teacher-ae-boxes": (AutoencoderTeacher, {"frame_score": "log1p", "detector": BOXES},
                         {"epochs": 2, "batch_size": 32}),
    "teacher-ssl-boxes": (SequenceTeacher, {"detector": BOXES}, {"epochs": 2, "batch_size": 32}),
}


@hookimpl
def vadbench_register_models(registry):
    for name, (cls, defaults, quick) in MODELS.items():
        registry.register(name, cls, family="teacher", quick=quick, **defaults)
