"""The picture of an investigation's pivots: entities in columns by depth, coloured by kind, links as arrows.

Drawn with matplotlib on the Agg backend in a worker thread (`draw`), so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import threading

import matplotlib

matplotlib.use("Agg")

import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from handlers.investigate.runner import Picture

MAX_NODES = 60
LABEL_CHARS = 28
EDGE_LABELS_UP_TO = 25
_LOCK = threading.Lock()
COLOURS = {
    "email": "#e15759", "username": "#f28e2b", "account": "#edc948", "domain": "#4e79a7", "ip": "#76b7b2",
    "url": "#59a14f", "cve": "#b07aa1", "phone": "#ff9da7", "organisation": "#9c755f", "person": "#bab0ac",
    "location": "#86bcb6", "hash": "#d37295", "post": "#a0cbe8",
}


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def shown_refs(picture: Picture) -> list[str]:
    """The entities drawn: the shallowest MAX_NODES, root first."""
    return sorted(picture.entities, key=lambda r: (picture.depth[r], r != picture.root))[:MAX_NODES]


def render_png(picture: Picture, title: str) -> bytes:
    """The pivot graph as PNG bytes (blocking: call through `draw`)."""
    refs = shown_refs(picture)
    graph = nx.DiGraph()
    for ref in refs:
        graph.add_node(ref, layer=picture.depth[ref])
    for (src, kind, dst), _link in picture.links.items():
        if src in graph and dst in graph:
            graph.add_edge(src, dst, kind=kind)
    positions = nx.multipartite_layout(graph, subset_key="layer") if len(graph) > 1 else {refs[0]: (0.0, 0.0)}
    height = max(4.0, min(16.0, 0.55 * max(sum(1 for r in refs if picture.depth[r] == d)
                                                for d in set(picture.depth[r] for r in refs))))
    fig = Figure(figsize=(11, height))
    ax = fig.add_subplot()
    ax.set_axis_off()
    kinds = [picture.entities[r].kind.value for r in graph.nodes]
    nx.draw_networkx_edges(graph, positions, ax=ax, arrows=True, arrowsize=10, edge_color="#999999",
                           node_size=320, width=0.8)
    nx.draw_networkx_nodes(graph, positions, ax=ax, node_size=[700 if r == picture.root else 320 for r in graph],
                           node_color=[COLOURS.get(k, "#cccccc") for k in kinds], edgecolors="#333333",
                           linewidths=0.6)
    nx.draw_networkx_labels(graph, positions, ax=ax, font_size=7,
                            labels={r: _short(picture.entities[r].value) for r in graph})
    if graph.number_of_edges() <= EDGE_LABELS_UP_TO:
        nx.draw_networkx_edge_labels(graph, positions, ax=ax, font_size=6, font_color="#555555",
                                     edge_labels={(s, d): k for s, d, k in graph.edges(data="kind")})
    present = sorted(set(kinds))
    ax.legend(handles=[Line2D([], [], marker="o", linestyle="", markersize=7, color=COLOURS.get(k, "#cccccc"),
                              label=k) for k in present], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7,
              frameon=False)
    hidden = len(picture.entities) - len(refs)
    ax.set_title(title[:80] + (f"  (+{hidden} not drawn)" if hidden else ""), fontsize=10)
    buf = io.BytesIO()
    with _LOCK:
        FigureCanvasAgg(fig)
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def describe(picture: Picture) -> str:
    """What the picture shows, in words (the attachment caption, for screen readers and the console)."""
    by_depth: dict[int, int] = {}
    for ref in picture.entities:
        by_depth[picture.depth[ref]] = by_depth.get(picture.depth[ref], 0) + 1
    columns = ", ".join(f"depth {d}: {n}" for d, n in sorted(by_depth.items()))
    hidden = len(picture.entities) - min(len(picture.entities), MAX_NODES)
    return (f"Pivot graph: {len(picture.entities)} entities, {len(picture.links)} links ({columns})"
            + (f"; the {hidden} deepest are not drawn" if hidden else "") + ".")


async def draw(picture: Picture, title: str) -> bytes:
    """Render off the event loop."""
    return await asyncio.to_thread(render_png, picture, title)
