"""vadbench: a benchmark-and-evaluation suite for video anomaly detection.

>>> import vadbench
>>> "ped2" in vadbench.list_datasets()
True
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .model import Model, RunContext, Scores, drop_late_defaults

__version__ = "0.1.0"

__all__ = [
    "Model",
    "RunContext",
    "Scores",
    "__version__",
    "create_dataset",
    "create_model",
    "drop_late_defaults",
    "hookimpl",
    "list_datasets",
    "list_models",
]


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching an fnmatch ``pattern`` (e.g. ``"fast*"``)."""
    from .plugins import model_registry

    return model_registry().list(pattern)


def create_model(name: str, **config):
    """Build the registered model ``name`` with ``config`` overriding its defaults."""
    from .plugins import model_registry

    model = model_registry().create(name, **config)
    entry = model_registry().entry(name)
    if not getattr(model, "name", None) or model.name == "model":
        model.name = name
    if not getattr(model, "family", None):
        model.family = entry.family
    return model


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of the registered datasets matching an fnmatch ``pattern``."""
    from .plugins import dataset_registry

    return dataset_registry().list(pattern)


def create_dataset(name: str, **options):
    """Load the registered dataset ``name``; ``options`` usually include ``root``."""
    from .plugins import dataset_registry

    return dataset_registry().create(name, **options)
