"""Chart builders: Plotly figures with titles, axis labels and legends a DJ can read.

Every builder takes engine records or plain frames and returns a figure; it
computes nothing but what drawing needs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.describe.phrases import PHRASE_LABELS, phrase_text
from engine.mixing.crates import CLUSTER_COLOURS

#: One colour per cluster id (repeats after 12), the engine's, so DJ software's hot cues match the map; noise (-1) is grey.
PALETTE = CLUSTER_COLOURS
NOISE = "#8a8a8a"

SQUEEZE_NOTE = (
    "A 2-D map squeezes many dimensions into two: sections drawn close together may differ in ways the map "
    "cannot show, and far-apart ones may be closer than they look. Trust the clusters and the distances in "
    "the tables over the picture."
)


#: One colour per phrase label (engine.describe.phrases), for a map coloured by phrase; no label is grey.
PHRASE_COLOURS = {"intro": "#7ed6df", "build": "#f8e71c", "drop": "#ff4d4d", "breakdown": "#4a90e2", "outro": "#9013fe"}
#: What a map's colours can show: each section's cluster, or its phrase label.
COLOUR_BY = {"cluster": "cluster", "phrase": "phrase label (intro, build, drop, ...)"}

#: Most points a map draws one by one; beyond it, a seeded sample of this many plus a density layer of all.
MAP_POINTS = 20_000
#: Cells per axis of that density layer.
DENSITY_BINS = 120


def map_rows(n_rows: int, *, placed: np.ndarray | None = None, max_points: int = MAP_POINTS, seed: int = 42, keep=()) -> np.ndarray:
    """Row positions a map draws as points: every placed row, or a seeded sample of ``max_points`` of them.

    Rows in ``keep`` (the section being listened to, a selection) are always
    in the sample, so clicking and selecting keep working; the rest of the
    sample is the first rows of one seeded permutation, so it stays put when
    ``keep`` changes.

    Returns
    -------
    np.ndarray [shape=(n_drawn,)], int64
        Sorted row positions.
    """
    rows = np.arange(n_rows) if placed is None else np.flatnonzero(placed)
    if len(rows) <= max_points:
        return rows.astype(np.int64)
    keep = np.intersect1d(np.asarray(list(keep), dtype=np.int64), rows)[:max_points]
    order = np.random.default_rng(seed).permutation(rows)
    fill = order[~np.isin(order, keep)][: max_points - len(keep)]
    return np.sort(np.concatenate([keep, fill])).astype(np.int64)


def map_note(n_placed: int, n_drawn: int, *, what: str = "section") -> str:
    """The sentence under a sampled map ("" when every placed point is drawn)."""
    if n_drawn >= n_placed:
        return ""
    return f"Showing {n_drawn:,} of {n_placed:,} {what}s as points (a seeded sample), the rest as density (grey)."


def sampling_caption(projection, *, what: str = "section", max_points: int = MAP_POINTS) -> str:
    """What the map of a large library fitted and draws, in words ("" when it fitted and draws every row).

    Parameters
    ----------
    projection : engine.analysis.project.Projection
    what : str
        What a point is, for the sentence.
    max_points : int
        As given to :func:`cluster_scatter`.
    """
    n_placed = int(projection.placed.sum())
    parts = (f"{projection.sample_note}." if projection.sample_note else "", map_note(n_placed, min(n_placed, max_points), what=what))
    return " ".join(p for p in parts if p)


def _density(points: np.ndarray, *, name: str) -> go.Heatmap:
    """Counts of ``points`` [shape=(n, 2)] on a grid, as a grey heat map under the points (empty cells clear)."""
    x, y = points[:, 0], points[:, 1]
    counts, xe, ye = np.histogram2d(x, y, bins=DENSITY_BINS)
    z = np.log1p(counts.T)
    z[counts.T == 0] = np.nan
    return go.Heatmap(
        z=z,
        x=(xe[:-1] + xe[1:]) / 2,
        y=(ye[:-1] + ye[1:]) / 2,
        colorscale=[[0.0, "rgba(160,160,160,0.15)"], [1.0, "rgba(220,220,220,0.85)"]],
        showscale=False,
        hoverinfo="skip",
        name=name,
        showlegend=True,
        zsmooth="best",
    )


def cluster_colour(c: int) -> str:
    return NOISE if c < 0 else PALETTE[c % len(PALETTE)]


def cluster_name(c: int) -> str:
    return "noise (no cluster)" if c < 0 else f"cluster {c}"


def mmss(seconds: float) -> str:
    """Seconds as m:ss."""
    s = int(round(max(0.0, float(seconds))))
    return f"{s // 60}:{s % 60:02d}"


def section_label(name: str, section: int, start_s: float, end_s: float) -> str:
    return f"{name} · section {int(section)} ({mmss(start_s)}–{mmss(end_s)})"


def _layout(fig: go.Figure, *, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"title": {"text": "Cluster"}, "traceorder": "normal"},
    )
    return fig


def axis_titles(method: str, explained: tuple[float, ...] | None) -> tuple[str, str]:
    """Axis titles for a projection: PCA names the share of variance each axis keeps."""
    if method == "pca" and explained:
        return tuple(f"PC {i + 1} ({v:.0%} of the spread)" for i, v in enumerate(explained[:2]))  # type: ignore[return-value]
    nice = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PC"}.get(method, method)
    return f"{nice} 1", f"{nice} 2"


def cluster_scatter(
    frame: pd.DataFrame,
    points: np.ndarray,
    *,
    centroids: np.ndarray | None,
    method: str,
    explained: tuple[float, ...] | None,
    title: str,
    focus_row: int | None = None,
    what: str = "section",
    placed: np.ndarray | None = None,
    max_points: int = MAP_POINTS,
    seed: int = 42,
    keep_rows=(),
    colour_by: str = "cluster",
) -> go.Figure:
    """Sections in 2-D, coloured by cluster (or phrase label), with centroids; ``customdata[0]`` is each point's row.

    More than ``max_points`` placed points: a seeded sample of them is drawn
    (with ``focus_row`` and ``keep_rows`` always in it) over a density layer
    of every placed point; :func:`map_note` words it.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per point with ``row``, ``name``, ``section``, ``start_s``, ``end_s``, ``cluster``.
    points : np.ndarray [shape=(n, 2)]
    centroids : np.ndarray [shape=(k, 2)] or None
    method : str
        Projection method, for the axis titles.
    explained : tuple of float or None
        PCA's explained variance ratios.
    focus_row : int, optional
        A row to ring (the section being listened to).
    what : str
        What a point is ("section" or "piece"), for the hover text.
    placed : np.ndarray [shape=(n,)], bool, optional
        Rows with a position (``Projection.placed``); default every row.
    max_points, seed : int
        Most points drawn one by one, and the seed of the sample beyond it.
    keep_rows : iterable of int
        Rows always drawn (e.g. the current selection).
    colour_by : {"cluster", "phrase"}
        One colour per cluster, or per phrase label (``phrase_label`` column; a frame without it
        is coloured by cluster). The hover text names both either way.
    """
    fig = go.Figure()
    if placed is None:
        placed = np.isfinite(points[:, :2]).all(axis=1)
    keep = [r for r in (*keep_rows, *([] if focus_row is None else [focus_row])) if 0 <= r < len(frame)]
    drawn = map_rows(len(frame), placed=placed, max_points=max_points, seed=seed, keep=keep)
    if len(drawn) < int(placed.sum()):
        fig.add_trace(_density(points[placed], name=f"density of every {what.split()[0]}"))
    by_phrase = colour_by == "phrase" and "phrase_label" in frame.columns
    for trace in (_phrase_traces if by_phrase else _cluster_traces)(frame.iloc[drawn], points[drawn], what=what):
        fig.add_trace(trace)
    if centroids is not None and len(centroids):
        fig.add_trace(_centre_trace(centroids, neutral=by_phrase))
    if focus_row is not None and 0 <= focus_row < len(points) and placed[focus_row]:
        fig.add_trace(_focus_trace(points[focus_row], focus_row))
    xt, yt = axis_titles(method, explained)
    fig.update_xaxes(title_text=xt, zeroline=False)
    fig.update_yaxes(title_text=yt, zeroline=False)
    fig.update_layout(dragmode="zoom")  # a click selects only in zoom or pan mode; box and lasso are in the toolbar
    _layout(fig, title=title, height=560)
    fig.update_layout(
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "x": 0, "title": {"text": "Phrase" if by_phrase else ""}},
        margin={"l": 10, "r": 10, "t": 50, "b": 70},
    )
    return fig


def _hover_data(frame: pd.DataFrame) -> np.ndarray:
    """Per point: row, name, section, time span, cluster, a tempo/key/energy line and a phrase-label line
    ("" when unknown)."""
    when = [f"{mmss(a)}–{mmss(b)}" for a, b in zip(frame["start_s"], frame["end_s"])]
    # tempo, key and energy, when the page added them (ui.mix.add_descriptors)
    if {"bpm", "camelot", "key_short", "energy_level"} <= set(frame.columns):
        dj = [
            "" if pd.isna(b) else f"<br>{b:.1f} BPM · {k} ({c}) · energy {int(e)}/10"
            for b, k, c, e in zip(frame["bpm"], frame["key_short"], frame["camelot"], frame["energy_level"].fillna(0))
        ]
    else:
        dj = [""] * len(frame)
    phrase = [f"<br>phrase: {t}" if t else "" for t in phrase_texts(frame)]
    labels = frame["cluster"].to_numpy()
    return np.column_stack(
        [frame["row"].to_numpy(), frame["name"].astype(str).to_numpy(), frame["section"].to_numpy(), np.array(when), labels, np.array(dj),
         np.array(phrase, dtype=object)]
    )  # fmt: skip


def phrase_texts(frame: pd.DataFrame) -> list[str]:
    """Each row's phrase label and confidence, ``"drop 0.82"`` ("" when unknown or the frame has none)."""
    if "phrase_label" not in frame.columns:
        return [""] * len(frame)
    conf = frame["phrase_confidence"] if "phrase_confidence" in frame.columns else [np.nan] * len(frame)
    return [phrase_text(a, b) for a, b in zip(frame["phrase_label"], conf)]


