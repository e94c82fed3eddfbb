"""`cnncalc diagram --format svg`: the picture laid out in Python (cnncalc.layout), checked on
the SVG itself, read back with xml.etree: one box per node and one arrow per edge of the
Diagram; no two boxes overlap; each arrow leaves its source's bottom and ends on its target's
top, going down all the way; each cluster holds exactly its members and its inner clusters,
apart from its siblings; the viewBox holds it all; each box says the node's name, type and
shape, and MACs when not 0. The same for hand-made diagrams that no spec writes (a cluster
with an empty rank, clusters pulled to swap sides, columns that cannot be placed, hostile
names), for random graphs, for hostile fuzz cases, and for the README's picture, which
cannot drift from what the command prints."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc.diagnostics import safe
from cnncalc.diagram import Cluster, Diagram, Node, diagram
from cnncalc.render.diagram import to_svg

from fuzz_cases import run_case
from fuzz_diagram_svg import diagram_svg_case, graph_spec
from helpers import ROOT, SPECS, ZOO, invoke, write_spec

SVG = "{http://www.w3.org/2000/svg}"
SLACK = 0.11  # coordinates are written to 0.1


def _box(rect) -> tuple:
    x, y = float(rect.get("x")), float(rect.get("y"))
    return x, y, x + float(rect.get("width")), y + float(rect.get("height"))


def _points(d: str) -> list:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return list(zip(numbers[::2], numbers[1::2]))


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] - SLACK and b[0] < a[2] - SLACK and a[1] < b[3] - SLACK and b[1] < a[3] - SLACK


def _inside(inner: tuple, outer: tuple) -> bool:
    return (outer[0] - SLACK <= inner[0] and inner[2] <= outer[2] + SLACK
            and outer[1] - SLACK <= inner[1] and inner[3] <= outer[3] + SLACK)


def _read(text: str) -> tuple:
    """The root element, node boxes, cluster boxes, edges ((from, to, points), in order) and
    each node's lines of text, of an SVG."""
    root = ET.fromstring(text)
    assert root.tag == SVG + "svg"
    groups = {kind: {} for kind in ("node", "cluster")}
    texts = {}
    for group in root.iter(SVG + "g"):
        assert group.get("data-name") not in groups[group.get("class")], group.get("data-name")
        groups[group.get("class")][group.get("data-name")] = _box(group.find(SVG + "rect"))
        if group.get("class") == "node":
            texts[group.get("data-name")] = [line.text for line in group.iter(SVG + "text")]
    edges = [(path.get("data-from"), path.get("data-to"), _points(path.get("d")))
             for path in root.iter(SVG + "path") if path.get("class") == "edge"]
    return root, groups["node"], groups["cluster"], edges, texts


def check_picture(text: str, drawn: Diagram) -> None:
    """Every promise of the SVG `text` of `drawn`, from its geometry."""
    root, nodes, clusters, edges, texts = _read(text)
    assert list(nodes) == [safe(node.name) for node in drawn.nodes]
    assert [(a, b) for a, b, _ in edges] == [(safe(a), safe(b)) for a, b in drawn.edges]
    assert list(clusters) == [safe(cluster.name) for cluster in drawn.clusters]
    for node in drawn.nodes:  # name; type and output shape; MACs when not 0
        name, *lines = texts[safe(node.name)]
        assert name == safe(node.name)
        assert lines[0] == f"{safe(node.type)} [{', '.join(map(str, node.output_shape))}]".strip()
        assert len(lines) == 1 + bool(node.macs) and all(line.endswith(" MACs") for line in lines[1:])
    for a, b in combinations(nodes.values(), 2):
        assert not _overlap(a, b), (a, b)
    for source, target, points in edges:
        (x0, y0), (x1, y1) = points[0], points[-1]
        above, below = nodes[source], nodes[target]
        assert abs(y0 - above[3]) < SLACK and above[0] <= x0 <= above[2], (source, target)
        assert abs(y1 - below[1]) < SLACK and below[0] <= x1 <= below[2], (source, target)
        assert all(y <= next_y for (_, y), (_, next_y) in zip(points, points[1:])), (source, target)
        assert above[3] < below[1]
    for cluster in drawn.clusters:
        box = clusters[safe(cluster.name)]
        for node in drawn.nodes:
            if cluster.name in node.cluster:
                assert _inside(nodes[safe(node.name)], box), (node.name, cluster.name)
            else:
                assert not _overlap(nodes[safe(node.name)], box), (node.name, cluster.name)
        if cluster.parent is not None:
            assert _inside(box, clusters[safe(cluster.parent)]), cluster.name
    for a, b in combinations(drawn.clusters, 2):
        if a.parent == b.parent:
            assert not _overlap(clusters[safe(a.name)], clusters[safe(b.name)]), (a.name, b.name)
    width, height = float(root.get("width")), float(root.get("height"))
    assert [float(v) for v in root.get("viewBox").split()] == [0, 0, width, height]
    whole = (0, 0, width, height)
    assert all(_inside(box, whole) for box in [*nodes.values(), *clusters.values()])
    assert all(0 <= x <= width and 0 <= y <= height for *_, points in edges for x, y in points)


