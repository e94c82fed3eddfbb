"""When each activation dies: the one schedule that the forward pass follows and the
memory estimate assumes."""
from __future__ import annotations

from ..network import INPUT


def schedule(network) -> list:
    """[(node, names)] in node order: the values no later node reads, freed once the node
    has run (its inputs read for the last time, or its own output when nothing reads it).
    The network's input (its caller holds it) and its output never die."""
    last = {}  # value -> index of the last node that reads (or, unread, makes) it
    for index, node in enumerate(network.nodes):
        last[node.name] = index
        last.update(dict.fromkeys(node.inputs, index))
    dying = [[] for _ in network.nodes]
    for name, index in last.items():
        if name not in (INPUT, network.output):
            dying[index].append(name)
    return list(zip(network.nodes, dying))