_HOVER = "<b>%{customdata[1]}</b><br>{what} %{customdata[2]} · %{customdata[3]}%{customdata[5]}%{customdata[6]}<br>cluster %{customdata[4]}<extra></extra>"


def _point_trace(points: np.ndarray, custom: np.ndarray, idx: np.ndarray, *, name: str, colour: str, size: int, what: str) -> go.Scattergl:
    return go.Scattergl(
        x=points[idx, 0],
        y=points[idx, 1],
        mode="markers",
        name=name,
        marker={"color": colour, "size": size, "line": {"width": 0.5 if size > 5 else 0, "color": "#111"}},
        customdata=custom[idx],
        hovertemplate=_HOVER.replace("{what}", what),
    )


def _cluster_traces(frame: pd.DataFrame, points: np.ndarray, *, what: str) -> list[go.Scattergl]:
    """One marker trace per cluster of the drawn points."""
    labels = frame["cluster"].to_numpy()
    custom = _hover_data(frame)
    size = 9 if len(frame) <= 5_000 else 5  # many points: smaller, unringed markers
    return [
        _point_trace(points, custom, np.flatnonzero(labels == c), name=cluster_name(int(c)), colour=cluster_colour(int(c)), size=size, what=what)
        for c in sorted(set(labels.tolist()))
    ]


