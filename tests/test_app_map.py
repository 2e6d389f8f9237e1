"""The map of a large library: a seeded sample of points over a density layer, clicks still mapping to rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.analysis.project import project
from ui import charts


def _frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "row": np.arange(n),
            "track_id": [f"t{i // 10}" for i in range(n)],
            "name": [f"track {i // 10}.ogg" for i in range(n)],
            "section": np.arange(n) % 10,
            "start_s": (np.arange(n) % 10) * 15.0,
            "end_s": (np.arange(n) % 10) * 15.0 + 15.0,
            "cluster": rng.integers(0, 4, n),
        }
    )
    return frame, rng.normal(size=(n, 2))


def _scatter_points(fig) -> list[tuple[int, float, float]]:
    out = []
    for trace in fig.data:
        if trace.type == "scattergl":
            for custom, x, y in zip(trace.customdata, trace.x, trace.y):
                out.append((int(custom[0]), float(x), float(y)))
    return out


def test_a_large_map_draws_a_seeded_sample_whose_clicks_map_back_to_rows():
    frame, points = _frame(30_000)
    keep = [7, 29_999]
    fig = charts.cluster_scatter(
        frame, points, centroids=None, method="pca", explained=None, title="t", focus_row=12_345, seed=3, keep_rows=keep
    )
    drawn = _scatter_points(fig)
    rows = [r for r, _, _ in drawn]
    assert len(drawn) == charts.MAP_POINTS and len(set(rows)) == len(rows)
    assert {7, 29_999, 12_345} <= set(rows)  # the selection and the section being played are always drawn
    for r, x, y in drawn:  # customdata[0] is the row: a click finds the right section
        assert (x, y) == (points[r, 0], points[r, 1])
    assert [t.type for t in fig.data].count("heatmap") == 1  # every point as density
    again = charts.cluster_scatter(frame, points, centroids=None, method="pca", explained=None, title="t", seed=3)
    # the sample stays put: without the three kept rows, at most three other points change
    assert len(set(r for r, _, _ in _scatter_points(again)) - set(rows)) <= 3


def test_a_small_map_draws_every_point_and_no_density():
    frame, points = _frame(500)
    fig = charts.cluster_scatter(frame, points, centroids=None, method="pca", explained=None, title="t")
    assert sorted(r for r, _, _ in _scatter_points(fig)) == list(range(500))
    assert "heatmap" not in [t.type for t in fig.data]


def test_unplaced_rows_are_not_drawn_and_the_caption_says_what_was_sampled():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60_000, 4))
    proj = project(X, method="pca")  # over LARGE_ROWS: fitted on a sample
    caption = charts.sampling_caption(proj)
    assert "PCA fitted on 20,000 of 60,000 rows" in caption
    assert "Showing 20,000 of 60,000 sections as points" in caption and "the rest as density" in caption
    frame, _ = _frame(60_000)
    placed = np.zeros(60_000, bool)
    placed[::10] = True  # as t-SNE at scale: only a sample has positions
    pts = np.where(placed[:, None], proj.points, np.nan)
    fig = charts.cluster_scatter(frame, pts, centroids=None, method="tsne", explained=None, title="t", placed=placed, focus_row=1)
    rows = [r for r, _, _ in _scatter_points(fig)]
    assert len(rows) == 6_000 and placed[rows].all()
    assert not any(t.name == "playing" for t in fig.data)  # the played row has no position: no ring
    assert charts.sampling_caption(project(X[:1_000], method="pca")) == ""


def test_every_kind_of_clicked_mark_gives_a_row_or_none():
    """What a click hands ``on_chart_select``: only a section point's row counts; any other mark
    (a centre, a typed-array row sent as a dict, a bar, a heat-map cell, nothing) is ignored, never raised on."""
    from ui.controls import row_of_customdata

    frame, xy = _frame(30)
    fig = charts.cluster_scatter(frame, xy, centroids=np.zeros((4, 2)), method="pca", explained=None, title="t")
    section_marks = [t for t in fig.data if t.customdata is not None and t.name not in ("cluster centres",)]
    first = section_marks[0]
    assert row_of_customdata(list(first.customdata[0])) == int(first.customdata[0][0])
    centre = next(t for t in fig.data if t.name == "cluster centres")
    assert row_of_customdata(list(centre.customdata[0])) == -1  # then out of range: not a section
    assert row_of_customdata({"0": 7, "1": 3}) == 7
    assert row_of_customdata({"0": -1, "1": 2}) == -1
    for other in (None, [], {}, {"x": 1}, "a", ["", "x"], [float("nan")], 2.5, True, [None, 1], {"0": "nope"}):
        assert row_of_customdata(other) is None, other
