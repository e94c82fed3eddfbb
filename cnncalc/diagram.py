"""The network as a graph to draw (`cnncalc diagram`): one node per layer (or per folded
block instance under --depth), its edges, and the block instances as nested clusters."""
from __future__ import annotations

from typing import NamedTuple

from .network import INPUT


class Node(NamedTuple):
    name: str  # a layer's qualified name, a folded block instance's, or "input"
    type: str
    output_shape: tuple
    macs: int
    cluster: tuple  # the qualified names of the block instances holding it, outermost first


class Cluster(NamedTuple):
    name: str  # the block instance's qualified name: "layer1.0"
    label: str  # its block: "basic", "basic×2"
    parent: str | None


class Diagram(NamedTuple):
    name: str
    nodes: list
    edges: list  # (from node name, to node name), each once, in the order the network reads them
    clusters: list


def diagram(summary, depth: int | None = None) -> Diagram:
    """The graph of `summary`'s layers; with `depth`, every block instance nested deeper
    than `depth` levels is one node (as `summary --depth` folds it)."""
    from .fold import fold

    rows = summary.layers if depth is None else fold(summary.layers, depth)
    owner = {INPUT: INPUT}  # each layer's node: itself, or the folded row holding it
    for record in summary.layers:
        owner[record.name] = record.name if depth is None or len(record.scope) < depth else \
            ".".join(segment for segment, _ in record.scope[:depth])
    clusters: dict = {}
    nodes = [Node(INPUT, "", tuple(summary.input_shape), 0, ())]  # no type: the network's input
    for row in rows:
        path: list = []  # the block instances around the row (a folded row is not inside itself)
        for level, (_, label) in enumerate(row.scope):
            name = ".".join(segment for segment, _ in row.scope[:level + 1])
            if name == row.name:
                break
            clusters.setdefault(name, Cluster(name, label, path[-1] if path else None))
            path.append(name)
        nodes.append(Node(row.name, row.type, tuple(row.output_shape), row.macs, tuple(path)))
    edges, seen = [], set()
    for record in summary.layers:
        for source in record.inputs:
            edge = (owner[source], owner[record.name])
            if edge[0] != edge[1] and edge not in seen:
                seen.add(edge)
                edges.append(edge)
    return Diagram(summary.name, nodes, edges, list(clusters.values()))