def _phrase_traces(frame: pd.DataFrame, points: np.ndarray, *, what: str) -> list[go.Scattergl]:
    """One marker trace per phrase label of the drawn points (intro to outro, then those without one)."""
    labels = frame["phrase_label"].fillna("").astype(str).to_numpy()
    custom = _hover_data(frame)
    size = 9 if len(frame) <= 5_000 else 5
    traces = []
    for label in (*PHRASE_LABELS, ""):
        idx = np.flatnonzero(labels == label)
        if len(idx):
            traces.append(_point_trace(points, custom, idx, name=label or "no phrase label", colour=PHRASE_COLOURS.get(label, NOISE), size=size, what=what))
    return traces


def _centre_trace(centroids: np.ndarray, *, neutral: bool = False) -> go.Scatter:
    """The cluster centres that have a position, as crosses in their clusters' colours (white when the
    points are coloured by something else, so no centre reads as a phrase label)."""
    ok = np.isfinite(centroids).all(axis=1)
    ids = np.flatnonzero(ok)
    return go.Scatter(
        x=centroids[ok, 0],
        y=centroids[ok, 1],
        mode="markers",
        name="cluster centres",
        marker={
            "symbol": "x",
            "size": 16,
            "color": ["#ffffff" if neutral else cluster_colour(int(c)) for c in ids],
            "line": {"width": 2, "color": "#111" if neutral else "#fff"},
        },
        customdata=np.column_stack([np.full(len(ids), -1), ids]),
        hovertemplate="centre of cluster %{customdata[1]}<extra></extra>",
    )


