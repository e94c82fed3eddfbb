"""A Diagram as Mermaid (renders in GitHub Markdown as it is) or Graphviz DOT: each node's
name, type, output shape and MACs; block instances as nested clusters."""
from __future__ import annotations

from ..diagnostics import safe
from ..layers.base import shape_str
from . import human


def show(stream, output_format: str, drawn) -> None:
    stream.write(FORMATS[output_format](drawn))


def _label(node) -> list:
    lines = [safe(node.name), f"{safe(node.type)} {shape_str(node.output_shape)}".strip()]
    if node.macs:
        lines.append(f"{human(node.macs)} MACs")
    return lines


def _ids(drawn) -> dict:
    """Node and cluster names as identifiers both languages take: n0, n1, …; c0, …"""
    ids = {node.name: f"n{i}" for i, node in enumerate(drawn.nodes)}
    ids.update({cluster.name: f"c{i}" for i, cluster in enumerate(drawn.clusters)})
    return ids


def _nested(drawn, write_node, open_cluster, close_cluster) -> list:
    """Lines of the nodes inside their clusters, nested, in network order (a cluster is
    opened where its first node comes and closed after its last)."""
    children: dict = {}
    for cluster in drawn.clusters:
        children.setdefault(cluster.parent, []).append(cluster)
    members: dict = {}
    for node in drawn.nodes:
        members.setdefault(node.cluster[-1] if node.cluster else None, []).append(node)

    def lines(cluster_name, indent):
        out = [write_node(node, indent) for node in members.get(cluster_name, [])]
        for child in children.get(cluster_name, []):
            out.append(open_cluster(child, indent))
            out += lines(child.name, indent + 1)
            out.append(close_cluster(indent))
        return out

    return lines(None, 1)


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(drawn) -> str:
    ids = _ids(drawn)
    pad = "    "
    body = _nested(
        drawn,
        lambda node, d: f'{pad * d}{ids[node.name]}["{"<br/>".join(_mermaid_text(t) for t in _label(node))}"]',
        lambda c, d: f'{pad * d}subgraph {ids[c.name]}["{_mermaid_text(safe(c.name))}: {_mermaid_text(safe(c.label))}"]',
        lambda d: f"{pad * d}end")
    edges = [f"{pad}{ids[a]} --> {ids[b]}" for a, b in drawn.edges]
    return "\n".join(["flowchart TB", *body, *edges]) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_node(name: str, node, indent: str) -> str:
    label = "\\n".join(_dot_text(line) for line in _label(node))  # DOT's line break inside a label
    return f'{indent}{name} [label="{label}"];'


def to_dot(drawn) -> str:
    ids = _ids(drawn)
    pad = "  "
    body = _nested(
        drawn,
        lambda node, d: _dot_node(ids[node.name], node, pad * d),
        lambda c, d: f'{pad * d}subgraph cluster_{ids[c.name]} {{ label="{_dot_text(safe(c.name) + ": " + safe(c.label))}";',
        lambda d: f"{pad * d}}}")
    edges = [f"{pad}{ids[a]} -> {ids[b]};" for a, b in drawn.edges]
    return "\n".join([f'digraph "{_dot_text(safe(drawn.name))}" {{', f"{pad}node [shape=box];", *body, *edges,
                      "}"]) + "\n"


FORMATS = {"mermaid": to_mermaid, "dot": to_dot}
