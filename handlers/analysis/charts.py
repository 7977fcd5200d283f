"""Pictures for chat: matplotlib on the Agg backend, drawn in a worker thread, each with a text summary.

Figures are built with `matplotlib.figure.Figure` (no pyplot global state) and drawing is serialised
by a lock, so charts are safe to render from the thread pool while the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

P = ParamSpec("P")
_LOCK = threading.Lock()
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
) -> Picture:
    """Lines (and optionally one series as bars) over time, with vertical marks at notable points."""
    fig = Figure(figsize=(9, 4))
    ax = fig.add_subplot()
    x = list(times)
    width = (x[1] - x[0]) * 0.8 if len(x) > 1 else 0.02
    for name, values in series.items():
        if name == bars:
            ax.bar(x, values, width=width, alpha=0.35, label=name)
        else:
            ax.plot(x, values, marker="." if len(x) < 60 else None, label=name)
    for mark in marks:
        ax.axvline(mark, color="red", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return Picture(filename, _png(fig), summary)


def graph(
    positions: dict[Any, tuple[float, float]],
    edges: Sequence[tuple[Any, Any, float]],
    colours: dict[Any, int],
    sizes: dict[Any, float],
    labels: dict[Any, str],
    title: str,
    summary: str,
    filename: str = "network.png",
) -> Picture:
    """A node-link drawing: colours by community, sizes by importance, labels only where given."""
    fig = Figure(figsize=(8, 8))
    ax = fig.add_subplot()
    ax.set_axis_off()
    if edges:
        max_w = max(w for _, _, w in edges) or 1.0
        for u, v, w in edges:
            (x1, y1), (x2, y2) = positions[u], positions[v]
            ax.plot([x1, x2], [y1, y2], color="#888888", linewidth=0.3 + 1.7 * w / max_w, alpha=0.35, zorder=1)
    nodes = list(positions)
    cmap = matplotlib.colormaps["tab20"]
    ax.scatter(
        [positions[n][0] for n in nodes],
        [positions[n][1] for n in nodes],
        s=[sizes.get(n, 10.0) for n in nodes],
        c=[cmap(colours.get(n, 0) % 20) for n in nodes],
        edgecolors="white",
        linewidths=0.5,
        zorder=2,
    )
    for node, text in labels.items():
        x, y = positions[node]
        ax.annotate(
            text,
            (x, y),
            fontsize=9,
            ha="center",
            va="bottom",
            xytext=(0, 6),
            textcoords="offset points",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0},
            zorder=3,
        )
    ax.set_title(title)
    return Picture(filename, _png(fig), summary)
