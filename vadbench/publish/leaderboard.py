"""Leaderboards: records of the results store aggregated over seeds, written as md, csv and tex.

One row per (model name, model configuration, dataset, label source). Each
metric gets a mean and a *sample* standard deviation (``ddof=1``; None with a
single seed) over the seeds whose cell succeeded; a value that a seed could
not compute (e.g. RBDC without region ground truth) is left out of its mean.
Metrics stay fractions in [0, 1] in the rows and the CSV; the markdown and
LaTeX tables show them in %.

>>> recs = [{"cell": f"m__d__s{s}__x", "status": "ok", "seed": s,
...          "model": {"name": "m", "family": "baseline", "config": {}},
...          "dataset": {"name": "d", "label_source": "masks"},
...          "metrics": {"micro_auc": a}, "speed": {"fps_e2e": 100.0}}
...         for s, a in [(0, 0.90), (1, 0.92)]]
>>> [row] = aggregate(recs)
>>> round(row["micro_auc_mean"], 3), round(row["micro_auc_std"], 4), row["n_seeds"], row["status"]
(0.91, 0.0141, 2, 'ok')
>>> format_pct(row["micro_auc_mean"], row["micro_auc_std"])
'91.0 ± 1.4'
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import create_model
from ..atomic import atomic_write_text
from ..errors import VadbenchError
from ..machine import machine_summary
from ..names import safe_name
from ..plugins import model_registry
from ..results import config_hash

#: Accuracy metrics (fractions) taken from ``record["metrics"]``.
ACCURACY = ("micro_auc", "micro_auc_minmax", "macro_auc", "rbdc", "tbdc")
#: Speed figures (frames/s) taken from ``record["speed"]``.
SPEED = ("fps_e2e", "fps_model_b1", "fps_model_best")
AGGREGATED = ACCURACY + SPEED + ("train_seconds",)

_TITLES = {"micro_auc": "Micro AUC (%)", "micro_auc_minmax": "Micro AUC, per-video min-max (%)",
           "macro_auc": "Macro AUC (%)", "rbdc": "RBDC (%)", "tbdc": "TBDC (%)",
           "fps_e2e": "FPS e2e", "fps_model_b1": "FPS model b1", "fps_model_best": "FPS model best"}


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _mean_std(values: Iterable[Any]) -> tuple[float | None, float | None]:
    vals = [v for v in (_number(x) for x in values) if v is not None]
    if not vals:
        return None, None
    mean = float(np.mean(vals))
    return mean, (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)


def _value(record: Mapping, key: str) -> Any:
    if key in ACCURACY:
        return (record.get("metrics") or {}).get(key)
    if key in SPEED or key in ("params", "gmacs"):
        return (record.get("speed") or {}).get(key)
    return record.get(key)


def _first(records: Sequence[Mapping], key: str) -> Any:
    for r in records:
        v = _value(r, key)
        if v is not None:
            return v
    return None


def aggregate(records: Iterable[Mapping]) -> list[dict]:
    """Rows of mean and std over seeds, sorted by micro AUC (descending, missing last).

    Each row has ``model, family, config, config_hash, dataset, label_source,
    n_seeds`` (successful seeds), ``seeds, n_failed, failed`` (``"seed 2: reason;
    ..."``), ``status`` (``"ok"``, or ``"failed: <reason>"`` when every seed
    failed), ``<metric>_mean`` and ``<metric>_std`` for micro_auc, macro_auc,
    rbdc, tbdc, fps_e2e, fps_model_b1, fps_model_best and train_seconds, plus
    ``params``, ``gmacs``, ``conventions`` and ``machine`` of the first
    successful seed.
    """
    groups: dict[tuple, list[Mapping]] = {}
    for rec in records:
        model = rec.get("model") or {}
        ds = rec.get("dataset") or {}
        key = (model.get("name"), config_hash(model.get("config") or {}), ds.get("name"),
               ds.get("label_source"))
        groups.setdefault(key, []).append(rec)
    rows = []
    for (name, chash, dataset, label_source), recs in groups.items():
        recs = sorted(recs, key=lambda r: (r.get("seed") is None, r.get("seed") or 0))
        ok = [r for r in recs if r.get("status") == "ok"]
        bad = [r for r in recs if r.get("status") != "ok"]
        first = (ok or recs)[0]
        reasons = [f"seed {r.get('seed')}: {r.get('error') or 'unknown error'}" for r in bad]
        row: dict[str, Any] = {
            "model": name, "family": (first.get("model") or {}).get("family") or "",
            "config": (first.get("model") or {}).get("config") or {}, "config_hash": chash,
            "dataset": dataset, "label_source": label_source,
            "n_seeds": len(ok), "seeds": [r.get("seed") for r in ok],
            "n_failed": len(bad), "failed": "; ".join(reasons),
            "status": "ok" if ok else f"failed: {bad[0].get('error') or 'unknown error'}",
        }
        for metric in AGGREGATED:
            row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(_value(r, metric) for r in ok)
        row["params"] = _first(ok, "params")
        row["gmacs"] = _first(ok, "gmacs")
        row["conventions"] = (first.get("metrics") or {}).get("conventions") or {}
        row["machine"] = (first.get("speed") or {}).get("machine")
        row["test_history"] = design_history(name)
        row["changed_settings"] = changed_settings(name, row["config"]) if ok else []
        stages = (first.get("speed") or {}).get("stages") or {}
        row["stages"] = {k: v.get("s_per_frame") for k, v in stages.items()}
        rows.append(row)
    rows.sort(key=lambda r: (r["micro_auc_mean"] is None, -(r["micro_auc_mean"] or 0.0), str(r["model"]),
                             r["config_hash"]))
    return rows


# --------------------------------------------------------------------------- formatting


def format_pct(mean: float | None, std: float | None = None) -> str:
    """A fraction as ``"mean ± std"`` in % with one decimal; ``"-"`` when missing.

    >>> format_pct(0.9753, 0.0021), format_pct(0.5), format_pct(None)
    ('97.5 ± 0.2', '50.0', '-')
    """
    if mean is None:
        return "-"
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if std is not None else "")


def format_fps(value: float | None) -> str:
    """Frames/s with no decimals, one below 10.

    >>> format_fps(1480.4), format_fps(7.25), format_fps(None)
    ('1480', '7.2', '-')
    """
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _status_cell(row: Mapping) -> str:
    if row.get("changed_settings"):
        return f"outdated ({', '.join(row['changed_settings'])} changed since)"
    if row["n_seeds"] and row["n_failed"]:
        return f"ok ({row['n_failed']} failed: {row['failed']})"
    return str(row["status"])


def _table(rows: Sequence[Mapping]) -> tuple[list[str], list[list[str]]]:
    header = ["#", "Model", "Family", "Config", "Seeds"] + [_TITLES[k] for k in ACCURACY + SPEED] + [
        "Params (M)", "GMACs", "Train (s)", "Design", "Status"]
    body = []
    for i, r in enumerate(rows, 1):
        params = _number(r.get("params"))
        gmacs = _number(r.get("gmacs"))
        train = r.get("train_seconds_mean")
        body.append([str(i), str(r["model"]), str(r["family"]), str(r["config_hash"]), str(r["n_seeds"])]
                    + [format_pct(r[f"{k}_mean"], r[f"{k}_std"]) for k in ACCURACY]
                    + [format_fps(r[f"{k}_mean"]) for k in SPEED]
                    + [f"{params / 1e6:.2f}" if params is not None else "-",
                       f"{gmacs:.3g}" if gmacs is not None else "-",
                       f"{train:.0f}" if train is not None else "-", _history_cell(r), _status_cell(r)])
    return header, body


def _machines(records: Sequence[Mapping], machine: Mapping | str | None) -> list[str]:
    if machine is not None:
        return [machine if isinstance(machine, str) else machine_summary(machine)]
    seen: list[str] = []
    for r in records:
        info = (r.get("speed") or {}).get("machine")
        if info:
            s = machine_summary(info)
            if s not in seen:
                seen.append(s)
    return seen or ["machine not recorded"]


def _conventions(rows: Sequence[Mapping]) -> list[str]:
    seen: list[str] = []
    for r in rows:
        for k, v in sorted((r.get("conventions") or {}).items()):
            if k == "region_source":  # not a convention: where a model's regions came from (records before
                continue              # it moved to metrics["region_source"] said "given" for every cell)
            line = f"{k}: {json.dumps(v, sort_keys=True, default=str)}"
            if line not in seen:
                seen.append(line)
    return seen


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def commits_text(commit: str | Mapping[str | None, int] | None) -> str:
    """The header's commit(s): one commit as given, or ``{commit: cells}`` (short hashes, in the given order).

    >>> commits_text("abc1234"), commits_text(None)
    ('`abc1234`', '`unknown`')
    >>> commits_text({"abc1234" + "0" * 33: 12, "def5678" + "0" * 33 + "+dirty": 30, None: 1})
    '`abc1234` (12 cells), `def5678+dirty` (30 cells), `unknown` (1 cell)'
    """
    if commit is None or isinstance(commit, str):
        return f"`{commit or 'unknown'}`"

    def short(c: str | None) -> str:
        return "unknown" if not c else c[:7] + ("+dirty" if c.endswith("+dirty") else "")

    return ", ".join(f"`{short(c)}` ({n} cell{'s' if n != 1 else ''})"
                     for c, n in commit.items()) or "`unknown`"


def render_markdown(rows: Sequence[Mapping], dataset: str, *, command: str | None,
                    commit: str | Mapping[str | None, int] | None, machines: Sequence[str]) -> str:
    """The markdown leaderboard of :func:`aggregate` rows; ``commit`` as :func:`commits_text` takes it."""
    header, body = _table(rows)
    sources = sorted({str(r.get("label_source") or "unspecified") for r in rows})
    lines = [f"# vadbench leaderboard: {dataset}", "",
             f"- Command: `{command or 'unknown'}`",
             f"- Commit: {commits_text(commit)}"]
    if len(machines) == 1:
        lines.append(f"- Machine: {machines[0]}")
    else:
        lines.append("- Machines (speed figures measured on different machines are not comparable):")
        lines += [f"  - {m}" for m in machines]
    lines += [f"- Frame labels: {', '.join(sources)}", "",
              "| " + " | ".join(header) + " |",
              "|" + "|".join("---:" if h in ("#", "Seeds") or h in _TITLES.values() or h.startswith(
                  ("Params", "GMACs", "Train")) else "---" for h in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    lines += ["", "Conventions:", ""]
    lines += [f"- {c}" for c in _conventions(rows)] or ["- none recorded"]
    lines += ["", "Notes:", "",
              "- Accuracy is mean ± sample standard deviation (n-1) over seeds, in %; one seed shows no ±.",
              ("- FPS e2e: frames / seconds of `score` from encoded frames on disk to per-frame scores "
               "(decoding, resizing, detection, post-processing included). FPS model: the model's `forward` "
               "only, at batch 1 and at its best batch size; medians of interleaved rounds after warm-up."),
              *_history_notes(rows),
              *([("- outdated: the model's registered settings changed after these cells ran (the Status "
                 "column names them); the suite's `vadbench run` reruns them, and their figures are not the "
                 "current model's until then.")] if any(r.get("changed_settings") for r in rows) else []),
              *_stage_notes(rows),
              "- Config is the first 8 hex digits of the SHA-1 of the model configuration.",
              ("- Train (s): wall seconds of `fit` on the machine of the run, so they move with its load. A "
               "model that fits others inside its own fit (a student and its teachers) counts their fits too "
               "when their targets are not cached yet, as in the first cell of a suite that needs them."),
              ("- Per-frame scores of every cell are kept in the results store (`scores/<cell>.npz`), so "
               "every number here can be recomputed; the CSV next to this file has the plain numbers "
               "(fractions, not %)."), ""]
    return "\n".join(lines)


def design_history(model: str) -> str | None:
    """How ``model``'s registered design was revised after a look at test results: ``""`` when it was
    frozen before its test videos were scored, None when the model is not registered here."""
    try:
        return model_registry().entry(model).test_history
    except (KeyError, VadbenchError):
        return None


def changed_settings(model: str, config: Mapping) -> list[str]:
    """Settings in a record's configuration that the registered ``model`` no longer has, or has anew.

    Such a record was made by a model that no longer exists as registered (a retired
    option, a new one): the runner reruns it, and the leaderboard marks its row
    ``outdated`` until then. An unregistered model gives ``[]``.
    """
    try:
        now = getattr(create_model(model), "config", None)
    except Exception:  # noqa: BLE001 - not installed here: nothing to compare with
        return []
    return sorted(set(now or config) ^ set(config))


def _history_cell(row: Mapping) -> str:
    """``frozen`` (design fixed before its test videos were scored), ``revised`` or ``-`` (not registered).

    >>> _history_cell({"test_history": ""}), _history_cell({"test_history": "k tuned"}), _history_cell({})
    ('frozen', 'revised', '-')
    """
    h = row.get("test_history")
    return "-" if h is None else "revised" if h else "frozen"


def _history_notes(rows: Sequence[Mapping]) -> list[str]:
    revised = [r for r in rows if r.get("test_history")]
    if not revised:
        return []
    out = [("- Design: `frozen` means the model's design was fixed from training videos alone before its "
           "test videos were scored; `revised` means it was changed after a look at test results, which "
           "makes its figures optimistic by an unknown margin:")]
    by_text: dict[str, list[str]] = {}
    for r in revised:  # a model with rows under two configurations is named once
        names = by_text.setdefault(r["test_history"], [])
        if str(r["model"]) not in names:
            names.append(str(r["model"]))
    return out + [f"  - {', '.join(models)}: {text}." for text, models in by_text.items()]


def _stage_notes(rows: Sequence[Mapping]) -> list[str]:
    """One note per model whose speed includes work it does not do itself (e.g. detection read from a file).

    >>> _stage_notes([{"model": "t", "stages": {"detection (maskrcnn)": 2.5}}])[0][:60]
    '- t: every FPS figure includes detection (maskrcnn), timed l'
    """
    out = []
    for r in rows:
        for stage, sec in (r.get("stages") or {}).items():
            out.append(f"- {r['model']}: every FPS figure includes {stage}, timed live on the same test "
                       f"frames in the same profiling run ({sec:.3g} s per frame) and added: it reads its "
                       "boxes from a detections file, and finding them is not free.")
    return out


_CSV_COLUMNS = (["rank", "model", "family", "config_hash", "dataset", "label_source", "n_seeds", "seeds",
                 "n_failed", "status", "failed"]
                + [f"{k}_{s}" for k in AGGREGATED for s in ("mean", "std")] + ["params", "gmacs", "config"])


def render_csv(rows: Sequence[Mapping]) -> str:
    """Machine-readable rows: plain numbers (fractions, frames/s), empty where missing."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i, r in enumerate(rows, 1):
        out = {}
        for col in _CSV_COLUMNS:
            v: Any = i if col == "rank" else r.get(col)
            if col == "seeds":
                v = " ".join(str(s) for s in v)
            elif col == "config":
                v = json.dumps(v, sort_keys=True, default=str)
            out[col] = "" if v is None else v
        writer.writerow(out)
    return buf.getvalue()


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "±": r"$\pm$"}


