"""Named benchmark suites, one TOML file each: models, configurations, seeds, dataset.

>>> suite = load_suite("synthetic")
>>> suite["dataset"], [m["name"] for m in suite["models"]][:1]
('synthetic', ['motion-diff'])
"""

from __future__ import annotations

from pathlib import Path

import tomllib

from ..errors import VadbenchError

HERE = Path(__file__).parent


def list_suites() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.toml"))


def load_suite(name_or_path: str) -> dict:
    """A suite by name (a file shipped here) or by path to a TOML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = HERE / f"{name_or_path}.toml"
    if not path.is_file():
        raise VadbenchError(f"{path}: no such suite (known: {', '.join(list_suites())})")
    try:
        suite = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise VadbenchError(f"{path}: not valid TOML: {exc}") from None
    for key in ("dataset", "models"):
        if key not in suite:
            raise VadbenchError(f"{path}: suite lacks the key {key!r}")
    suite.setdefault("seeds", [0])
    suite.setdefault("name", path.stem)
    suite["file"] = str(path)
    return suite


def suite_cells(suite: dict, *, quick: bool = False, seeds=None):
    """Expand a suite into runner cells.

    ``quick`` runs the first seed only. A suite with a ``[quick]`` table names
    its headline models there (``models = [...]``): ``quick`` runs those, in
    their full configurations, so its cells are the full suite's first-seed
    cells. A suite without one runs every model in its registered ``quick``
    configuration (a smoke test of the pipeline).

    >>> [c.model for c in suite_cells(load_suite("ped2"), quick=True)][:2]
    ['motion-diff', 'teacher-attr-boxes']
    """
    from ..runner import Cell

    seeds = seeds or (suite["seeds"][:1] if quick else suite["seeds"])
    headline = (suite.get("quick") or {}).get("models") if quick else None
    models = suite["models"]
    if headline:
        unknown = sorted(set(headline) - {m["name"] for m in models})
        if unknown:
            raise VadbenchError(f"{suite.get('file', suite['name'])}: [quick] names models the suite does "
                                f"not have: {', '.join(unknown)}")
        models = [m for m in models if m["name"] in headline]
    configs = []
    for m in models:
        config = dict(m.get("config", {}))
        if quick and not headline:  # the plugin's registered quick configuration, then the suite's own
            from ..plugins import model_registry

            config.update(model_registry().entry(m["name"]).quick)
            config.update(m.get("quick", {}))
        configs.append(config)
    # seeds outer: a run stopped part-way leaves whole leaderboards (every model at the first seed)
    out = []
    for i, seed in enumerate(seeds):
        for m, config in zip(models, configs, strict=True):
            if i and not m.get("trained", True):
                continue
            out.append(Cell(model=m["name"], dataset=suite["dataset"], seed=seed, model_config=config,
                            dataset_options=dict(suite.get("dataset_options", {})),
                            profile=dict(suite.get("profile", {}))))
    return out
