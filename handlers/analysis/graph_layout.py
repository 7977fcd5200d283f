"""Node positions for a graph of any shape: each connected component laid out on its own, then packed in rows.

A spring layout of the whole graph pushes unlinked nodes to a ring around the rest and lets one large
component crowd the small ones into its edges. Laid out separately, every component gets room in
proportion to its size (side ∝ √nodes) and they are shelved left to right, largest first, in a roughly
square block — readable from ten nodes to a few hundred.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import networkx as nx

SEED = 7
GAP = 0.6  # space between components, in units of one node's room
KAMADA_KAWAI_MAX = 60  # nicer for small components; spring beyond (Kamada-Kawai is quadratic in memory)


@dataclass
class _Box:
    """One component's positions, shifted so its lower-left corner is at the origin."""

    positions: dict[Hashable, tuple[float, float]]
    width: float
    height: float


def _component(g: nx.Graph, seed: int) -> dict[Hashable, tuple[float, float]]:
    nodes = sorted(g, key=str)
    if len(nodes) == 1:
        return {nodes[0]: (0.0, 0.0)}
    if len(nodes) == 2:
        return {nodes[0]: (0.0, 0.0), nodes[1]: (1.0, 0.0)}
    if len(nodes) <= KAMADA_KAWAI_MAX:
        pos = nx.kamada_kawai_layout(g)
    else:
        pos = nx.spring_layout(g, seed=seed, k=2.0 / math.sqrt(len(nodes)), iterations=100)
    return {n: (float(x), float(y)) for n, (x, y) in pos.items()}


def _boxed(pos: dict[Hashable, tuple[float, float]]) -> _Box:
    """The component scaled so its longer side is √n node rooms, moved to the origin."""
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys))
    side = math.sqrt(len(pos)) * 1.6 if len(pos) > 2 else len(pos) - 1
    scale = side / span if span else 0.0
    moved = {n: ((x - min(xs)) * scale, (y - min(ys)) * scale) for n, (x, y) in pos.items()}
    return _Box(moved, (max(xs) - min(xs)) * scale, (max(ys) - min(ys)) * scale)


def packed_layout(g: nx.Graph, seed: int = SEED) -> dict[Hashable, tuple[float, float]]:
    """Positions for every node of `g` (directed graphs are laid out as undirected)."""
    simple = nx.Graph(g)
    if not len(simple):
        return {}
    parts = sorted(nx.connected_components(simple), key=lambda c: (-len(c), min(map(str, c))))
    boxes = [_boxed(_component(simple.subgraph(c), seed)) for c in parts]
    area = sum((b.width + 1 + GAP) * (b.height + 1 + GAP) for b in boxes)
    row_width = max(math.sqrt(area), max(b.width for b in boxes) + 1)
    positions: dict[Hashable, tuple[float, float]] = {}
    x = y = row_height = 0.0
    for box in boxes:
        if x > 0 and x + box.width > row_width:
            x, y, row_height = 0.0, y - row_height - 1 - GAP, 0.0
        top = y - box.height  # rows grow downwards; boxes hang from the row's top line
        positions.update({n: (x + px, top + py) for n, (px, py) in box.positions.items()})
        x += box.width + 1 + GAP
        row_height = max(row_height, box.height)
    return positions
