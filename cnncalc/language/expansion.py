"""Expansion: walking layer lists into nodes. Each entry is a layer (built by its type's
class), a block instance (its layers expanded in its own scope, `repeat` times), or an
entry that `when` switches off (then a name for its input). The work is bounded: every
entry expanded counts toward limits.MAX_LAYERS, and an instance is counted, by a lower
bound of its size, before it is expanded."""
from __future__ import annotations

from ..diagnostics import Location, SpecError, did_you_mean
from ..layers import REGISTRY
from .. import limits  # read when used: tests lower limits.MAX_LAYERS
from ..network import Node
from . import expressions as expr
from . import values
from .blocks import Blocks
from .graph import Graph
from .keys import check_keys
from .naming import Names
from .reader import Mapping, Sequence, kind_of

LAYER_KEYS = ("type", "name", "from", "when", "trainable")

# Well-known layer types cnncalc lacks: a "did you mean" would offer an unrelated one
# ('upsample' -> 'subsampling', the opposite operation)
NOT_YET = {"upsample", "upsampling", "upsample2d", "interpolate", "conv_transpose1d", "conv_transpose2d",
           "convtranspose1d", "convtranspose2d", "deconv", "deconv2d", "layer_norm", "layernorm", "group_norm",
           "groupnorm", "instance_norm", "instancenorm", "lstm", "gru", "rnn", "attention",
           "multihead_attention", "transformer", "pixel_shuffle"}


class Expander:
    """Walks layer lists, expanding block instances, into `graph`; names go to `names`."""

    def __init__(self, blocks: Blocks, names: Names, graph: Graph):
        self.blocks, self.names, self.graph = blocks, names, graph
        self.visited = 0  # layer entries expanded so far, skipped ones included

    def body(self, items: Sequence, prefix: str, scope: dict, input_ref: str, path: tuple, stack: tuple) -> str:
        """Expand a list of layers; returns the qualified name of its output."""
        self._count(items.loc, len(items))  # each entry expands to one or more
        naming = self.names.in_list(items, prefix)
        previous = input_ref
        for index, item in enumerate(items):
            loc = items.where(index)
            kind = _kind(item, loc)
            name = naming.name(item, kind)
            sources = self.graph.sources(item, prefix, input_ref, previous)
            qualified = prefix + name
            enabled = _when(item, scope, qualified)
            if enabled and "block" in item:
                self.instance(item, prefix, name, scope, sources, path, stack)
            else:
                self._count(loc, layer=qualified)  # a skipped entry costs work too, so it counts
                self.visited += 1
                if enabled:
                    self.layer(item, qualified, scope, sources, path)
                else:
                    self.graph.aliases[qualified] = sources[0]
            previous = qualified
        return previous

    def _count(self, loc: Location, extra: int = 1, layer: str | None = None) -> None:
        if self.visited + extra > limits.MAX_LAYERS:
            raise SpecError(f"the spec expands to more than {limits.MAX_LAYERS:,} layers, counting skipped ones "
                            f"({self.visited:,} so far, and at least {extra:,} more here)", loc, layer=layer,
                            hint="check repeat counts")

    def layer(self, item: Mapping, qualified: str, scope: dict, sources: list, path: tuple) -> None:
        kind = item["type"]
        cls = REGISTRY.get(kind)
        if cls is None:
            hint = (f"'{kind}' is a block: write 'block: {kind}'" if kind in self.blocks
                    else f"cnncalc has no '{kind}' layer type yet; `cnncalc layers` lists the types it has"
                    if kind in NOT_YET else did_you_mean(kind, REGISTRY, "layer types"))
            raise SpecError(f"unknown layer type '{kind}'", item.where("type"), layer=qualified, hint=hint)
        check_keys(item, cls.args, "argument", extra=LAYER_KEYS, of=f" for {kind}", layer=qualified)
        raw = {key: value for key, value in item.items() if key not in LAYER_KEYS}
        for key, value in raw.items():
            values.bounded(value, item.where(key), qualified)
        try:
            layer = cls.from_spec(raw, lambda text: expr.evaluate(text, scope))
        except SpecError as exc:
            raise exc.located(item.where(exc.arg) if exc.arg else item.loc, qualified) from None
        if cls.arity == 1 and len(sources) != 1:
            raise SpecError(f"{kind} takes one input, but 'from' names {len(sources)}", item.where("from"),
                            layer=qualified, hint="merge them first with concat or add")
        if cls.arity is None and len(sources) < 2:
            raise SpecError(f"{kind} joins two or more inputs; 'from' must list them", item.where("from"),
                            layer=qualified, hint="e.g. from: [branch1, branch2]")
        trainable = item.get("trainable", True)
        if not isinstance(trainable, bool):
            raise SpecError(f"'trainable' must be true or false, got {trainable!r}", item.where("trainable"),
                            layer=qualified)
        self.graph.nodes.append(Node(qualified, layer, sources, item.loc, item.value_locs,
                                     item.value_locs.get("from"), path, trainable))

    def instance(self, item: Mapping, prefix: str, local: str, scope: dict, sources: list, path: tuple,
                 stack: tuple) -> None:
        block = item["block"]
        qualified = prefix + local
        definition = self.blocks.definition(item, qualified, stack)
        if len(sources) != 1:
            raise SpecError(f"block '{block}' takes one input, but 'from' names {len(sources)}",
                            item.where("from"), layer=qualified)
        repeated = "repeat" in item
        count = self.blocks.repeat(item, scope, qualified) if repeated else 1
        self._count(item.where("repeat"), count * self.blocks.size(block, stack), qualified)
        previous = sources[0]
        label = f"{block}×{count}" if repeated else block
        aliases = self.graph.aliases
        for index in range(count):
            inner_scope = self.blocks.arguments(item, scope, index, count, qualified)
            name = f"{qualified}.{index}" if repeated else qualified
            inner_path = (*path, (local, label), (str(index), block)) if repeated else (*path, (local, label))
            output = self.body(definition["layers"], name + ".", inner_scope, previous, inner_path, (*stack, block))
            if "output" in definition:
                output = name + "." + str(definition["output"])
                self.graph.refs_at.setdefault(output, definition.where("output"))
            aliases[name] = output
            previous = name
        if repeated:
            aliases[qualified] = previous


def _kind(item, loc: Location) -> str:
    """An entry's layer type or block name."""
    if not isinstance(item, Mapping):
        raise SpecError(f"a layer must be a mapping such as {{type: relu}}, got {item!r}", loc)
    kind = item.get("block") if "block" in item else item.get("type")
    if "block" in item and "type" in item:
        raise SpecError("a layer has either 'type' or 'block', not both", loc)
    if kind is None:
        raise SpecError("a layer needs 'type' (a layer type) or 'block' (a block name)", loc,
                        hint="e.g. {type: conv2d, out_channels: 16, kernel_size: 3}")
    if not isinstance(kind, str):
        key = "block" if "block" in item else "type"
        raise SpecError(f"'{key}' must be a name, got {kind_of(kind)}", item.where(key),
                        hint="run 'cnncalc layers' for the layer types" if key == "type" else None)
    return kind


def _when(item: Mapping, scope: dict, qualified: str) -> bool:
    if "when" not in item:
        return True
    value = item["when"]
    if isinstance(value, str):
        try:
            value = expr.evaluate(value, scope)
        except SpecError as exc:
            raise exc.located(item.where("when"), qualified) from None
    if not isinstance(value, bool):
        raise SpecError(f"'when' must be true or false, got {value!r}", item.where("when"), layer=qualified)
    return value
