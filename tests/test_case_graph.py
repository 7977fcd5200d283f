"""The case graph drawn for 10 to 200 entities: labels never overprint, a legend names the entity kinds."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from handlers.cases.bundle import CaseBundle
from handlers.cases.pictures import draw_graph, drawing
from storage.models import Case, CaseEntity, CaseLink
from tests.analysis_data import assert_png

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OVERLAP_TOLERANCE_PX = 1.0  # boxes may touch, never overprint
VALUES = {
    "domain": lambda i: f"login-{i}.evil-example.com", "ip": lambda i: f"203.0.113.{i % 250}",
    "url": lambda i: f"https://cdn{i}.evil-example.com/payload/{i}.exe", "email": lambda i: f"ops{i}@evil-example.com",
    "hash": lambda i: f"{i:08x}" * 8, "account": lambda i: f"mastodon:actor{i}@infosec.example",
    "organisation": lambda i: f"Bulletproof Hosting {i} Ltd", "cve": lambda i: f"CVE-2026-{10000 + i}",
}


def synthetic_case(nodes: int, seed: int = 3) -> CaseBundle:
    """A case shaped like real ones: a few hubs (posts, domains), chains of pivots, and unlinked entities."""
    rng = random.Random(seed)
    kinds = list(VALUES)
    entities = [CaseEntity(id=i + 1, case_id=1, kind=kinds[i % len(kinds)], key=str(i),
                           value=VALUES[kinds[i % len(kinds)]](i), added_by="analyst", added_at=NOW)
                for i in range(nodes)]
    links = []
    for i in range(1, nodes):
        if rng.random() < 0.85:  # the rest stay unlinked
            hub = rng.randrange(0, max(1, i // 4 + 1))
            links.append(CaseLink(id=i, case_id=1, src_id=hub + 1, dst_id=i + 1, kind="related-to", added_by="a",
                                  added_at=NOW))
    case = Case(id=1, chat_platform="telegram", chat_id=-1, title=f"Graph of {nodes}", created_by="analyst",
                created_at=NOW, updated_at=NOW)
    return CaseBundle(case, entities, links, [], [], [], NOW)


def _overlap(a: Bbox, b: Bbox) -> float:
    """How far two boxes overprint each other (the shorter side of their intersection), in pixels."""
    return max(0.0, min(min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0)))


def _labels(fig: Figure) -> list[tuple[str, Bbox]]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = fig.axes[0]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_text()]


@pytest.mark.parametrize(("nodes", "labelled_share"), [(10, 1.0), (50, 0.95), (200, 0.9)])
def test_labels_do_not_overprint_and_a_legend_names_the_kinds(nodes: int, labelled_share: float) -> None:
    bundle = synthetic_case(nodes)
    fig = drawing(bundle).figure()
    labels = _labels(fig)

    assert len(labels) >= labelled_share * nodes, f"only {len(labels)} of {nodes} nodes labelled"
    worst = max((_overlap(a, b) for i, (_, a) in enumerate(labels) for _, b in labels[i + 1:]), default=0.0)
    assert worst <= OVERLAP_TOLERANCE_PX, f"labels overprint by {worst:.1f}px"
    figure_box = fig.bbox
    assert all(figure_box.x0 <= b.x0 and b.x1 <= figure_box.x1 and figure_box.y0 <= b.y0 and b.y1 <= figure_box.y1
               for _, b in labels), "a label runs off the picture"
    # indicators are drawn defanged, like everywhere else in the report
    texts = {text for text, _ in labels}
    assert not any("evil-example.com" in t for t in texts)

    assert len(fig.legends) == 1
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(entry.split(" (")[0] for entry in legend) == sorted(VALUES)
    assert fig.legends[0].get_title().get_text() == "entity types"
    # the legend sits below the drawing, not on top of labels
    legend_box = fig.legends[0].get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    assert all(_overlap(legend_box, b) == 0 for _, b in labels)


def test_every_node_gets_its_own_place() -> None:
    layout = drawing(synthetic_case(200)).positions
    points = sorted(layout.values())
    assert len(points) == 200
    assert all(a != b for a, b in itertools.pairwise(points)), "two nodes drawn on the same spot"


def test_the_picture_is_a_png_with_its_summary() -> None:
    picture = draw_graph(synthetic_case(30))
    assert_png(picture.png, 600, 600)
    assert picture.summary.startswith("Case 1 graph: 30 entities")
