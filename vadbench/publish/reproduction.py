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


def render_reproduction(entries: Sequence[Mapping], dataset: str, *, machine: str = "",
                        claim: str = "") -> str:
    """Markdown: ours vs published (difference in points) per metric, speed, the deviations, and
    ``claim`` (a paragraph, :func:`claim_paragraph`) under the table."""
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
    if claim:
        lines += ["", claim]
    return "\n".join(lines) + "\n"


def claim_paragraph(rows: Sequence[Mapping], profile: Sequence[Mapping], claim: Mapping,
                    profile_name: str = "") -> str:
    """One paragraph: how the seed paper's claim fares, from the board's accuracy and one profiling run.

    ``rows`` are leaderboard rows (fractions), ``profile`` the records of one
    ``vadbench profile`` run (its ``--json``), ``claim`` the suite's ``[claim]``
    table: ``student``, its ``teachers`` and the ``competitor`` it must outrun.
    The paper's claim: the student at least 7x the competitor and 28x its teachers
    end to end, at an accuracy comparable to theirs. Models missing from either
    source are named as missing, not guessed.

    >>> rows = [{"model": "s", "micro_auc_mean": 0.85, "micro_auc_std": 0.02, "n_seeds": 3},
    ...         {"model": "t", "micro_auc_mean": 0.99, "micro_auc_std": 0.0, "n_seeds": 3},
    ...         {"model": "c", "micro_auc_mean": 0.91, "micro_auc_std": 0.01, "n_seeds": 3}]
    >>> prof = [{"model": "s", "fps_e2e": 2000.0}, {"model": "t", "fps_e2e": 0.5},
    ...         {"model": "c", "fps_e2e": 100.0}]
    >>> text = claim_paragraph(rows, prof, {"student": "s", "teachers": ["t"], "competitor": "c"})
    >>> [part in text for part in ("85.0 ± 2.0", "14.0 points below `t`", "20.0x `c`", "4000x")]
    [True, True, True, True]
    >>> text.split("the student is ")[1] if "the student is" in text else "no other fast model"
    'no other fast model'
    >>> text.split("To 95% ")[1]
    'within 3 points of `t`: 11.0 points to go. To 97% within 1.5 points of `t`: 12.5 points to go.'
    >>> rows.append({"model": "m", "micro_auc_mean": 0.92, "n_seeds": 1})
    >>> prof.append({"model": "m", "fps_e2e": 900.0})
    >>> text = claim_paragraph(rows, prof, {"student": "s", "teachers": ["t"], "competitor": "c"})
    >>> text.split("speed in that run, ")[1][:60]
    'the most accurate is `m` (92.0); the student is 7.0 points b'

    >>> claim_paragraph(rows, prof[:1], {"student": "s", "teachers": ["t"]}).split("Not yet: ")[1]
    '`t` lack a leaderboard row or a profiling record.'
    """
    by_row = {r["model"]: r for r in rows}
    fps = {p["model"]: float(p["fps_e2e"]) for p in profile}
    student, teachers, rival = claim["student"], list(claim.get("teachers", [])), claim.get("competitor")
    head = "**The seed's claim, measured.**"
    named = [student, *teachers, *([rival] if rival else [])]
    missing = ", ".join(f"`{m}`" for m in named if m not in by_row or m not in fps)
    if missing:
        return f"{head} Not yet: {missing} lack a leaderboard row or a profiling record."
    row = by_row[student]

    def acc(m: str) -> float:
        return 100 * by_row[m]["micro_auc_mean"]

    gaps = ", ".join(f"{acc(t) - acc(student):.1f} points below `{t}` ({acc(t):.1f})" for t in teachers)
    slowest = min(teachers, key=lambda t: fps[t])
    run = f" (`{profile_name}`)" if profile_name else ""
    ratios = []
    if rival:
        ratios.append(f"{fps[student] / fps[rival]:.1f}x `{rival}` ({format_fps(fps[rival])}; "
                      "the paper claims at least 7x)")
    ratios.append(f"{fps[student] / fps[slowest]:.0f}x its slowest teacher `{slowest}` "
                  f"({format_fps(fps[slowest])}, detection included; the paper claims 28-62x)")
    accuracy = format_pct(row["micro_auc_mean"], row.get("micro_auc_std"))
    text = (f"{head} `{student}` reaches {accuracy} micro AUC ({row.get('n_seeds')} seeds), {gaps}. "
            f"In one profiling run{run} it runs at {fps[student]:,.0f} frames/s end to end "
            f"(the paper's figure is 1,480): {' and '.join(ratios)}.")
    if rival:  # the fast corner of the Pareto plot: who else is at least 7x the competitor's speed
        fast = [m for m in fps if m not in (student, rival) and m in by_row and fps[m] >= 7 * fps[rival]]
        if fast:
            best = max(fast, key=acc)
            side = "ahead of" if acc(student) > acc(best) else "behind"
            text += (f" Of the other models at least 7x `{rival}`'s speed in that run, the most accurate is "
                     f"`{best}` ({acc(best):.1f}); the student is {abs(acc(student) - acc(best)):.1f} points "
                     f"{side} it.")
    top = max(teachers, key=acc)
    for goal, within in ((95.0, 3.0), (97.0, 1.5)):
        short = max(goal - acc(student), acc(top) - within - acc(student), 0.0)
        text += (f" To {goal:.0f}% within {within:g} points of `{top}`: "
                 + (f"{short:.1f} points to go." if short > 0 else "reached."))
    return text
