"""A Diagram as Mermaid (renders in GitHub Markdown as it is), Graphviz DOT, or an SVG laid
out here (cnncalc.layout, no Graphviz): each node's name, type, output shape and MACs; block
instances as nested clusters."""
from __future__ import annotations

import re
import unicodedata

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


FONT = 12  # px, monospace: a character is about 0.6 em wide
CHAR, LINE, INSET = 0.6 * FONT, 15, 8  # character width, line height, text's inset in a box
FONTS = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'DejaVu Sans Mono', monospace"
SHADES = ("#eef3fb", "#e2ebf7", "#d6e2f2")  # clusters, nested ones darker
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """`text` safe in XML text and in a double-quoted attribute; any character XML 1.0 cannot
    hold (a lone surrogate, U+FFFE) written visibly instead."""
    text = _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", safe(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _text_width(text: str) -> float:
    """About how wide `text` prints: East Asian wide characters take two cells, combining marks none."""
    return CHAR * sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
                      for c in text)


def _node_size(node) -> tuple:
    lines = _label(node)
    return max(map(_text_width, lines)) + 2 * INSET, LINE * len(lines) + INSET


def _cluster_label(cluster) -> str:
    return f"{safe(cluster.name)}: {safe(cluster.label)}"


def _box(box) -> str:
    return f'x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}"'


def _route(points: list) -> str:
    """The path of an edge through `points`: from each to the next, the curve the layout chose."""
    from ..layout import controls

    steps = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for p, q in zip(points, points[1:]):
        (ax, ay), (bx, by) = controls(p, q)
        steps.append(f"C{ax:.1f},{ay:.1f} {bx:.1f},{by:.1f} {q[0]:.1f},{q[1]:.1f}")
    return " ".join(steps)


def to_svg(drawn) -> str:
    """A self-contained SVG (no font, style sheet or link to fetch), laid out by cnncalc.layout:
    cluster backgrounds, the edges (curves with arrowheads), the clusters' borders and labels,
    the node boxes. What a reader of it (`cnncalc report`) may rely on: each node a
    <g class="node" data-name=NAME> holding a <rect> and a <text> per line (name; type and
    shape; MACs when not 0), each cluster a <g class="cluster" data-name=NAME>, each edge a
    <path class="edge" data-from=NAME data-to=NAME>; the root has width, height and viewBox."""
    from ..layout import layout

    placed = layout(drawn, _node_size, lambda c: (_text_width(_cluster_label(c)), LINE))
    width, height = f"{placed.width:.0f}", f"{placed.height:.0f}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONTS}" font-size="{FONT}">',
           f"<title>{_xml(drawn.name)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    fill = {}  # a cluster a shade darker than the one around it
    for cluster in drawn.clusters:  # a parent comes before the clusters it holds
        fill[cluster.name] = SHADES[(SHADES.index(fill[cluster.parent]) + 1) % len(SHADES) if cluster.parent else 0]
    for cluster in drawn.clusters:  # backgrounds under the edges; borders and labels over them
        out.append(f'<rect {_box(placed.clusters[cluster.name])} rx="6" fill="{fill[cluster.name]}"/>')
    for (source, target), points in zip(drawn.edges, placed.edges):
        out.append(f'<path class="edge" data-from="{_xml(source)}" data-to="{_xml(target)}" d="{_route(points)}" '
                   'fill="none" stroke="#667" stroke-width="1.2" marker-end="url(#arrow)"/>')
    for cluster in drawn.clusters:
        box, label = placed.clusters[cluster.name], placed.labels[cluster.name]
        out.append(f'<g class="cluster" data-name="{_xml(cluster.name)}"><rect {_box(box)} rx="6" fill="none" '
                   f'stroke="#9db1cf"/><text x="{label[0]:.1f}" y="{label[1] + FONT:.1f}" fill="#34495e" '
                   f'stroke="{fill[cluster.name]}" stroke-width="4" paint-order="stroke">'
                   f"{_xml(_cluster_label(cluster))}</text></g>")
    for node in drawn.nodes:
        box = placed.nodes[node.name]
        out.append(f'<g class="node" data-name="{_xml(node.name)}">'
                   f'<rect {_box(box)} rx="4" fill="{"#fff8e1" if not node.type else "white"}" stroke="#4a6fa5"/>')
        for k, line in enumerate(_label(node)):  # the name in bold, then type and shape, then MACs
            weight = ' font-weight="bold"' if not k else ""
            out.append(f'<text x="{box.x + INSET:.1f}" y="{box.y + INSET / 2 + LINE * k + FONT:.1f}"{weight}>'
                       f"{_xml(line)}</text>")
        out.append("</g>")
    return "\n".join(out + ["</svg>"]) + "\n"


FORMATS = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}
