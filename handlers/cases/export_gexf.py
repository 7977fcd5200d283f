"""The GEXF export: the case graph for Gephi (and Maltego's graph import), written by networkx."""

from __future__ import annotations

import io

import networkx as nx

from handlers.cases.bundle import CaseBundle


def to_graph(bundle: CaseBundle) -> nx.MultiDiGraph:
    """Nodes `e<id>` labelled with the value and typed by kind; edges typed by link kind."""
    g = nx.MultiDiGraph(name=f"Case {bundle.case.id}: {bundle.case.title}")
    for e in bundle.entities:
        g.add_node(f"e{e.id}", label=e.value, kind=e.kind, key=e.key, sources=";".join(e.sources),
                   tags=";".join(e.tags), added_at=e.added_at.isoformat())
    for lk in bundle.links:
        g.add_edge(f"e{lk.src_id}", f"e{lk.dst_id}", key=lk.id, label=lk.kind, kind=lk.kind, source=lk.source)
    return g


def render(bundle: CaseBundle) -> bytes:
    buf = io.BytesIO()
    nx.write_gexf(to_graph(bundle), buf)
    return buf.getvalue()
