"""`cnncalc diagram`: the graph of every zoo spec, as Mermaid and DOT, with block clusters
and --depth folding, against the summary it draws (layers, inputs, shapes, MACs, scopes)."""
from __future__ import annotations

import re

import pytest

import cnncalc
from cnncalc.diagram import diagram
from cnncalc.fold import fold
from cnncalc.network import INPUT

from helpers import SPECS, ZOO, invoke, write_spec


def _summary(stem: str):
    return cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))


@pytest.mark.parametrize("stem", ZOO)
def test_one_node_per_layer_and_one_edge_per_input(stem):
    summary = _summary(stem)
    drawn = diagram(summary)
    assert [node.name for node in drawn.nodes] == [INPUT] + [r.name for r in summary.layers]
    for node, record in zip(drawn.nodes[1:], summary.layers):
        assert (node.type, node.output_shape, node.macs) == (record.type, tuple(record.output_shape), record.macs)
        assert node.cluster == tuple(".".join(s for s, _ in record.scope[:i + 1]) for i in range(len(record.scope)))
    expected = list(dict.fromkeys((source, r.name) for r in summary.layers for source in r.inputs))
    assert drawn.edges == expected
    names = {cluster.name for cluster in drawn.clusters}
    assert all(cluster.parent is None or cluster.parent in names for cluster in drawn.clusters)


@pytest.mark.parametrize("stem", ["resnet50", "googlenet", "unet", "efficientnet_b0"])
@pytest.mark.parametrize("depth", [1, 2])
def test_depth_draws_the_folded_rows(stem, depth):
    summary = _summary(stem)
    rows = fold(summary.layers, depth)
    drawn = diagram(summary, depth)
    assert [node.name for node in drawn.nodes] == [INPUT] + [row.name for row in rows]
    assert [node.macs for node in drawn.nodes[1:]] == [row.macs for row in rows]
    nodes = {node.name for node in drawn.nodes}
    assert all(a in nodes and b in nodes and a != b for a, b in drawn.edges)
    assert sum(node.macs for node in drawn.nodes) == summary.totals.macs


def _statements(dot: str) -> list:
    return [line.strip() for line in dot.splitlines()[1:-1]]


@pytest.mark.parametrize("stem", ["lenet5", "resnet18", "shufflenet_v2_x1_0"])
def test_formats_are_well_formed(stem):
    summary = _summary(stem)
    mermaid = invoke("diagram", str(SPECS / f"{stem}.yaml")).stdout
    assert mermaid.startswith("flowchart TB\n")
    opened = sum(1 for line in mermaid.splitlines() if line.strip().startswith("subgraph "))
    closed = sum(1 for line in mermaid.splitlines() if line.strip() == "end")
    assert opened == closed == len(diagram(summary).clusters)
    assert len(re.findall(r"^\s+n\d+ --> n\d+$", mermaid, re.M)) == len(diagram(summary).edges)
    dot = invoke("diagram", str(SPECS / f"{stem}.yaml"), "--format", "dot").stdout
    assert dot.startswith(f'digraph "{stem}" {{\n') and dot.endswith("}\n")
    assert dot.count("{") == dot.count("}")
    assert all(s.endswith((";", "{", "}")) for s in _statements(dot))
    assert len(re.findall(r"^\s+n\d+ -> n\d+;$", dot, re.M)) == len(diagram(summary).edges)


def test_hostile_names_are_escaped(tmp_path):
    spec = write_spec(tmp_path, 'name: "a\\"b<c>&d}"\ninput: [3, 8, 8]\nblocks:\n  blk:\n    layers:\n'
                                "      - {type: relu}\nlayers:\n  - {block: blk}\n")
    dot = invoke("diagram", str(spec), "--format", "dot")
    assert dot.exit_code == 0, dot.output
    assert 'digraph "a\\"b<c>&d}" {' in dot.stdout
    # layer and block names are identifiers already; every label still goes through the escaping
    from cnncalc.render.diagram import _dot_text, _mermaid_text

    assert _mermaid_text('a"b<c>&d') == "a#quot;b#lt;c#gt;#amp;d"
    assert _dot_text('a"b\\c') == 'a\\"b\\\\c'


@pytest.mark.parametrize("args", [["--format", "png"], ["--depth", "0"], ["--input", "3,H,W"]])
def test_refusals(args):
    result = invoke("diagram", str(SPECS / "lenet5.yaml"), *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
