"""The layer graph: nodes and the names that stand for them (block instances, skipped
layers), `from` read and resolved to real nodes, and the nodes put in an order where
every input comes first.

A layer with several outputs (split, chunk) is a node per piece, NAME.0, NAME.1, …; the
bare NAME is no node, and reading it is an error that names the pieces. A piece after
the first that nothing reads is left out: it computes nothing, and chunk may make fewer
pieces than asked for (its rule depends on the input's size), so an unread one must not
be required to exist. The first always exists, and stays, so that the layer's own checks
(split's sizes adding up, the axis) run even when nothing reads it."""
from __future__ import annotations

from typing import Callable, NamedTuple

from ..diagnostics import Location, SpecError
from ..network import INPUT, Node
from .reader import Mapping


class Whole(NamedTuple):
    """A layer with several outputs: its type, its pieces' names and where it is written."""

    kind: str
    pieces: tuple
    loc: Location

    def read_whole(self, ref: str, loc: Location, layer: str | None = None) -> SpecError:
        """The error for reading `ref`, which stands for all the pieces."""
        return SpecError(f"'{ref}' is a {self.kind} of {len(self.pieces)} pieces, not one output", loc, layer=layer,
                         hint=self.choice())

    def choice(self) -> str:
        first, last, count = self.pieces[0], self.pieces[-1], len(self.pieces)
        names = first if count == 1 else f"{first} or {last}" if count == 2 else f"{first} … {last}"
        return f"name one piece: {names}"


class Graph:
    def __init__(self):
        self.nodes: list[Node] = []
        self.aliases: dict[str, str] = {}  # block instances and skipped layers -> what they stand for
        self.refs_at: dict[str, Location] = {}  # where each name was first referred to
        self.wholes: dict[str, Whole] = {}  # layers with several outputs -> their pieces

    def add_whole(self, name: str, kind: str, pieces: list, loc: Location) -> None:
        self.wholes[name] = Whole(kind, tuple(pieces), loc)

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
        start, passed = ref, set()
        while ref in self.aliases:
            if ref in passed:
                raise SpecError(f"'{ref}' refers to itself", loc)
            passed.add(ref)
            ref = self.aliases[ref]
        for name in passed:
            self.aliases[name] = ref
        self._check_pieces(start, ref, loc)
        return ref

    def _check_pieces(self, ref: str, target: str, loc: Location) -> None:
        """A name for a layer of several outputs must name one of its pieces."""
        whole = self.wholes.get(target)
        if whole is not None:
            raise whole.read_whole(ref, self.refs_at.get(ref, whole.loc))
        name, _, piece = target.rpartition(".")
        whole = self.wholes.get(name)
        if whole is not None and target not in whole.pieces:
            raise SpecError(f"'{ref}' names piece {piece} of '{name}', a {whole.kind} with {len(whole.pieces)} "
                            f"piece{'s' if len(whole.pieces) > 1 else ''}", self.refs_at.get(ref, loc),
                            hint=whole.choice())

    def resolve(self, hint: Callable[[str], str]) -> list:
        """The nodes, each reading real nodes; `hint` suggests a name for one that is not."""
        known = {node.name for node in self.nodes} | {INPUT}
        for node in self.nodes:
            resolved = []
            for ref in node.inputs:
                if ref in self.wholes:  # read as written, or as the entry before (no 'from')
                    raise self.wholes[ref].read_whole(ref, node.from_loc or node.loc, node.name)
                try:
                    target = self.follow(ref, node.from_loc or node.loc)
                except SpecError as exc:
                    raise exc.located(layer=node.name) from None
                if target not in known:
                    raise SpecError(f"'from' names '{ref}', which is not a layer here", self.refs_at.get(ref, node.loc),
                                    layer=node.name, hint=hint(ref))
                resolved.append(target)
            node.inputs = resolved
        read = {ref for node in self.nodes for ref in node.inputs} | {self._peek(ref) for ref in self.refs_at}
        unread = {piece for whole in self.wholes.values() for piece in whole.pieces[1:]} - read
        if unread:
            self.nodes = [node for node in self.nodes if node.name not in unread]
        return self.nodes

    def _peek(self, ref: str) -> str:
        """What a name stands for, without raising (a name no layer reads raises elsewhere)."""
        passed = set()
        while ref in self.aliases and ref not in passed:
            passed.add(ref)
            ref = self.aliases[ref]
        return ref


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
