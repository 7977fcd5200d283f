"""Who talks to whom: an interaction graph from stored posts and what its structure says.

Edges (directed, weighted, from the posting account):
- reply: to the author of the post replied to (resolved among the posts given, or via `parents`);
- mention: to each @mentioned account;
- quote: to the author of another stored post whose URL the post links;
- co-mention: between accounts mentioned together in one post (weight 0.5, both ways).
Centrality: weighted degree, betweenness (exact on small graphs; on large ones sampled from a number of
pivots that keeps the work near BETWEENNESS_WORK, seeded) and PageRank; communities by
Louvain (seeded, so the same data gives the same answer); bridges are accounts whose neighbours sit in
other communities, ranked by how many communities they touch and their betweenness.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from handlers.analysis.charts import Picture, graph
from handlers.monitor.post import Post

SEED = 7
DRAW_NODES = 120
LABEL_NODES = 12
BETWEENNESS_WORK = 400_000  # pivots × (nodes + edges) for sampled betweenness
BETWEENNESS_MIN_PIVOTS = 32


def _node(handle: str | None) -> str | None:
    handle = (handle or "").strip().lstrip("@").lower()
    return handle or None


def _add(g: nx.DiGraph, u: str, v: str, kind: str, weight: float = 1.0) -> None:
    if u == v:
        return
    if g.has_edge(u, v):
        data = g[u][v]
        data["weight"] += weight
        data["kinds"][kind] = data["kinds"].get(kind, 0) + 1
    else:
        g.add_edge(u, v, weight=weight, kinds={kind: 1})


def build_graph(posts: Iterable[Post], parents: dict[tuple[str, str], str] | None = None) -> nx.DiGraph:
    """The interaction graph of `posts`; `parents` maps (source, source_id) to the author of posts outside them."""
    posts = list(posts)
    by_id = dict(parents or {})
    by_url: dict[str, str] = {}
    for p in posts:
        if (a := _node(p.author.account)) is not None:
            by_id[(p.source, p.source_id)] = a
            if p.url:
                by_url[p.url] = a
    g = nx.DiGraph()
    for p in posts:
        author = _node(p.author.account)
        if author is None:
            continue
        g.add_node(author)
        g.nodes[author]["posts"] = g.nodes[author].get("posts", 0) + 1
        if p.reply_to and (parent := by_id.get((p.source, p.reply_to))):
            _add(g, author, parent, "reply")
        mentioned = sorted({m for m in (_node(x) for x in p.mentions) if m and m != author})
        for m in mentioned:
            _add(g, author, m, "mention")
        for url in p.urls:
            if (quoted := by_url.get(url)) is not None:
                _add(g, author, quoted, "quote")
        for i, a in enumerate(mentioned):
            for b in mentioned[i + 1 :]:
                _add(g, a, b, "co-mention", 0.5)
                _add(g, b, a, "co-mention", 0.5)
    return g


@dataclass(frozen=True)
class NetworkAnalysis:
    """Centralities, communities and bridges of an interaction graph."""

    graph: nx.DiGraph
    degree: dict[str, float]
    betweenness: dict[str, float]
    pagerank: dict[str, float]
    communities: list[set[str]]
    community_of: dict[str, int]
    bridges: list[tuple[str, int]]  # (account, communities it touches)

    def top(self, metric: str, n: int = 5) -> list[tuple[str, float]]:
        values: dict[str, float] = getattr(self, metric)
        return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def undirected(g: nx.DiGraph) -> nx.Graph:
    """The graph with both directions of an edge summed into one weight."""
    u = nx.Graph()
    u.add_nodes_from(g.nodes)
    for a, b, w in g.edges(data="weight"):
        if u.has_edge(a, b):
            u[a][b]["weight"] += w
        else:
            u.add_edge(a, b, weight=w)
    return u


def analyse(g: nx.DiGraph) -> NetworkAnalysis:
    """Centralities, Louvain communities and bridges of `g`."""
    ug = undirected(g)
    if ug.number_of_nodes() == 0:
        return NetworkAnalysis(g, {}, {}, {}, [], {}, [])
    degree = dict(ug.degree(weight="weight"))
    size = ug.number_of_nodes() + ug.number_of_edges()
    pivots = max(BETWEENNESS_MIN_PIVOTS, BETWEENNESS_WORK // max(size, 1))
    k = pivots if ug.number_of_nodes() > pivots else None
    betweenness = nx.betweenness_centrality(ug, k=k, seed=SEED, normalized=True)
    pagerank = nx.pagerank(g, weight="weight") if g.number_of_edges() else {n: 1 / len(g) for n in g}
    communities = sorted(
        nx.community.louvain_communities(ug, weight="weight", seed=SEED), key=lambda c: (-len(c), min(c))
    )
    community_of = {n: i for i, c in enumerate(communities) for n in c}
    bridges = []
    for n in ug.nodes:
        touched = {community_of[m] for m in ug.neighbors(n)} | {community_of[n]}
        if len(touched) >= 2:
            bridges.append((n, len(touched)))
    bridges.sort(key=lambda b: (-b[1], -betweenness.get(b[0], 0.0), b[0]))
    return NetworkAnalysis(g, degree, betweenness, pagerank, communities, community_of, bridges)


def neighbours(a: NetworkAnalysis, seed: str, n: int = 10) -> list[tuple[str, float]]:
    """The seed's strongest neighbours, by the weight of the edges between them."""
    seed = seed.lstrip("@").lower()
    if seed not in a.graph:
        return []
    weights: Counter[str] = Counter()
    for _, v, w in a.graph.out_edges(seed, data="weight"):
        weights[v] += w
    for u, _, w in a.graph.in_edges(seed, data="weight"):
        weights[u] += w
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _exportable(a: NetworkAnalysis) -> nx.DiGraph:
    g = nx.DiGraph()
    for n, data in a.graph.nodes(data=True):
        g.add_node(
            n,
            label=n,
            posts=int(data.get("posts", 0)),
            community=int(a.community_of.get(n, -1)),
            pagerank=float(a.pagerank.get(n, 0.0)),
            betweenness=float(a.betweenness.get(n, 0.0)),
            degree=float(a.degree.get(n, 0.0)),
        )
    for u, v, data in a.graph.edges(data=True):
        kinds = ",".join(f"{k}:{c}" for k, c in sorted(data["kinds"].items()))
        g.add_edge(u, v, weight=float(data["weight"]), kinds=kinds)
    return g