def _summary(stem: str):
    return cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))


@pytest.mark.parametrize("depth", [None, 1, 2])
@pytest.mark.parametrize("stem", ZOO)
def test_every_zoo_picture_keeps_its_promises(stem, depth):
    args = ["diagram", str(SPECS / f"{stem}.yaml"), "--format", "svg"] + (["--depth", str(depth)] if depth else [])
    result = invoke(*args)
    assert result.exit_code == 0, result.output + result.stderr
    check_picture(result.stdout, diagram(_summary(stem), depth))


def _hand_made() -> Diagram:
    """A cluster `x` whose second rank holds nothing of it, only a node outside it (`b`),
    beside a chain that runs the whole height; a nested cluster; an edge that skips ranks."""
    nodes = [Node("input", "", (1,), 0, ()), Node("a", "t", (1,), 5, ("x",)), Node("b", "t", (1,), 0, ()),
             Node("c", "t", (1,), 0, ("x", "x.y")), Node("d", "t", (1,), 0, ("x", "x.y")),
             Node("p", "t", (1,), 0, ()), Node("q", "t", (1,), 0, ()), Node("r", "t", (1,), 0, ()),
             Node("z", "t", (1,), 0, ())]
    edges = [("input", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("input", "p"), ("p", "q"), ("q", "r"),
             ("r", "z"), ("d", "z"), ("input", "z")]
    return Diagram("hand", nodes, edges, [Cluster("x", "blk", None), Cluster("x.y", "inner", "x")])


def test_a_cluster_with_an_empty_rank_still_holds_only_its_members():
    check_picture(to_svg(_hand_made()), _hand_made())


def test_sibling_clusters_keep_one_order_on_every_rank():
    """Edges that cross from `A` to `B` pull their members to swap sides on the second rank;
    one order on both ranks keeps the clusters apart (two orders could not be placed)."""
    nodes = [Node("input", "", (1,), 0, ()), Node("a1", "t", (1,), 0, ("A",)), Node("b1", "t", (1,), 0, ("B",)),
             Node("a2", "t", (1,), 0, ("A",)), Node("b2", "t", (1,), 0, ("B",)), Node("z", "t", (1,), 0, ())]
    edges = [("input", "a1"), ("input", "b1"), ("a1", "b2"), ("b1", "a2"), ("a2", "z"), ("b2", "z")]
    drawn = Diagram("swap", nodes, edges, [Cluster("A", "blk", None), Cluster("B", "blk", None)])
    check_picture(to_svg(drawn), drawn)


def test_columns_that_contradict_the_orders_fall_back_to_free_boxes(monkeypatch):
    """Boxes joined into columns across a crossing could not be placed (one column would be
    left of the other on one rank and right of it on the next): each box is placed on its
    own instead, as if no column were joined. Random graphs meet this now and then."""
    from cnncalc import layout as module

    nodes = [Node(name, "t", (1,), 0, ()) for name in ("input", "a", "b", "c", "d", "z")]
    drawn = Diagram("x", nodes, [("input", "a"), ("input", "b"), ("a", "c"), ("b", "d"), ("c", "z"), ("d", "z")], [])

    def crossed(items, rows):
        column = list(range(len(items.rank)))
        (first, second), (third, fourth) = rows[1], rows[2]
        column[fourth], column[third] = first, second
        return column

    monkeypatch.setattr(module, "_columns", crossed)
    text = to_svg(drawn)
    check_picture(text, drawn)
    monkeypatch.setattr(module, "_columns", lambda items, rows: list(range(len(items.rank))))
    assert text == to_svg(drawn)


@settings(max_examples=40, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(data=graph_spec(), depth=st.sampled_from([None, 1, 2, 3]))
def test_random_graphs_keep_the_promises(tmp_path_factory, data, depth):
    """Random DAGs with merges, long skips, hanging branches and nested, repeated blocks."""
    path = tmp_path_factory.mktemp("graph") / "spec.yaml"
    path.write_bytes(data)
    drawn = diagram(cnncalc.summarize(cnncalc.load(str(path))), depth)
    check_picture(to_svg(drawn), drawn)


@settings(max_examples=30, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(case=diagram_svg_case(process_share=10**9))
def test_fuzz_cases_for_svg(tmp_path_factory, case):
    """tests/fuzz_diagram_svg.py's cases through the fuzz runner and judge: exit 0, 1 or 2,
    no traceback or raw control character, within time and memory, nothing written."""
    outcome = run_case(case, str(tmp_path_factory.mktemp("svg")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"


def test_a_drawing_too_big_to_lay_out_is_refused(tmp_path):
    """A layer reading the input at the end of a long chain passes every rank: 600 of them
    would be 180,000 edge points. Refused at once (exit 2, with what to do), not ground through."""
    text = "input: [4, 8]\nlayers:\n  - {name: l0, type: relu}\n" + "".join(
        f"  - {{name: l{i}, type: add, from: [l{i - 1}, input]}}\n" for i in range(1, 600))
    result = invoke("diagram", str(write_spec(tmp_path, text)), "--format", "svg")
    assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr
    # the input and 600 layers; layer i sits on rank i + 1, so its edge from the input passes i ranks
    assert f"too big to lay out as SVG: 601 boxes and {sum(range(600)):,} points" in result.stderr
    assert "--depth" in result.stderr and not result.stdout


def test_hostile_names_are_escaped_and_read_back():
    hostile = 'a<b>&c"d]]>e\x1bf\u202eé漢字'
    nodes = [Node("input", "", (3,), 0, ()), Node(hostile, hostile, (3,), 7, (hostile,)),
             Node("plain", "t", (3,), 0, ())]
    drawn = Diagram(hostile, nodes, [("input", hostile), (hostile, "plain")], [Cluster(hostile, hostile, None)])
    text = to_svg(drawn)
    assert "]]>" not in text and "\x1b" not in text and "\u202e" not in text
    check_picture(text, drawn)
    root = ET.fromstring(text)
    shown = safe(hostile)
    assert shown == 'a<b>&c"d]]>e\\x1bf\\u202eé漢字'
    assert root.find(SVG + "title").text == shown
    node = next(g for g in root.iter(SVG + "g") if g.get("data-name") == shown and g.get("class") == "node")
    assert [t.text for t in node.iter(SVG + "text")] == [shown, f"{shown} [3]", "7 MACs"]
    cluster = next(g for g in root.iter(SVG + "g") if g.get("class") == "cluster")
    assert cluster.find(SVG + "text").text == f"{shown}: {shown}"


def test_characters_xml_cannot_hold_are_written_visibly():
    """A lone surrogate or U+FFFE (a YAML escape can make either) would make the SVG unreadable."""
    from cnncalc.render.diagram import _xml

    assert _xml("a\ud800b\ufffe") == "a\\ud800b\\ufffe"
    assert ET.fromstring("<t>" + _xml("x&y\ud800") + "</t>").text == "x&y\\ud800"


def test_a_spec_name_with_markup_is_escaped(tmp_path):
    spec = write_spec(tmp_path, 'name: "a\\"b<c>&d]]>é"\ninput: [3, 8, 8]\nblocks:\n  blk:\n    layers:\n'
                                "      - {type: relu}\nlayers:\n  - {block: blk}\n")
    result = invoke("diagram", str(spec), "--format", "svg")
    assert result.exit_code == 0, result.output + result.stderr
    assert ET.fromstring(result.stdout).find(SVG + "title").text == 'a"b<c>&d]]>é'


def test_the_layout_is_deterministic():
    """The same picture in two processes with different string hashing."""
    command = [sys.executable, "-c", "from cnncalc.cli import main; main()", "diagram",
               str(SPECS / "googlenet.yaml"), "--format", "svg", "--depth", "2"]
    outputs = {subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1
    assert to_svg(_hand_made()) == to_svg(_hand_made())


README_PICTURE = ("docs/resnet18.svg", ["diagram", "specs/resnet18.yaml", "--depth", "2", "--format", "svg"])


def test_the_readme_picture_is_what_the_command_prints_now():
    """docs/resnet18.svg cannot drift: `cnncalc diagram specs/resnet18.yaml --depth 2 --format svg`."""
    path, args = README_PICTURE
    result = invoke(*[str(ROOT / arg) if arg.startswith("specs/") else arg for arg in args])
    assert result.exit_code == 0
    assert (ROOT / path).read_text(encoding="utf-8") == result.stdout, \
        f"regenerate it: cnncalc {' '.join(args)} > {path}"