def _focus_trace(point: np.ndarray, focus_row: int) -> go.Scatter:
    """A ring around the section being listened to."""
    return go.Scatter(
        x=[point[0]],
        y=[point[1]],
        mode="markers",
        name="playing",
        marker={"symbol": "circle-open", "size": 22, "color": "#ffffff", "line": {"width": 3}},
        customdata=[[focus_row, "", "", "", "", "", ""]],
        hoverinfo="skip",
    )


def k_choice(sweep, *, current_k: int) -> go.Figure:
    """Five small charts over k with the suggested and the current k marked."""
    ks = sweep.ks
    titles = (
        "Elbow: spread inside clusters (lower: tighter)",
        "Silhouette (higher: better separated)",
        "Davies–Bouldin (lower is better)",
        "Calinski–Harabasz (higher is better)",
        "Stability when resampled (higher: steadier)",
    )
    cells = ((1, 1), (1, 2), (1, 3), (2, 1), (2, 2))
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles, horizontal_spacing=0.07, vertical_spacing=0.2)
    series = (sweep.inertia, sweep.silhouette, sweep.davies_bouldin, sweep.calinski_harabasz, sweep.stability)
    colour = "#4a90e2"
    for i, ((r, c), ys) in enumerate(zip(cells, series), start=1):
        error = None
        if i == 5 and np.isfinite(sweep.stability_std).any():
            error = {"type": "data", "array": sweep.stability_std, "visible": True}
        fig.add_trace(
            go.Scatter(x=ks, y=ys, mode="lines+markers", line={"color": colour}, error_y=error, showlegend=False,
                       hovertemplate="k=%{x}: %{y:.3f}<extra></extra>"),
            row=r,
            col=c,
        )
        fig.add_vline(x=sweep.suggested_k, line={"color": "#f5a623", "dash": "dash"}, row=r, col=c)
        if current_k != sweep.suggested_k and ks.min() <= current_k <= ks.max():
            fig.add_vline(x=current_k, line={"color": "#bbbbbb", "dash": "dot"}, row=r, col=c)
        fig.update_xaxes(title_text="k (clusters)", dtick=1, row=r, col=c)
    if sweep.knee is not None:
        j = int(np.flatnonzero(ks == sweep.knee)[0])
        fig.add_trace(
            go.Scatter(x=[sweep.knee], y=[sweep.inertia[j]], mode="markers", marker={"size": 14, "symbol": "star", "color": "#f5a623"},
                       name="knee", showlegend=False, hovertemplate="knee at k=%{x}<extra></extra>"),
            row=1,
            col=1,
        )
    if sweep.n_bootstrap:
        fig.add_hline(y=sweep.stable_threshold, line={"color": "#888", "dash": "dot"}, row=2, col=2)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title={"text": f"Choosing k: orange dashes mark the suggested k={sweep.suggested_k}, grey dots the k in use", "x": 0},
        height=560,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    return fig


