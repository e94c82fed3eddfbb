"""Entries that `when` switches off, and what a name for one stands for.

A skipped entry is no layer, but a name other entries may read. It stands for:
- its `else:` when it has one (any layer, like a `from`);
- otherwise its one input (its `from`, or the entry before it);
- otherwise nothing: a skipped entry with several inputs and no `else` cannot be read.
  Reading it (by `from`, as the entry before one without `from`, as a block's output
  read by a later layer, or as the network's output) is an error that names it and
  this rule; a skipped entry that nothing reads is fine.
"""
from __future__ import annotations

from ..diagnostics import Location, SpecError
from ..network import INPUT
from .graph import Graph
from .reader import Mapping

RULE = "a skipped layer stands for its input only when it has one"


class Skipped:
    """The skipped entries of one expansion: `else` and one-input ones become aliases in
    the graph; those with several inputs and no `else` are kept here, to be refused where
    they are read (`check`)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.joins: dict[str, tuple] = {}  # name -> (entry, its inputs): stands for nothing
        self.elses: list[tuple] = []  # (name, what its else names, where): checked to name a layer

    def add(self, item: Mapping, qualified: str, prefix: str, input_ref: str, sources: list) -> None:
        aliases = self.graph.aliases
        if "else" in item:
            target = item["else"]
            loc = item.where("else")
            if isinstance(target, bool) or not isinstance(target, (str, int)):
                raise SpecError(f"'else' must name one layer, got {target!r}", loc, layer=qualified,
                                hint="e.g. else: bn (what this layer stands for when it is switched off)")
            target = input_ref if str(target) == INPUT else prefix + str(target)
            aliases[qualified] = target
            self.graph.refs_at.setdefault(target, loc)
            self.elses.append((qualified, target, loc))
        elif len(sources) == 1:
            aliases[qualified] = sources[0]
        else:
            self.joins[qualified] = (item, sources)

    def check(self, output: str, output_loc: Location | None) -> None:
        """Refuse every read of a skipped entry that stands for nothing, and an `else` that
        names no layer. Runs before the graph resolves `from`, through the same aliases.
        `output_loc` is where the network's output is named (None: its last entry)."""
        if not self.joins and not self.elses:
            return
        graph = self.graph
        known = {node.name for node in graph.nodes} | {INPUT}
        for name, target, loc in self.elses:
            final = graph.follow(target, loc)
            if final not in known and final not in self.joins:
                raise SpecError(f"'else' names '{target}', which is not a layer here", loc, layer=name,
                                hint="'else' names a layer as 'from' does: in the same list or block, or input")
        if not self.joins:
            return
        for node in graph.nodes:
            for ref in node.inputs:
                final = graph.follow(ref, node.from_loc or node.loc)
                if final in self.joins:
                    raise self.error(f"reads '{ref}'", ref, final, node.from_loc or node.loc, node.name)
        final = graph.follow(output, output_loc or Location())
        if final in self.joins:
            item = self.joins[final][0]
            raise self.error(f"the network's output is '{output}'", output, final, output_loc or item.loc, None)

    def error(self, what: str, ref: str, final: str, loc: Location, layer: str | None) -> SpecError:
        item, sources = self.joins[final]
        stands = f", which stands for '{final}'," if ref != final else ","
        inputs = ", ".join(f"'{source}'" for source in sources)
        written = item.get("from")
        example = str(written[-1]) if isinstance(written, list) and written else "NAME"
        return SpecError(f"{what}{stands} a layer switched off by 'when' that has {len(sources)} inputs "
                         f"({inputs}): {RULE}", loc, layer=layer,
                         hint=f"say what '{final}' stands for when it is off with 'else:' (e.g. else: {example}), "
                              f"or give it one input; it is at {item.loc}")
