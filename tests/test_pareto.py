"""The Pareto front on hand-made points, and the plot files."""

import math

import pytest

from vadbench.publish.pareto import load_literature, pareto_front, plot_pareto


@pytest.mark.parametrize("points, expected", [
    ([], []),
    ([(3.0, 0.5)], [0]),
    ([(1, 1), (5, 9), (2, 3), (5, 9 - 1e-9)], [1]),              # all dominated by one
    ([(1, 9), (2, 8), (3, 7)], [0, 1, 2]),                       # a clean trade-off, sorted by x
    ([(3, 7), (1, 9), (2, 8)], [1, 2, 0]),                       # input order does not matter
    ([(2, 8), (2, 8), (1, 1)], [0, 1]),                          # exact duplicates: both kept
    ([(2, 5), (2, 7)], [1]),                                     # tie on x: the higher y wins
    ([(1, 7), (4, 7)], [1]),                                     # tie on y: the faster wins
    ([(1, 9), (2, 8), (2, 8), (0.5, 9)], [0, 1, 2]),             # duplicates on a longer front
])
def test_pareto_front(points, expected):
    assert pareto_front(points) == expected


def test_pareto_front_skips_missing_values():
    assert pareto_front([(None, 1.0), (1.0, math.nan), (1.0, 0.5)]) == [2]


def test_front_points_are_not_dominated_and_the_rest_are():
    pts = [(x, (x * 37) % 11) for x in range(1, 30)]
    front = set(pareto_front(pts))
    for i, (x, y) in enumerate(pts):
        dominated = any(a >= x and b >= y and (a, b) != (x, y) for a, b in pts)
        assert (i in front) == (not dominated)


ROWS = [
    {"model": "student", "family": "student", "fps_e2e_mean": 900.0, "micro_auc_mean": 0.93},
    {"model": "teacher", "family": "teacher", "fps_e2e_mean": 20.0, "micro_auc_mean": 0.97},
    {"model": "slow-bad", "family": "baseline", "fps_e2e_mean": 10.0, "micro_auc_mean": 0.70},
    {"model": "no-speed", "family": "baseline", "fps_e2e_mean": None, "micro_auc_mean": 0.80},
]


def test_plot_writes_png_and_svg(tmp_path):
    lit = [{"method": "SSMTL", "micro_auc": 97.5, "fps": 21.0, "hardware": "GTX 1080", "source": "README"},
           {"method": "NoFps", "micro_auc": 96.0, "fps": None, "hardware": None, "source": "paper"}]
    paths = plot_pareto(ROWS, out_base=tmp_path / "synthetic_pareto", title="synthetic",
                        machine={"cpu": "test CPU", "torch": "x"}, literature=lit)
    assert [p.name for p in paths] == ["synthetic_pareto.png", "synthetic_pareto.svg"]
    png, svg = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    text = svg.read_text()
    assert "<svg" in text and "test CPU" in text
    assert "reported elsewhere" in text and "no-speed" in text and "NoFps" in text  # footnote lists skipped
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_plot_with_nothing_to_draw(tmp_path):
    paths = plot_pareto([], out_base=tmp_path / "empty", title="empty")
    assert all(p.stat().st_size > 0 for p in paths)


def test_load_literature(tmp_path):
    p = tmp_path / "literature.csv"
    p.write_text("method,venue,year,dataset,micro_auc,macro_auc,rbdc,tbdc,fps,hardware,source,notes\n"
                 "A,CVPR,2021,ped2,97.5,,,,21,GTX,src-a,\n"
                 "B,WACV,2022,avenue,85.3,,,,,,src-b,aggregator\n")
    rows = load_literature(p, "ped2")
    assert len(rows) == 1 and rows[0]["fps"] == 21.0 and rows[0]["macro_auc"] is None
    p.write_text("method,dataset\nA,ped2\n")
    with pytest.raises(Exception, match="lacks the column"):
        load_literature(p, "ped2")


def test_labels_of_clustered_points_do_not_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from vadbench.publish.pareto import place_labels

    fig = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    points = [*((1000 + 15 * i, 84 + 0.3 * (i % 3), f"student-ablation-{i}") for i in range(6)),
              (10, 60, "far")]
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    texts = place_labels(fig, ax, points)
    fig.canvas.draw()
    # the text alone (an annotation's extent also covers its leader line)
    boxes = [Text.get_window_extent(t, fig.canvas.get_renderer()) for t in texts]
    assert len(boxes) == 7
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
