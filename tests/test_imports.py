"""The core's import graph has no cycle, and the names that moved still import from their old homes."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import vadbench

PACKAGE = Path(vadbench.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["vadbench", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, dict[str, set[str]]]:
    """``{"module": {a: {b, ...}}, "function": {...}}``: the vadbench modules each vadbench module imports,
    at its top level and inside its functions (``if TYPE_CHECKING:`` blocks left out)."""
    modules = _modules()

    def owner(name: str) -> str | None:  # the module an imported name lives in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, set[str]]] = {"module": {}, "function": {}}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]

        def visit(node: ast.AST, in_function: bool, mod: str = mod, package: str = package) -> None:
            for child in ast.iter_child_nodes(node):
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    parts = package.split(".")
                    base = parts[: len(parts) - (child.level - 1)] if child.level else []
                    target = ".".join([*base, child.module] if child.module else base)
                    targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target
                               for a in child.names]
                for t in targets:
                    if (found := owner(t)) and found != mod:
                        graph["function" if in_function else "module"].setdefault(mod, set()).add(found)
                if isinstance(child, ast.If) and getattr(child.test, "id", "") == "TYPE_CHECKING":
                    continue
                is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(child, in_function or is_function)

        visit(ast.parse(path.read_text()), False)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_import_cycles_among_vadbench_modules():
    graph = import_graph()
    assert cycles(graph["module"]) == []
    both = {m: graph["module"].get(m, set()) | graph["function"].get(m, set())
            for m in set(graph["module"]) | set(graph["function"])}
    assert cycles(both) == []  # not even through an import inside a function


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(("old", "names"), [
    ("vadbench", ["hookimpl", "Model", "Scores", "RunContext", "create_model", "create_dataset"]),
    ("vadbench.plugins", ["hookimpl", "model_registry", "dataset_registry", "get_plugin_manager"]),
    ("vadbench.runner", ["Cell", "ModelCache", "open_dataset", "resolve_root", "evaluate_scores",
                         "git_commit", "run_cell", "run_grid", "load_weights", "dependencies_changed",
                         "region_source"]),
    ("vadbench.cli", ["main", "count_at_least", "json_of", "output_file", "rate"]),
    ("vadbench.profile", ["machine_info", "machine_summary", "profile_models", "count_params"]),
    ("vadbench.leaderboard", ["aggregate", "write_leaderboard", "format_pct", "format_fps"]),
    ("vadbench.pareto", ["load_literature", "plot_pareto", "pareto_front", "place_labels"]),
    ("vadbench.reproduction", ["render_reproduction", "reproduction_rows"]),
    ("vadbench.report", ["plot_video_curves"]),
])
def test_old_import_paths_still_work(old, names):
    module = importlib.import_module(old)
    assert all(hasattr(module, name) for name in names)


def test_one_table_of_dataset_folders():
    from vadbench.data import builtin
    from vadbench.data.folders import DATASET_FOLDERS, default_folder

    assert {n: default_folder(n) for n in DATASET_FOLDERS} == {
        "ped2": "ucsd_ped2", "ped1": "ucsd_ped1", "avenue": "avenue", "shanghaitech": "shanghaitech"}
    assert not hasattr(builtin, "FOLDERS")
