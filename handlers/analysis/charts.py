"""Pictures for chat: matplotlib on the Agg backend, drawn in a worker thread, each with a text summary.

Figures are built with `matplotlib.figure.Figure` (no pyplot global state) and drawing is serialised
by a lock, so charts are safe to render from the thread pool while the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ParamSpec

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import numpy as np
import textalloc
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

P = ParamSpec("P")
_LOCK = threading.RLock()
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BAR_FILL = 0.85
GRAPH_MIN_SIDE, GRAPH_MAX_SIDE = 8.0, 15.0
LABEL_ROOM = 0.08  # room around the nodes for labels, as a share of the drawing's width


@dataclass(frozen=True)
class Picture:
    """A PNG and the words that say what it shows (for screen readers and the console)."""

    filename: str
    png: bytes
    summary: str


async def render(fn: Callable[P, Picture], *args: P.args, **kwargs: P.kwargs) -> Picture:
    """Draw a picture off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with _LOCK:
        FigureCanvasAgg(fig)
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def heatmap(matrix: np.ndarray, title: str, summary: str, filename: str = "activity.png") -> Picture:
    """A weekday × hour heatmap of counts."""
    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    im = ax.imshow(matrix, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour (UTC)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="posts")
    return Picture(filename, _png(fig), summary)


def _widths(x: Sequence[datetime]) -> list[timedelta]:
    """Each bar as wide as its own bin (months and years differ), with a little air between bars."""
    if len(x) < 2:
        return [timedelta(hours=1)] * len(x)
    steps = [b - a for a, b in itertools.pairwise(x)]
    return [s * BAR_FILL for s in [*steps, steps[-1]]]


def time_series(
    times: Sequence[datetime],
    series: dict[str, Sequence[float]],
    title: str,
    summary: str,
    *,
    ylabel: str = "posts",
    marks: Sequence[datetime] = (),
    filename: str = "chart.png",
    bars: str | None = None,
    zone: tzinfo = UTC,
) -> Picture:
    """Lines (and optionally one series as bars) over time, with vertical marks at notable points.

    The date axis labels itself for the span shown (hours, days, months or years) in `zone`.
    """
    fig = Figure(figsize=(9, 4))
    ax = fig.add_subplot()
    x = list(times)
    for name, values in series.items():
        if name == bars:
            ax.bar(x, values, width=_widths(x), align="edge", alpha=0.35, label=name)
        else:
            ax.plot(x, values, marker="." if len(x) < 60 else None, label=name)
    for mark in marks:
        ax.axvline(mark, color="red", linestyle="--", linewidth=1)
    locator = mdates.AutoDateLocator(tz=zone, minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(loc="upper left", fontsize=8)
    return Picture(filename, _png(fig), summary)


@dataclass(frozen=True)
class Legend:
    """What the node colours of a graph mean: colour index → label."""

    entries: dict[int, str]


def _node_size(count: int) -> tuple[float, float]:
    """Figure side (inches) and label font size for a graph of `count` nodes: more room as it grows."""
    side = min(GRAPH_MAX_SIDE, GRAPH_MIN_SIDE + count / 25)
    return side, 9.0 if count <= 40 else 8.0


def graph_figure(
    positions: dict[Any, tuple[float, float]],
    edges: Sequence[tuple[Any, Any, float]],
    colours: dict[Any, int],
    sizes: dict[Any, float],
    labels: dict[Any, str],
    title: str,
    legend: Legend | None = None,
) -> Figure:
    """The node-link drawing as a figure (labels placed so that none overprints another, a node or an edge)."""
    with _LOCK:
        return _graph_figure(positions, edges, colours, sizes, labels, title, legend)


def _graph_figure(
    positions: dict[Any, tuple[float, float]],
    edges: Sequence[tuple[Any, Any, float]],
    colours: dict[Any, int],
    sizes: dict[Any, float],
    labels: dict[Any, str],
    title: str,
    legend: Legend | None,
) -> Figure:
    side, font = _node_size(len(positions))
    fig = Figure(figsize=(side, side), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    cmap = matplotlib.colormaps["tab20"]
    max_w = max((w for _, _, w in edges), default=1.0) or 1.0
    for u, v, w in edges:
        (x1, y1), (x2, y2) = positions[u], positions[v]
        ax.plot([x1, x2], [y1, y2], color="#888888", linewidth=0.3 + 1.7 * w / max_w, alpha=0.35, zorder=1)
    nodes = list(positions)
    xs = np.array([positions[n][0] for n in nodes], dtype=float)
    ys = np.array([positions[n][1] for n in nodes], dtype=float)
    ax.scatter(xs, ys, s=[sizes.get(n, 10.0) for n in nodes], c=[cmap(colours.get(n, 0) % 20) for n in nodes],
               edgecolors="white", linewidths=0.5, zorder=2)
    ax.set_title(title)
    if legend is not None and legend.entries:
        handles = [Line2D([], [], marker="o", linestyle="", markersize=8, color=cmap(index % 20), label=text)
                   for index, text in legend.entries.items()]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), frameon=False,
                   fontsize=font, title="entity types", title_fontsize=font)
    fig.canvas.draw()  # settle the layout (title, legend) first: labels are placed in the final axes
    fig.set_layout_engine("none")
    labelled = [n for n in labels if n in positions]
    if labelled:
        _place_labels(ax, positions, labelled, [labels[n] for n in labelled], edges, font)
    return fig


def _place_labels(ax: Any, positions: dict[Any, tuple[float, float]], nodes: list[Any], texts: list[str],
                  edges: Sequence[tuple[Any, Any, float]], font: float) -> None:
    """Labels beside their nodes, each where it overlaps no other label, node or edge (textalloc); a label
    with no such place is left out, so callers list the labels that matter most first."""
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys))
    pad = LABEL_ROOM * span if span else 1.0
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    textalloc.allocate(
        ax, [positions[n][0] for n in nodes], [positions[n][1] for n in nodes], texts,
        x_scatter=xs, y_scatter=ys,
        x_lines=[[positions[u][0], positions[v][0]] for u, v, _ in edges],
        y_lines=[[positions[u][1], positions[v][1]] for u, v, _ in edges],
        textsize=font, draw_all=False, linecolor="#b0b7c3", linewidth=0.6, margin=0.004, min_distance=0.01,
        max_distance=0.2, nbr_candidates=400,
    )


def graph(
    positions: dict[Any, tuple[float, float]],
    edges: Sequence[tuple[Any, Any, float]],
    colours: dict[Any, int],
    sizes: dict[Any, float],
    labels: dict[Any, str],
    title: str,
    summary: str,
    filename: str = "network.png",
    legend: Legend | None = None,
) -> Picture:
    """A node-link drawing: colours by group (explained by `legend`), sizes by importance, labels where given."""
    with _LOCK:
        return Picture(filename, _png(graph_figure(positions, edges, colours, sizes, labels, title, legend)), summary)