def _tex_escape(text: str) -> str:
    r"""Escape LaTeX specials.

    >>> print(_tex_escape("fast_aed 97.5 ± 0.2 & 50%"))
    fast\_aed 97.5 $\pm$ 0.2 \& 50\%
    """
    return "".join(_TEX.get(c, c) for c in text)


def render_latex(rows: Sequence[Mapping], dataset: str, *, command: str | None,
                 commit: str | Mapping[str | None, int] | None) -> str:
    """A booktabs LaTeX table (model, family, accuracy, speed, size)."""
    header, body = _table(rows)
    keep = [i for i, h in enumerate(header) if h not in ("#", "Config", "Status", "Train (s)", "Design")]
    lines = [(f"% vadbench leaderboard: {dataset}; command: {command or 'unknown'}; "
              f"commit: {commits_text(commit).replace('`', '')}"),
             r"\begin{tabular}{ll" + "r" * (len(keep) - 2) + "}", r"\toprule",
             " & ".join(_tex_escape(header[i]) for i in keep) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex_escape(row[i]) for i in keep) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def write_leaderboard(records: Iterable[Mapping], out_dir: str | os.PathLike, dataset: str, *,
                      command: str | None, commit: str | Mapping[str | None, int] | None,
                      machine: Mapping | str | None = None,
                      latex: bool = False) -> dict[str, Path]:
    """Write ``<out_dir>/<dataset>.md`` and ``.csv`` (and ``.tex`` if ``latex``) atomically.

    Only records of ``dataset`` are used. ``commit`` is one commit or ``{commit: number of cells}``
    (:func:`vadbench.provenance.commits_of` of the records). ``machine`` (an info dict or a line)
    overrides the machines named in the records. Returns ``{"md": path,
    "csv": path[, "tex": path]}``. A ``dataset`` name that is not safe in a
    file name (:func:`vadbench.names.safe_name`) is refused before anything is written.
    """
    safe_name(dataset, what="dataset")
    recs = [r for r in records if (r.get("dataset") or {}).get("name") == dataset]
    rows = aggregate(recs)
    out = Path(out_dir)
    paths = {"md": out / f"{dataset}.md", "csv": out / f"{dataset}.csv"}
    atomic_write_text(paths["md"], render_markdown(rows, dataset, command=command, commit=commit,
                                                   machines=_machines(recs, machine)))
    atomic_write_text(paths["csv"], render_csv(rows))
    if latex:
        paths["tex"] = out / f"{dataset}.tex"
        atomic_write_text(paths["tex"], render_latex(rows, dataset, command=command, commit=commit))
    return paths
