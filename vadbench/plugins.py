"""Plugin discovery: pluggy, the ``vadbench`` entry-point group, and the registries.

Every model and dataset, built-in or third-party, arrives through the same door:
a module with ``@vadbench.hookimpl`` functions, declared in an entry point of
group ``vadbench``. :func:`get_plugin_manager` loads them once per process and
fills the two registries.
"""

from __future__ import annotations

import functools

import pluggy

from . import hookspecs
from .errors import PluginError
from .hookspecs import hookimpl
from .registry import Registry

__all__ = ["ENTRY_POINT_GROUP", "dataset_registry", "get_plugin_manager", "hookimpl", "model_registry",
           "reset"]

ENTRY_POINT_GROUP = "vadbench"


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with built-ins and entry-point plugins loaded."""
    pm = pluggy.PluginManager("vadbench")
    pm.add_hookspecs(hookspecs)
    from .data import builtin as builtin_datasets

    pm.register(builtin_datasets, name="vadbench.data")
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # a plugin that fails to import
        raise PluginError(f"a vadbench plugin failed to load: {type(exc).__name__}: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        hooks = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("vadbench_")))
        raise PluginError(f"plugin {exc.plugin!r}: {exc} (hooks must be one of {hooks})") from None
    return pm


def _fill(kind: str, hook_name: str) -> Registry:
    pm = get_plugin_manager()
    registry = Registry(kind)
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        registry.current_plugin = pm.get_name(impl.plugin) or ""
        impl.function(registry=registry)
    registry.current_plugin = ""
    return registry


@functools.cache
def model_registry() -> Registry:
    """All registered models."""
    return _fill("model", "vadbench_register_models")


@functools.cache
def dataset_registry() -> Registry:
    """All registered datasets."""
    return _fill("dataset", "vadbench_register_datasets")


def reset() -> None:
    """Forget loaded plugins (for tests that install a plugin in the same process)."""
    get_plugin_manager.cache_clear()
    model_registry.cache_clear()
    dataset_registry.cache_clear()
