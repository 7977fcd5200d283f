"""The case graph and the case timeline as pictures (drawn by the analysis charts, off the event loop)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import networkx as nx
from matplotlib.figure import Figure

from handlers.analysis.charts import Legend, Picture, graph, graph_figure, render, time_series
from handlers.analysis.graph_layout import packed_layout
from handlers.analysis.time_bins import bins
from handlers.cases.bundle import CaseBundle, typed
from handlers.cases.entities import EntityKind, defanged

LABEL_CHARS = 28
MAX_LABELS = 250  # beyond this the labels alone would fill the picture
KIND_ORDER = list(EntityKind)


def kind_colour(kind: str) -> int:
    """A tab20 colour per entity kind, the dark shades first so neighbouring kinds are told apart."""
    index = 2 * KIND_ORDER.index(EntityKind(kind))
    return index % 20 + index // 20


def case_graph(bundle: CaseBundle) -> nx.MultiDiGraph:
    """The case as a directed multigraph: nodes are entity ids, edges carry the link kind."""
    g = nx.MultiDiGraph()
    for e in bundle.entities:
        g.add_node(e.id, kind=e.kind, value=defanged(typed(e)))
    for lk in bundle.links:
        g.add_edge(lk.src_id, lk.dst_id, kind=lk.kind)
    return g


def _plain(text: str) -> str:
    """Text matplotlib draws literally (a `$` would otherwise start mathtext)."""
    return text.replace("$", r"\$")


def _label(value: str) -> str:
    return _plain(value if len(value) <= LABEL_CHARS else value[: LABEL_CHARS - 1] + "…")


@dataclass(frozen=True)
class GraphDrawing:
    """What the case graph picture is drawn from: layout, colours by kind, labels best-connected first."""

    graph: nx.MultiDiGraph
    positions: dict[Any, tuple[float, float]]
    edges: list[tuple[Any, Any, float]]
    colours: dict[Any, int]
    sizes: dict[Any, float]
    labels: dict[Any, str]
    title: str
    legend: Legend

    def figure(self) -> Figure:
        """The drawing as a matplotlib figure (for measuring it)."""
        return graph_figure(self.positions, self.edges, self.colours, self.sizes, self.labels, self.title,
                            self.legend)


def drawing(bundle: CaseBundle) -> GraphDrawing:
    """How the case graph is drawn."""
    g = case_graph(bundle)
    simple = nx.Graph(g)
    degree = dict(simple.degree())
    kinds = Counter(g.nodes[n]["kind"] for n in g)
    top = sorted(g, key=lambda n: (-degree.get(n, 0), n))[:MAX_LABELS]
    legend = Legend({kind_colour(k): f"{k} ({kinds[k]})" for k in sorted(kinds, key=KIND_ORDER.index)})
    return GraphDrawing(
        g, packed_layout(simple), [(u, v, 1.0) for u, v in simple.edges()],
        {n: kind_colour(g.nodes[n]["kind"]) for n in g}, {n: 50.0 + 30.0 * min(degree.get(n, 0), 12) for n in g},
        {n: _label(g.nodes[n]["value"]) for n in top}, _plain(f"Case {bundle.case.id}: {bundle.case.title}"), legend)


def draw_graph(bundle: CaseBundle) -> Picture:
    """Entities as nodes coloured by kind (with a legend) and sized by links, labelled best-connected first."""
    d = drawing(bundle)
    kinds = Counter(d.graph.nodes[n]["kind"] for n in d.graph)
    summary = (f"Case {bundle.case.id} graph: {len(d.graph)} entities, {d.graph.number_of_edges()} links. "
               + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ".")
    return graph(d.positions, d.edges, d.colours, d.sizes, d.labels, d.title, summary,
                 filename=f"case-{bundle.case.id}-graph.png", legend=d.legend)


def _times(bundle: CaseBundle) -> tuple[list[datetime], list[datetime]]:
    posts = [datetime.fromisoformat(p.attrs["created_at"]) for p in bundle.posts if p.attrs.get("created_at")]
    return posts, [e.at for e in bundle.events]


def draw_timeline(bundle: CaseBundle) -> Picture:
    """Posts in the case and changes to the case, counted per hour, day, week, month or year (what fits)."""
    posts, changes = _times(bundle)
    everything = posts + changes
    zone = bundle.meta.dates.zone
    span = bins(min(everything), max(everything), zone=zone)
    series = {"posts": span.counts(posts), "case changes": span.counts(changes)}
    dates = bundle.meta.dates
    summary = (f"Case {bundle.case.id} timeline: {len(posts)} posts from {dates.day(min(posts))} to "
               f"{dates.day(max(posts))}" if posts else f"Case {bundle.case.id} timeline: no posts")
    summary += f"; {len(changes)} changes to the case; counted per {span.unit.value}."
    return time_series(span.starts, series, _plain(f"Case {bundle.case.id}: {bundle.case.title}"), summary,
                       ylabel=f"per {span.unit.value}", bars="posts", filename=f"case-{bundle.case.id}-timeline.png",
                       zone=zone)


async def graph_picture(bundle: CaseBundle) -> Picture:
    return await render(draw_graph, bundle)


async def timeline_picture(bundle: CaseBundle) -> Picture:
    return await render(draw_timeline, bundle)
