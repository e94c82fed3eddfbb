"""The layer graph: nodes and the names that stand for them (block instances, skipped
layers), `from` read and resolved to real nodes, and the nodes put in an order where
every input comes first."""
from __future__ import annotations

from typing import Callable

from ..diagnostics import Location, SpecError
from ..network import INPUT, Node
from .reader import Mapping


class Graph:
    def __init__(self):
        self.nodes: list[Node] = []
        self.aliases: dict[str, str] = {}  # block instances and skipped layers -> what they stand for
        self.refs_at: dict[str, Location] = {}  # where each name was first referred to

    def sources(self, item: Mapping, prefix: str, input_ref: str, previous: str) -> list:
        """The qualified names an entry reads: its `from`, else the previous entry."""
        raw = item.get("from")
        if raw is None:
            return [previous]
        refs = raw if isinstance(raw, list) else [raw]
        if not refs or not all(isinstance(ref, (str, int)) and not isinstance(ref, bool) for ref in refs):
            raise SpecError(f"'from' must be a layer name or a list of names, got {raw!r}", item.where("from"))
        qualified = [input_ref if str(ref) == INPUT else prefix + str(ref) for ref in refs]
        for ref in qualified:
            self.refs_at.setdefault(ref, item.where("from"))
        return qualified

    def follow(self, ref: str, loc: Location) -> str:
        """The real node a name stands for, through instance and skipped-layer aliases. Every
        name passed on the way is then pointed straight at it, so a long chain is walked once."""
        passed = set()
        while ref in self.aliases:
            if ref in passed:
                raise SpecError(f"'{ref}' refers to itself", loc)
            passed.add(ref)
            ref = self.aliases[ref]
        for name in passed:
            self.aliases[name] = ref
        return ref

    def resolve(self, hint: Callable[[str], str]) -> list:
        """The nodes, each reading real nodes; `hint` suggests a name for one that is not."""
        known = {node.name for node in self.nodes} | {INPUT}
        for node in self.nodes:
            resolved = []
            for ref in node.inputs:
                target = self.follow(ref, node.from_loc or node.loc)
                if target not in known:
                    raise SpecError(f"'from' names '{ref}', which is not a layer here", self.refs_at.get(ref, node.loc),
                                    layer=node.name, hint=hint(ref))
                resolved.append(target)
            node.inputs = resolved
        return self.nodes


def order(nodes: list) -> list:
    """Inputs before the layers that use them, keeping the spec's order where it allows;
    a cycle is an error naming it."""
    by_name = {node.name: node for node in nodes}
    state: dict[str, int] = {}  # 1: on the current path, 2: placed
    ordered = []
    for root in nodes:
        if state.get(root.name):
            continue
        stack = [(root, 0)]
        state[root.name] = 1
        while stack:
            node, position = stack[-1]
            if position < len(node.inputs):
                stack[-1] = (node, position + 1)
                child = by_name.get(node.inputs[position])
                if child is None:
                    continue
                if state.get(child.name) == 1:
                    names = [n.name for n, _ in stack]
                    cycle = names[names.index(child.name):] + [child.name]
                    raise SpecError(f"the layers form a cycle: {' -> '.join(reversed(cycle))}",
                                    node.from_loc or node.loc, layer=node.name,
                                    hint="'from' must not lead back to a layer's own output")
                if not state.get(child.name):
                    state[child.name] = 1
                    stack.append((child, 0))
            else:
                stack.pop()
                state[node.name] = 2
                ordered.append(node)
    return ordered
