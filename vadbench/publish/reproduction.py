"""The reproduction table: vadbench's numbers beside the published ones, with why they differ.

A suite names, per model, the published method it reproduces (``reproduces``, the
``method`` column of ``leaderboards/literature.csv``) and how vadbench's version departs
from the paper (``deviation``). :func:`reproduction_rows` pairs each such model's
leaderboard row with the literature rows of the same dataset (and the dataset-free rows,
which carry speed claims); :func:`render_reproduction` writes the markdown table.

>>> rows = [{"model": "fastano", "micro_auc_mean": 0.93, "micro_auc_std": 0.01, "n_seeds": 3,
...          "fps_e2e_mean": 40.0}]
>>> lit = [{"method": "FastAno", "dataset": "ped2", "micro_auc": 96.3, "fps": None, "hardware": None,
...         "source": "paper"}]
>>> suite = {"dataset": "ped2",
...          "models": [{"name": "fastano", "reproduces": "FastAno", "deviation": "CPU size"}]}
>>> [r] = reproduction_rows(rows, lit, suite)
>>> r["micro_auc"], r["micro_auc_published"], round(r["micro_auc_diff"], 1)
('93.0 ± 1.0', 96.3, -3.3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .leaderboard import format_fps, format_pct

METRICS = ("micro_auc", "macro_auc", "rbdc", "tbdc")


def reproduction_rows(rows: Sequence[Mapping], literature: Sequence[Mapping], suite: Mapping) -> list[dict]:
    """One row per suite model that names a published method, in the suite's order.

    ``rows`` are :func:`vadbench.publish.leaderboard.aggregate` rows (fractions), ``literature``
    rows of :func:`vadbench.publish.pareto.load_literature` (percent): those of the suite's dataset
    give the accuracy, any row with an FPS (often a claim with no dataset) the speed. A
    published metric that is unknown stays ``None``; so does the difference.
    """
    by_model = {r["model"]: r for r in rows}
    out = []
    for m in suite.get("models", []):
        method = m.get("reproduces")
        row = by_model.get(m["name"])
        if not method or row is None:
            continue
        dataset = str(suite.get("dataset", "")).lower()
        published = [lit for lit in literature if lit["method"] == method
                     and (lit.get("dataset") or dataset).lower() == dataset]
        with_data = [lit for lit in published if lit.get("dataset")]
        speed = next((lit for lit in published if lit.get("fps") is not None), {})
        paper = with_data[0] if with_data else {}
        entry: dict[str, Any] = {"model": m["name"], "method": method, "n_seeds": row.get("n_seeds"),
                                 "deviation": m.get("deviation", ""),
                                 "source": "; ".join(sorted({str(p.get("source")) for p in published
                                                             if p.get("source")}))}
        for key in METRICS:
            mean = row.get(f"{key}_mean")
            pub = paper.get(key)
            entry[key] = format_pct(mean, row.get(f"{key}_std"))
            entry[f"{key}_published"] = pub
            entry[f"{key}_diff"] = None if mean is None or pub is None else 100 * mean - pub
        entry["fps_e2e"] = format_fps(row.get("fps_e2e_mean"))
        entry["fps_published"] = speed.get("fps")
        entry["fps_hardware"] = speed.get("hardware") or ("not stated" if speed else None)
        out.append(entry)
    return out


def _pub(value: Any, diff: float | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if diff is None else f"{value:g} ({diff:+.1f})"


def render_reproduction(entries: Sequence[Mapping], dataset: str, *, machine: str = "") -> str:
    """Markdown: ours vs published (difference in points) per metric, speed, and the deviations."""
    head = ["model", "reproduces", "seeds"] + [f"{k} ours" for k in METRICS] + \
           [f"{k} published (diff)" for k in METRICS] + ["FPS ours (e2e)", "FPS published", "why they differ",
                                                         "source"]
    lines = [f"# Reproduction on {dataset}: vadbench beside the published figures", "",
             ("AUCs in %, ours as mean ± std over seeds; (diff) = ours − published, in points. "  # noqa: RUF001 - the table's typographic minus
             "'—' = no citable published figure. Published FPS were measured on other hardware "
             f"(stated where the source says it); ours are end-to-end on {machine or 'this machine'}."), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        cells = [e["model"], e["method"], str(e.get("n_seeds") or 0)]
        cells += [e[k] for k in METRICS]
        cells += [_pub(e[f"{k}_published"], e[f"{k}_diff"]) for k in METRICS]
        fps_pub = _pub(e["fps_published"])
        if e["fps_published"] is not None:
            fps_pub += f" ({e['fps_hardware']})"
        cells += [e["fps_e2e"], fps_pub, e["deviation"], e["source"]]
        lines.append("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"