def track_bars(frame: pd.DataFrame, *, title: str = "Sections of each track, by cluster") -> go.Figure:
    """Horizontal stacked bars: for each track, how many of its sections fall in each cluster."""
    counts = pd.crosstab(frame["name"].astype(str), frame["cluster"])
    counts = counts.loc[counts.sum(axis=1).sort_values().index]
    fig = go.Figure()
    for c in counts.columns:
        fig.add_trace(
            go.Bar(
                y=counts.index,
                x=counts[c],
                orientation="h",
                name=cluster_name(int(c)),
                marker_color=cluster_colour(int(c)),
                hovertemplate="%{y}<br>%{x} sections in " + cluster_name(int(c)) + "<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="sections")
    fig.update_yaxes(title_text="", automargin=True)
    return _layout(fig, title=title, height=max(300, 32 * len(counts) + 120))


def shap_waterfall(values, data, names, *, base: float, predicted: float, cluster: int, top: int = 10) -> go.Figure:
    """A section's SHAP waterfall: from the average probability of its cluster to this section's."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-np.abs(values), kind="stable")
    shown = order[:top]
    rest = values[order[top:]].sum() if len(order) > top else 0.0
    labels = [f"{names[i]} = {data[i]:.3g}" for i in shown]
    deltas = [float(values[i]) for i in shown]
    if len(order) > top:
        labels.append(f"{len(order) - top} other features")
        deltas.append(float(rest))
    labels, deltas = labels[::-1], deltas[::-1]
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["average section"] + labels + ["this section"],
            x=[base] + deltas + [predicted],
            measure=["absolute"] + ["relative"] * len(deltas) + ["total"],
            base=0,
            increasing={"marker": {"color": cluster_colour(cluster)}},
            decreasing={"marker": {"color": "#6c7a89"}},
            totals={"marker": {"color": "#dddddd"}},
            connector={"line": {"color": "#555"}},
            hovertemplate="%{y}: %{x:+.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=f"how likely the surrogate model thinks it is {cluster_name(cluster)}")
    fig.update_yaxes(automargin=True)
    fig.update_layout(showlegend=False)
    return _layout(fig, title=f"Why this section is in {cluster_name(cluster)} (SHAP)", height=80 + 28 * (len(labels) + 2))


def importance_bars(ranking, *, cluster: int | None, top: int = 12) -> go.Figure:
    """Mean |SHAP| per feature for one cluster (or overall): what sets it apart."""
    items = list(ranking)[:top][::-1]
    colour = cluster_colour(cluster) if cluster is not None else "#4a90e2"
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[n for n, _ in items],
            orientation="h",
            marker_color=colour,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="mean |SHAP| (share of probability it moves)")
    fig.update_yaxes(automargin=True)
    fig.update_layout(showlegend=False)
    what = cluster_name(cluster) if cluster is not None else "all clusters"
    return _layout(fig, title=f"What sets {what} apart", height=80 + 26 * len(items) + 40)


_NOTE_TICKS = (32.70, 65.41, 130.81, 261.63, 523.25, 1046.50, 2093.00, 4186.01, 8372.02, 16744.04)
_NOTE_NAMES = ("C1", "C2", "C3", "C4 (middle C)", "C5", "C6", "C7", "C8", "C9", "C10")


def spectrogram(spec, *, title: str) -> go.Figure:
    """A log-frequency spectrogram: time across, pitch up, loudness as colour."""
    freqs = spec.freqs_hz
    idx = np.arange(len(freqs))
    tickvals, ticktext = [], []
    for f, n in zip(_NOTE_TICKS, _NOTE_NAMES):
        if freqs[0] <= f <= freqs[-1]:
            tickvals.append(float(np.interp(np.log2(f), np.log2(freqs), idx)))
            ticktext.append(f"{f:,.0f}")
    fig = go.Figure(
        go.Heatmap(
            z=spec.db,
            x=spec.times_s,
            y=idx,
            colorscale="Magma",
            zmin=-spec.top_db,
            zmax=0,
            colorbar={"title": {"text": "dB"}, "thickness": 10},
            customdata=np.broadcast_to(freqs[:, None], spec.db.shape),
            hovertemplate="%{x:.1f} s · %{customdata:.0f} Hz: %{z:.0f} dB<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="Hz (log scale; C notes)", tickvals=tickvals, ticktext=ticktext)
    fig.update_xaxes(title_text="seconds into the section")
    fig.update_layout(showlegend=False)
    return _layout(fig, title=title, height=300)


def contingency(table: pd.DataFrame, *, x_title: str, y_title: str, title: str) -> go.Figure:
    """A contingency table as a heat map with the counts written in."""
    z = table.to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in table.columns],
            y=[str(r) for r in table.index],
            colorscale="Blues",
            text=z,
            texttemplate="%{text}",
            colorbar={"title": {"text": "sections"}},
            hovertemplate=y_title + " %{y}, " + x_title + " %{x}: %{z} sections<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=x_title, type="category")
    fig.update_yaxes(title_text=y_title, type="category", autorange="reversed")
    return _layout(fig, title=title, height=360)


def agreement_bars(frame: pd.DataFrame, *, key: str, title: str) -> go.Figure:
    """Right / wrong / unsure counts per cluster or reviewer."""
    fig = go.Figure()
    colours = {"right": "#3ae374", "wrong": "#ff4d4d", "unsure": "#8a8a8a"}
    x = [cluster_name(int(v)) if key == "cluster" else str(v) for v in frame[key]]
    for verdict, colour in colours.items():
        fig.add_trace(go.Bar(x=x, y=frame[verdict], name=verdict, marker_color=colour))
    fig.update_traces(width=0.5)
    fig.update_layout(barmode="stack", legend={"title": {"text": "verdict"}, "traceorder": "normal"})
    # counts are whole sections: a tick step under 1 would print 0, 0, 0, 1, 1 for a count of 1
    tallest = int(frame[list(colours)].sum(axis=1).max()) if len(frame) else 1
    fig.update_yaxes(title_text="sections judged", tickformat=",d", tick0=0, dtick=max(1, int(np.ceil(tallest / 6))), rangemode="tozero")
    fig.update_xaxes(title_text=key)
    fig.update_layout(title={"text": title, "x": 0}, height=320, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def heat_pair(mean_input: np.ndarray, heat: np.ndarray, *, title: str, seconds: float) -> go.Figure:
    """A cluster's mean input spectrogram beside its mean Grad-CAM activation (time across, mel bands up)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("average input (mel spectrogram)", "where the network looked (Grad-CAM)"))
    t = np.linspace(0, seconds, mean_input.shape[0])
    fig.add_trace(go.Heatmap(z=mean_input.T, x=t, colorscale="Magma", showscale=False,
                             hovertemplate="%{x:.1f} s · mel band %{y}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=heat.T, x=t, colorscale="Inferno", zmin=0, zmax=1, colorbar={"title": {"text": "activation"}},
                             hovertemplate="%{x:.1f} s · mel band %{y}: %{z:.2f}<extra></extra>"), row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="seconds into the piece", row=1, col=col)
        fig.update_yaxes(title_text="mel band (low → high)", row=1, col=col)
    fig.update_annotations(font_size=11)
    fig.update_layout(title={"text": title, "x": 0}, height=300, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig
