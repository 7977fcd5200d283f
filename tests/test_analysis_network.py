"""Interaction graph: a planted two-community graph with known hubs and one bridge."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import networkx as nx

from handlers.analysis import network
from tests.analysis_data import EPOCH, assert_png, post


def planted() -> list:
    """Two groups; hub_a and hub_b are mentioned by everyone in their group; broker talks to both hubs."""
    posts, t = [], EPOCH
    for group, hub in (("a", "hub_a"), ("b", "hub_b")):
        members = [f"{group}{i}" for i in range(8)]
        for i, m in enumerate(members):
            for j in range(3):
                t += timedelta(minutes=7)
                posts.append(post(m, t, f"hey @{hub} look", mentions=[hub], sid=f"{m}-{j}"))
            t += timedelta(minutes=1)
            other = members[(i + 1) % len(members)]
            posts.append(post(m, t, f"@{other} agreed", mentions=[other], sid=f"{m}-x"))
        posts.append(post(hub, t, "thanks all", sid=f"{hub}-root"))
    posts.append(post("broker", t, "@hub_a meet @hub_b", mentions=["hub_a", "hub_b"], sid="br1"))
    posts.append(post("a0", t, "reply to a hub post", reply_to="hub_b-root", sid="a0-r"))
    return posts


def test_hubs_are_central_and_communities_are_recovered() -> None:
    a = network.analyse(network.build_graph(planted()))
    top2 = {n for n, _ in a.top("pagerank", 2)}
    assert top2 == {"hub_a", "hub_b"}
    assert {n for n, _ in a.top("degree", 2)} == {"hub_a", "hub_b"}
    group_a = {f"a{i}" for i in range(8)} | {"hub_a"}
    group_b = {f"b{i}" for i in range(8)} | {"hub_b"}
    assert a.community_of["a3"] == a.community_of["hub_a"] != a.community_of["hub_b"] == a.community_of["b5"]
    for c in a.communities[:2]:
        assert c & group_a == group_a or not c & group_a - {"a0"}
        assert c & group_b == group_b or not c & group_b
    assert "broker" in {n for n, _ in a.bridges}


def test_reply_and_co_mention_edges() -> None:
    g = network.build_graph(planted())
    assert "reply" in g["a0"]["hub_b"]["kinds"]
    assert "co-mention" in g["hub_a"]["hub_b"]["kinds"]
    assert network.neighbours(network.analyse(g), "broker")[0][0] in {"hub_a", "hub_b"}


def test_exports_parse_and_keep_attributes() -> None:
    a = network.analyse(network.build_graph(planted()))
    ET.fromstring(network.gexf(a))
    g = nx.parse_graphml(network.graphml(a).decode())
    assert g.nodes["hub_a"]["community"] == a.community_of["hub_a"]
    assert g.number_of_edges() == a.graph.number_of_edges()


def test_picture_is_a_png_with_a_summary() -> None:
    a = network.analyse(network.build_graph(planted()))
    pic = network.picture(a, "test", seed="broker")
    assert_png(pic.png, 400, 400)
    assert "@hub_a" in pic.summary and "communities" in pic.summary
