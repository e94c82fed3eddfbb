"""Expansion: walking layer lists into nodes. Each entry is a layer (built by its type's
class), a block instance (its layers expanded in its own scope, `repeat` times), or an
entry that `when` switches off (then a name for its one input or its `else`; see
skipped.py). The work is bounded: every
entry expanded counts toward limits.MAX_LAYERS, and an instance is counted, by a lower
bound of its size, before it is expanded."""
from __future__ import annotations

from ..diagnostics import Location, SpecError, did_you_mean
from ..layers import REGISTRY
from .. import limits  # read when used: tests lower limits.MAX_LAYERS
from ..network import Node
from . import deferred
from . import expressions as expr
from . import values
from .blocks import Blocks
from .graph import Graph
from .keys import check_keys
from .include import Source
from .naming import Names
from .reader import Mapping, Sequence, kind_of
from .skipped import Skipped

LAYER_KEYS = ("type", "name", "from", "when", "else", "trainable")

# Well-known layer types cnncalc lacks: a "did you mean" would offer an unrelated one
NOT_YET = {"lstm", "gru", "rnn", "attention", "multihead_attention", "transformer"}
# Other tools' spellings of types cnncalc has, where closeness of letters would mislead
# ('upsampling' -> 'subsampling', the opposite operation)
SPELLINGS = {"upsampling": "upsample", "upsample2d": "upsample", "deconv": "conv_transpose2d",
             "deconv2d": "conv_transpose2d", "convtranspose1d": "conv_transpose1d",
             "convtranspose2d": "conv_transpose2d", "convtranspose3d": "conv_transpose3d",
             "layernorm": "layer_norm", "groupnorm": "group_norm", "instancenorm": "instance_norm",
             "pixelshuffle": "pixel_shuffle", "swish": "silu", "hard_swish": "hardswish"}


class Expander:
    """Walks layer lists, expanding block instances, into `graph`; names go to `names`."""

    def __init__(self, blocks: Blocks, names: Names, graph: Graph):
        self.blocks, self.names, self.graph = blocks, names, graph
        self.skipped = Skipped(graph)
        self.visited = 0  # layer entries expanded so far, skipped ones included

    def body(self, items: Sequence, prefix: str, scope: dict, input_ref: str, path: tuple, stack: tuple,
             home: Source | None = None) -> str:
        """Expand a list of layers; returns the qualified name of its output. `home` is the
        included file whose block this list is (None: the spec itself)."""
        self._count(items.loc, len(items))  # each entry expands to one or more
        naming = self.names.in_list(items, prefix)
        lists = values.list_names(scope)
        previous = input_ref
        for index, item in enumerate(items):
            loc = items.where(index)
            kind = _kind(item, loc)
            name = naming.name(item, kind)
            sources = self.graph.sources(item, prefix, input_ref, previous)
            qualified = prefix + name
            enabled = _when(item, scope, qualified)
            if enabled and "block" in item:
                self.instance(item, prefix, name, scope, sources, path, stack, home)
            else:
                self._count(loc, layer=qualified)  # a skipped entry costs work too, so it counts
                self.visited += 1
                if enabled:  # an argument whose expression gives a list (`kernel_size: kernel`) takes it
                    self.layer(values.with_lists(item, LAYER_KEYS, scope, lists), qualified, scope, sources, path)
                else:
                    self.skipped.add(item, qualified, prefix, input_ref, sources)
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
                    else f"did you mean '{SPELLINGS[kind]}'?" if SPELLINGS.get(kind) in REGISTRY
                    else f"cnncalc has no '{kind}' layer type yet; `cnncalc layers` lists the types it has"
                    if kind in NOT_YET else did_you_mean(kind, REGISTRY, "layer types"))
            raise SpecError(f"unknown layer type '{kind}'", item.where("type"), layer=qualified, hint=hint)
        check_keys(item, cls.args, "argument", extra=LAYER_KEYS, of=f" for {kind}", layer=qualified)
        raw = {key: value for key, value in item.items() if key not in LAYER_KEYS}
        for key, value in raw.items():
            values.bounded(value, item.where(key), qualified)
        try:
            layer = deferred.make(cls, raw, scope)  # made now, or when its input's shape is known
        except SpecError as exc:
            raise exc.located(item.where(exc.arg) if exc.arg else item.loc, qualified) from None
        counts = (cls.arity,) if isinstance(cls.arity, int) else cls.arity  # None: two or more
        if counts is not None and len(sources) not in counts:
            said = " or ".join(_INPUTS.get(count, str(count)) for count in counts)
            raise SpecError(f"{kind} takes {said} input{'s' if max(counts) > 1 else ''}, but 'from' names "
                            f"{len(sources)}", item.where("from"), layer=qualified,
                            hint="merge them first with concat or add" if counts == (1,)
                            else "e.g. from: [a, b], in that order")
        if cls.arity is None and len(sources) < 2:
            raise SpecError(f"{kind} joins two or more inputs; 'from' must list them", item.where("from"),
                            layer=qualified, hint="e.g. from: [branch1, branch2]")
        trainable = item.get("trainable", True)
        if not isinstance(trainable, bool):
            raise SpecError(f"'trainable' must be true or false, got {trainable!r}", item.where("trainable"),
                            layer=qualified)
        pieces = layer.pieces()
        if pieces is not None:  # a layer of several outputs: one node for each, NAME.0, NAME.1, …
            self._count(item.loc, len(pieces), qualified)
            self.visited += len(pieces)
            _piece_nodes(self, item, qualified, pieces, sources, path, trainable)
            return
        self.graph.nodes.append(Node(qualified, layer, sources, item.loc, item.value_locs,
                                     item.value_locs.get("from"), path, trainable))

    def instance(self, item: Mapping, prefix: str, local: str, scope: dict, sources: list, path: tuple,
                 stack: tuple, home: Source | None = None) -> None:
        block = item["block"]
        qualified = prefix + local
        definition = self.blocks.definition(item, qualified, stack, home)
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
            output = self.body(definition["layers"], name + ".", inner_scope, previous, inner_path, (*stack, block),
                               self.blocks.home(block))
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
        if "else" in item:
            raise SpecError("'else' says what a layer stands for when 'when' switches it off, but there is no "
                            "'when'", item.key_locs["else"], layer=qualified,
                            hint="add 'when: CONDITION', or remove 'else'")
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


_INPUTS = {1: "one", 2: "two", 3: "three"}


def _piece_nodes(expander: Expander, item: Mapping, qualified: str, pieces: list, sources: list, path: tuple,
                 trainable: bool) -> None:
    """The nodes NAME.0, NAME.1, … of a layer with several outputs, each reading its input;
    the bare NAME is recorded as standing for them all (graph.Graph.wholes)."""
    names = [f"{qualified}.{index}" for index in range(len(pieces))]
    defined = expander.names.defined
    for name in names:
        if name in defined:
            raise SpecError(f"duplicate layer name '{name}': the {item['type']} '{qualified}' names its pieces "
                            f"{names[0]} … {names[-1]}", item.loc, layer=qualified,
                            hint=f"the other '{name}' is at {defined[name]}; rename one of them")
        defined[name] = item.loc
    expander.graph.add_whole(qualified, str(item["type"]), names, item.loc)
    for name, piece in zip(names, pieces):
        expander.graph.nodes.append(Node(name, piece, list(sources), item.loc, item.value_locs,
                                         item.value_locs.get("from"), path, trainable))
