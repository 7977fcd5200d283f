"""The case graph and the case timeline as pictures (drawn by the analysis charts, off the event loop)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import networkx as nx

from handlers.analysis.charts import Picture, graph, render, time_series
from handlers.cases.bundle import CaseBundle
from handlers.cases.entities import EntityKind

SEED = 7
LABEL_CHARS = 28
MAX_LABELS = 40
KIND_ORDER = list(EntityKind)


def case_graph(bundle: CaseBundle) -> nx.MultiDiGraph:
    """The case as a directed multigraph: nodes are entity ids, edges carry the link kind."""
    g = nx.MultiDiGraph()
    for e in bundle.entities:
        g.add_node(e.id, kind=e.kind, value=e.value)
    for lk in bundle.links:
        g.add_edge(lk.src_id, lk.dst_id, kind=lk.kind)
    return g


def _plain(text: str) -> str:
    """Text matplotlib draws literally (a `$` would otherwise start mathtext)."""
    return text.replace("$", r"\$")


def _label(value: str) -> str:
    return _plain(value if len(value) <= LABEL_CHARS else value[: LABEL_CHARS - 1] + "…")


def draw_graph(bundle: CaseBundle) -> Picture:
    """Entities as nodes coloured by kind and sized by links, labelled (the best-connected first)."""
    g = case_graph(bundle)
    simple = nx.Graph(g)
    positions = nx.spring_layout(simple, seed=SEED) if len(simple) else {}
    degree = dict(simple.degree())
    edges = [(u, v, 1.0) for u, v in simple.edges()]
    colours = {n: KIND_ORDER.index(EntityKind(g.nodes[n]["kind"])) for n in g}
    sizes = {n: 60.0 + 40.0 * degree.get(n, 0) for n in g}
    top = sorted(g, key=lambda n: (-degree.get(n, 0), n))[:MAX_LABELS]
    labels = {n: _label(g.nodes[n]["value"]) for n in top}
    kinds = Counter(g.nodes[n]["kind"] for n in g)
    summary = (f"Case {bundle.case.id} graph: {len(g)} entities, {g.number_of_edges()} links. "
               + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ".")
    return graph(positions, edges, colours, sizes, labels, _plain(f"Case {bundle.case.id}: {bundle.case.title}"),
                 summary, filename=f"case-{bundle.case.id}-graph.png")


def _times(bundle: CaseBundle) -> tuple[list[datetime], list[datetime]]:
    posts = [datetime.fromisoformat(p.attrs["created_at"]) for p in bundle.posts if p.attrs.get("created_at")]
    return posts, [e.at for e in bundle.events]


def _step(span: timedelta) -> timedelta:
    if span <= timedelta(days=2):
        return timedelta(hours=1)
    if span <= timedelta(days=120):
        return timedelta(days=1)
    return timedelta(weeks=1)


def _bucket(t: datetime, start: datetime, step: timedelta) -> int:
    return int((t - start) / step)


def draw_timeline(bundle: CaseBundle) -> Picture:
    """Posts in the case and changes to the case, counted per hour, day or week."""
    posts, changes = _times(bundle)
    everything = posts + changes
    start, end = min(everything), max(everything)
    step = _step(end - start)
    start = start.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        start = start.replace(hour=0)
    buckets = _bucket(end, start, step) + 1
    times = [start + i * step for i in range(buckets)]
    series = {"posts": [0.0] * buckets, "case changes": [0.0] * buckets}
    for name, values in (("posts", posts), ("case changes", changes)):
        for t in values:
            series[name][_bucket(t, start, step)] += 1
    unit = {timedelta(hours=1): "hour", timedelta(days=1): "day"}.get(step, "week")
    summary = (f"Case {bundle.case.id} timeline: {len(posts)} posts from {min(posts):%Y-%m-%d} to "
               f"{max(posts):%Y-%m-%d}" if posts else f"Case {bundle.case.id} timeline: no posts")
    summary += f"; {len(changes)} changes to the case; counted per {unit}."
    return time_series(times, series, _plain(f"Case {bundle.case.id}: {bundle.case.title}"), summary,
                       ylabel=f"per {unit}", bars="posts", filename=f"case-{bundle.case.id}-timeline.png")


async def graph_picture(bundle: CaseBundle) -> Picture:
    return await render(draw_graph, bundle)


async def timeline_picture(bundle: CaseBundle) -> Picture:
    return await render(draw_timeline, bundle)
