"""The hooks a vadbench plugin may implement.

A plugin is a module (or object) with functions decorated by
``vadbench.hookimpl`` whose names are among the specs below. It is found through
the ``vadbench`` entry-point group of its package's metadata::

    [project.entry-points.vadbench]
    my_models = "my_package.plugin"

A hook implementation whose name is not a spec here (a typo such as
``vadbench_register_model``) makes :func:`vadbench.plugins.get_plugin_manager`
fail with a message naming the plugin and the hook.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("vadbench")
#: The decorator of a plugin's hook implementations (``vadbench.hookimpl``).
hookimpl = pluggy.HookimplMarker("vadbench")


@hookspec
def vadbench_register_models(registry):
    """Register model factories.

    Call ``registry.register(name, factory, family=..., **defaults)`` once per
    model configuration. ``family`` is one of ``teacher``, ``student``,
    ``competitor`` or ``baseline`` and groups rows in leaderboards. The factory
    takes keyword configuration and returns an object honouring the contract of
    :class:`vadbench.model.Model`.
    """


@hookspec
def vadbench_register_datasets(registry):
    """Register dataset factories.

    ``registry.register(name, factory)`` where ``factory(root=..., **options)``
    returns a :class:`vadbench.data.Dataset`.
    """


@hookspec
def vadbench_update_machine_info(info):
    """Add fields to the machine description stored with every speed record.

    ``info`` is a dict; modify it in place (e.g. add an accelerator's clocks).
    """