def gexf(a: NetworkAnalysis) -> bytes:
    """The graph as GEXF (Gephi), with centralities and community per node."""
    return "\n".join(nx.generate_gexf(_exportable(a))).encode()


def graphml(a: NetworkAnalysis) -> bytes:
    """The graph as GraphML (Gephi, Maltego, yEd)."""
    buf = io.BytesIO()
    nx.write_graphml(_exportable(a), buf)
    return buf.getvalue()


def picture(a: NetworkAnalysis, label: str, seed: str | None = None) -> Picture:
    """The graph drawn for a phone: the most important accounts, labels only on the top ones."""
    keep = [n for n, _ in sorted(a.pagerank.items(), key=lambda kv: (-kv[1], kv[0]))[:DRAW_NODES]]
    if seed and seed in a.graph and seed not in keep:
        keep.append(seed)
    sub = undirected(a.graph).subgraph(keep)
    pos = nx.spring_layout(sub, seed=SEED, weight="weight", k=1.5 / max(len(keep), 1) ** 0.5)
    top_pr = max(a.pagerank.values(), default=1.0) or 1.0
    sizes = {n: 20 + 600 * a.pagerank.get(n, 0) / top_pr for n in keep}
    labelled = [n for n in keep[:LABEL_NODES]] + ([seed] if seed in pos and seed not in keep[:LABEL_NODES] else [])
    edges = [(u, v, w) for u, v, w in sub.edges(data="weight")]
    summary = describe(a)
    shown = f"{len(keep)} of {a.graph.number_of_nodes()} accounts shown"
    return graph(
        {n: (float(x), float(y)) for n, (x, y) in pos.items()},
        edges,
        dict(a.community_of),
        sizes,
        {n: f"@{n}" for n in labelled},
        f"Interactions around {label} ({shown})",
        f"Network graph: {summary}",
    )


def describe(a: NetworkAnalysis) -> str:
    """One paragraph a screen reader can say instead of the picture."""
    g = a.graph
    if g.number_of_nodes() == 0:
        return "no accounts."
    top = ", ".join(f"@{n}" for n, _ in a.top("pagerank", 3))
    sizes = ", ".join(str(len(c)) for c in a.communities[:5])
    bridges = ", ".join(f"@{n}" for n, _ in a.bridges[:3]) or "none"
    return (
        f"{g.number_of_nodes()} accounts, {g.number_of_edges()} interactions; "
        f"most central by PageRank: {top}; {len(a.communities)} communities (largest: {sizes}); "
        f"bridges: {bridges}."
    )


def community_members(a: NetworkAnalysis, limit: int = 6) -> Sequence[tuple[int, int, str]]:
    """(community number, size, its most central members) for the largest communities."""
    rows = []
    for i, members in enumerate(a.communities[:limit]):
        best = sorted(members, key=lambda n: (-a.pagerank.get(n, 0), n))[:5]
        rows.append((i + 1, len(members), ", ".join(f"@{n}" for n in best)))
    return rows
