"""Turn a parsed YAML spec into a Network: evaluate variables, expand blocks and
repeats, name every layer, resolve `from` references and order the graph."""
from __future__ import annotations

import re

from ..diagnostics import Location, SpecError, closest, cut, did_you_mean
from ..gcpause import without_cycle_collection
from ..layers import REGISTRY
from .. import limits  # read when used: tests lower limits.MAX_LAYERS
from ..limits import MAX_BLOCK_DEPTH, MAX_DIM, MAX_NAME, MAX_RANK
from ..network import DTYPES, INPUT, Network, Node
from . import expressions as expr
from .reader import Mapping, Sequence, load_yaml, read_text

TOP_KEYS = ("name", "description", "input", "dtype", "vars", "blocks", "layers", "output", "expect")
LAYER_KEYS = ("type", "name", "from", "when", "trainable")
INSTANCE_KEYS = ("block", "name", "from", "when", "repeat")
BLOCK_KEYS = ("args", "layers", "output", "description")


@without_cycle_collection
def load(path: str, *, variables: dict | None = None, input_shape=None) -> Network:
    """Read and build the spec at `path`. `variables` override its `vars:`."""
    return build(load_yaml(read_text(path), path), path, variables=variables, input_shape=input_shape)


@without_cycle_collection
def loads(text: str, file: str = "<spec>", **options) -> Network:
    return build(load_yaml(text, file), file, **options)


def build(doc, file: str, *, variables: dict | None = None, input_shape=None) -> Network:
    if not isinstance(doc, Mapping):
        raise SpecError(f"a spec must be a mapping (with 'input' and 'layers'), got {_kind(doc)}",
                        getattr(doc, "loc", Location(file, 1, 1)))
    _check_keys(doc, TOP_KEYS, "top-level key")
    for key in ("input", "layers"):
        if key not in doc:
            raise SpecError(f"missing required top-level key '{key}'", doc.loc,
                            hint="a spec needs 'input' (e.g. [3, 224, 224]) and 'layers'")
    scope = _variables(doc, variables or {})
    shape = input_shape if input_shape is not None else doc["input"]
    shape_loc = doc.where("input")
    dims = _input_shape(shape, shape_loc, scope)
    dtype = doc.get("dtype", "float32")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r}", doc.where("dtype"),
                        hint=did_you_mean(str(dtype), DTYPES, "dtypes"))
    blocks = doc.get("blocks", Mapping())
    if not isinstance(blocks, Mapping):
        raise SpecError(f"'blocks' must be a mapping of block names to definitions, got {_kind(blocks)}",
                        doc.where("blocks"))
    for name, definition in blocks.items():
        _check_block(name, definition, blocks.where(name))
    layers = doc["layers"]
    if not isinstance(layers, Sequence) or not layers:
        raise SpecError("'layers' must be a non-empty list", doc.where("layers"))
    expander = _Expander(file, blocks, scope)
    output = expander.body(layers, "", scope, INPUT, (), ())
    if "output" in doc:
        output = _qualify("", str(doc["output"]), INPUT)
        expander.refs_at[output] = doc.where("output")
    nodes = _order(expander.resolve())
    output = expander.follow(output, doc.where("output") if "output" in doc else doc.loc)
    if output not in {node.name for node in nodes}:
        if "output" in doc:
            raise SpecError(f"'output' names '{doc['output']}', which is not a layer", doc.where("output"),
                            hint=expander._hint(output))
        if output == INPUT:
            raise SpecError("the network has no layers: every layer is switched off by 'when'",
                            doc.where("layers"))
        raise SpecError(f"the network's output '{output}' is not a layer", expander.refs_at.get(output, doc.loc),
                        hint=expander._hint(output))
    expect = doc.get("expect")
    if expect is not None and not isinstance(expect, Mapping):
        raise SpecError(f"'expect' must be a mapping, got {_kind(expect)}", doc.where("expect"))
    name = doc.get("name") or file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return Network(str(name), file, dims, shape_loc, dtype, nodes, output, scope, expect)


# Well-known layer types cnncalc lacks: a "did you mean" would offer an unrelated one
# ('upsample' -> 'subsampling', the opposite operation)
NOT_YET = {"upsample", "upsampling", "upsample2d", "interpolate", "conv_transpose1d", "conv_transpose2d",
           "convtranspose1d", "convtranspose2d", "deconv", "deconv2d", "layer_norm", "layernorm", "group_norm",
           "groupnorm", "instance_norm", "instancenorm", "lstm", "gru", "rnn", "attention",
           "multihead_attention", "transformer", "pixel_shuffle"}


def _kind(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else f"{type(value).__name__} {cut(repr(value), 40)}"  # one short line


def _check_keys(mapping: Mapping, allowed, what: str, extra=(), *, of: str = "", layer: str | None = None) -> None:
    for key in mapping:
        if key not in allowed and key not in extra:
            # `stride: (2, 2)` inside { } reads as two entries, 'stride: (2' and '2)'
            hint = ("write lists as [2, 2], not (2, 2)" if str(key).endswith(")")
                    else did_you_mean(key, [*allowed, *extra], "allowed"))
            raise SpecError(f"unknown {what} '{key}'{of}", mapping.key_locs[key], layer=layer, hint=hint)


def _variables(doc: Mapping, overrides: dict) -> dict:
    """Top-level vars in order (each may use the ones before it), with overrides."""
    declared = doc.get("vars", Mapping())
    if not isinstance(declared, Mapping):
        raise SpecError(f"'vars' must be a mapping of names to values, got {_kind(declared)}", doc.where("vars"))
    for name in overrides:
        if name not in declared:
            raise SpecError(f"--set {name}: the spec has no variable '{name}'", getattr(declared, "loc", doc.loc),
                            hint=did_you_mean(name, declared, "variables"))
    scope: dict = {}
    for name, value in declared.items():
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_]\w*$", name) or name in ("index", INPUT):
            raise SpecError(f"invalid variable name {name!r}", declared.key_locs[name],
                            hint="variable names are identifiers; 'index' and 'input' are reserved")
        raw = overrides.get(name, value)
        try:
            scope[name] = _value(raw, scope, declared.where(name))
        except SpecError as exc:
            if name in overrides:  # the fault is on the command line, not in the spec's value
                exc.within(f"--set {name}={raw}")
            raise
    return scope


def _value(raw, scope: dict, loc: Location):
    """A variable or block argument: expressions evaluated; plain words stay strings."""
    if isinstance(raw, str):
        text = raw.strip()
        if re.match(r"^[A-Za-z_]\w*$", text) and text not in scope and text not in ("true", "false", "True", "False"):
            return text  # a word such as 'same', passed on to a layer argument
        try:
            return expr.evaluate(text, scope)
        except SpecError as exc:
            raise exc.located(loc) from None
    if isinstance(raw, list):
        return [_value(item, scope, loc) for item in raw]
    if isinstance(raw, dict):
        raise SpecError("a value cannot be a mapping here", loc)
    return _bounded(raw, loc)


def _bounded(raw, loc: Location, layer: str | None = None):
    """A number written in the spec is held to the bound of expression values, so that no
    figure computed from it grows too large to print."""
    if isinstance(raw, list):
        for item in raw:
            _bounded(item, loc, layer)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and abs(raw) > expr.MAX_MAGNITUDE:
        raise SpecError(f"a number beyond the limit of {expr.MAX_MAGNITUDE:.0e}", loc, layer=layer)
    return raw


def _input_shape(shape, loc: Location, scope: dict) -> tuple:
    if isinstance(shape, (int, str)) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or not shape:
        raise SpecError(f"'input' must be a list of sizes such as [3, 224, 224], got {shape!r}", loc)
    if len(shape) > MAX_RANK:
        raise SpecError(f"'input' has {len(shape)} axes, above the limit of {MAX_RANK}", loc)
    dims = []
    for dim in shape:
        value = _value(dim, scope, loc)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"input sizes must be positive integers, got {value!r} in {list(shape)}", loc)
        if value > MAX_DIM:
            raise SpecError(f"input size {value:,} is above the limit of {MAX_DIM:,}", loc)
        dims.append(value)
    return tuple(dims)


def _check_block(name, definition, loc: Location) -> None:
    if not isinstance(definition, Mapping):
        raise SpecError(f"block '{name}' must be a mapping with 'layers' (and optional 'args')", loc)
    _check_keys(definition, BLOCK_KEYS, f"key in block '{name}'")
    if name in REGISTRY:
        raise SpecError(f"block name '{name}' is already a layer type", loc, hint="give the block another name")
    if not isinstance(definition.get("layers"), Sequence) or not definition["layers"]:
        raise SpecError(f"block '{name}' needs a non-empty 'layers' list", definition.loc)
    if not isinstance(definition.get("args", Mapping()), Mapping):
        raise SpecError(f"'args' of block '{name}' must be a mapping of names to defaults (null: required)",
                        definition.where("args"))


def _qualify(prefix: str, ref: str, input_ref: str) -> str:
    return input_ref if ref == INPUT else prefix + ref


def _valid_name(name: str) -> bool:
    """Letters and digits of any script, _ . and -, starting with a letter, digit or _."""
    return name[:1] not in ("", ".", "-") and ("_" + name.replace(".", "_").replace("-", "_")).isidentifier()


def _chain(blocks) -> str:
    """'a -> b -> c', with the middle of a long chain left out."""
    blocks = list(blocks)
    return " -> ".join(blocks if len(blocks) <= 8 else [*blocks[:3], "...", *blocks[-3:]])


class _Expander:
    """Walks layer lists, expanding block instances; records nodes and name aliases."""

    def __init__(self, file: str, blocks: Mapping, variables: dict):
        self.blocks = blocks
        self.variables = variables
        # names a block instance may bind over a variable, so a repeat using one is unknown until expanded
        self.bound = {"index", "repeat", *(name for block in blocks.values() for name in block.get("args", ()))}
        self.nodes: list[Node] = []
        self.aliases: dict[str, str] = {}  # block instances and skipped layers -> what they stand for
        self.defined: dict[str, Location] = {INPUT: Location(file)}
        self.refs_at: dict[str, Location] = {}
        self.sizes: dict[str, int] = {}
        self.visited = 0  # layer entries expanded so far, skipped ones included

    def body(self, items: Sequence, prefix: str, scope: dict, input_ref: str, path: tuple, stack: tuple) -> str:
        """Expand a list of layers; returns the qualified name of its output."""
        self._count(items.loc, len(items))  # each entry expands to one or more
        explicit = {item["name"] for item in items
                    if isinstance(item, Mapping) and isinstance(item.get("name"), (str, int))}
        counters: dict[str, int] = {}
        previous = input_ref
        for index, item in enumerate(items):
            loc = items.where(index)
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
                raise SpecError(f"'{key}' must be a name, got {_kind(kind)}", item.where(key),
                                hint="run 'cnncalc layers' for the layer types" if key == "type" else None)
            name = self._name(item, kind, explicit, counters, prefix)
            sources = self._sources(item, prefix, input_ref, previous)
            enabled = self._when(item, scope, prefix + name)
            qualified = prefix + name
            if enabled and "block" in item:
                self.instance(item, prefix, name, scope, sources, path, stack)
            else:
                self._count(loc, layer=qualified)  # a skipped entry costs work too, so it counts
                self.visited += 1
                if enabled:
                    self.layer(item, qualified, scope, sources, path)
                else:
                    self.aliases[qualified] = sources[0]
            previous = qualified
        return previous

    def _name(self, item: Mapping, kind, explicit: set, counters: dict, prefix: str) -> str:
        if "name" in item:
            name = item["name"]
            if isinstance(name, bool):  # YAML 1.1 reads yes/no/on/off as booleans
                raise SpecError(f"invalid layer name {name!r}: YAML reads this word as a boolean",
                                item.where("name"), hint="quote the name, e.g. name: 'yes'")
            if not isinstance(name, (str, int)) or not _valid_name(str(name)) or name == INPUT:
                raise SpecError(f"invalid layer name {name!r}", item.where("name"),
                                hint="names use letters, digits, _ . -; 'input' is reserved")
            if len(str(name)) > MAX_NAME:
                raise SpecError(f"layer name of {len(str(name)):,} characters, above the limit of {MAX_NAME}",
                                item.where("name"))
            name = str(name)
        else:
            base = str(kind)
            while True:
                counters[base] = counters.get(base, 0) + 1
                name = f"{base}_{counters[base]}"
                if name not in explicit:
                    break
        qualified = prefix + name
        if qualified in self.defined:
            first = self.defined[qualified]
            raise SpecError(f"duplicate layer name '{qualified}'", item.where("name"),
                            hint=f"first defined at {first}; names must be unique")
        self.defined[qualified] = item.where("name") if "name" in item else item.loc
        return name

    def _sources(self, item: Mapping, prefix: str, input_ref: str, previous: str) -> list:
        raw = item.get("from")
        if raw is None:
            return [previous]
        refs = raw if isinstance(raw, list) else [raw]
        if not refs or not all(isinstance(ref, (str, int)) and not isinstance(ref, bool) for ref in refs):
            raise SpecError(f"'from' must be a layer name or a list of names, got {raw!r}", item.where("from"))
        qualified = [_qualify(prefix, str(ref), input_ref) for ref in refs]
        for ref in qualified:
            self.refs_at.setdefault(ref, item.where("from"))
        return qualified

    def _when(self, item: Mapping, scope: dict, qualified: str) -> bool:
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
        _check_keys(item, cls.args, "argument", extra=LAYER_KEYS, of=f" for {kind}", layer=qualified)
        raw = {key: value for key, value in item.items() if key not in LAYER_KEYS}
        for key, value in raw.items():
            _bounded(value, item.where(key), qualified)
        try:
            layer = cls.from_spec(raw, lambda text: expr.evaluate(text, scope))
        except SpecError as exc:
            raise exc.located(item.where(exc.arg) if exc.arg else item.loc, qualified) from None
        if cls.arity == 1 and len(sources) != 1:
            raise SpecError(f"{kind} takes one input, but 'from' names {len(sources)}", item.where("from"),
                            layer=qualified, hint="merge them first with concat or add")
        if cls.arity is None and len(sources) < 2:
            raise SpecError(f"{kind} joins two or more inputs; 'from' must list them", item.where("from"),
                            layer=qualified, hint=f"e.g. from: [branch1, branch2]")
        trainable = item.get("trainable", True)
        if not isinstance(trainable, bool):
            raise SpecError(f"'trainable' must be true or false, got {trainable!r}", item.where("trainable"),
                            layer=qualified)
        self.nodes.append(Node(qualified, layer, sources, item.loc, item.value_locs,
                               item.value_locs.get("from"), path, trainable))

    def instance(self, item: Mapping, prefix: str, local: str, scope: dict, sources: list, path: tuple,
                 stack: tuple) -> None:
        block = item["block"]
        qualified = prefix + local
        definition = self.blocks.get(block)
        if definition is None:
            hint = (f"'{block}' is a layer type: write 'type: {block}'" if block in REGISTRY
                    else did_you_mean(block, self.blocks, "blocks"))
            raise SpecError(f"unknown block '{block}'", item.where("block"), layer=qualified, hint=hint)
        if block in stack:
            raise SpecError(f"block '{block}' contains itself ({_chain([*stack, block])})", item.where("block"),
                            layer=qualified, hint="blocks cannot be recursive; use repeat")
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise SpecError(f"blocks nest more than {MAX_BLOCK_DEPTH} levels deep ({_chain([*stack, block])})",
                            item.where("block"), layer=qualified,
                            hint=f"a block may hold other blocks up to {MAX_BLOCK_DEPTH} levels deep")
        params = definition.get("args", Mapping())
        _check_keys(item, params, "argument", extra=INSTANCE_KEYS, of=f" for block '{block}'", layer=qualified)
        if len(sources) != 1:
            raise SpecError(f"block '{block}' takes one input, but 'from' names {len(sources)}",
                            item.where("from"), layer=qualified)
        repeated = "repeat" in item
        count = self._repeat(item, scope, qualified) if repeated else 1
        self._count(item.where("repeat"), count * self._size(block, stack), qualified)
        previous = sources[0]
        label = f"{block}×{count}" if repeated else block
        for index in range(count):
            inner_scope = self._arguments(item, params, scope, index, count, qualified, block)
            name = f"{qualified}.{index}" if repeated else qualified
            inner_path = (*path, (local, label), (str(index), block)) if repeated else (*path, (local, label))
            output = self.body(definition["layers"], name + ".", inner_scope, previous, inner_path, (*stack, block))
            if "output" in definition:
                output = name + "." + str(definition["output"])
                self.refs_at.setdefault(output, definition.where("output"))
            self.aliases[name] = output
            previous = name
        if repeated:
            self.aliases[qualified] = previous

    def _repeat(self, item: Mapping, scope: dict, qualified: str) -> int:
        value = item["repeat"]
        try:
            value = expr.evaluate(value, scope) if isinstance(value, str) else value
        except SpecError as exc:
            raise exc.located(item.where("repeat"), qualified) from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"'repeat' must be a positive integer, got {value!r}", item.where("repeat"),
                            layer=qualified)
        if value > limits.MAX_LAYERS:
            raise SpecError(f"'repeat' is {value:,}, above the limit of {limits.MAX_LAYERS:,} layers",
                            item.where("repeat"), layer=qualified)
        return value

    def _size(self, block: str, stack: tuple) -> int:
        """A lower bound of the entries one instance of `block` expands to: repeats given as
        expressions count once, and so does an instance with `when`, which may be skipped.
        Recursion and nesting too deep are left to the expansion, which reports them."""
        if block not in self.sizes:
            self.sizes[block] = 0  # guards against recursion
            inner = (*stack, block)
            total = 0
            for item in self.blocks[block]["layers"]:
                if (isinstance(item, Mapping) and "when" not in item and isinstance(item.get("block"), str)
                        and item["block"] in self.blocks and item["block"] not in inner
                        and len(inner) < MAX_BLOCK_DEPTH):
                    total += self._known_repeat(item.get("repeat", 1)) * self._size(item["block"], inner)
                else:
                    total += 1
            self.sizes[block] = min(total, limits.MAX_LAYERS + 1)
        return self.sizes[block]

    def _known_repeat(self, repeat) -> int:
        """A repeat count known before expansion: a number, or an expression over the spec's
        variables that no block argument can rebind; 1 when it is not known."""
        if isinstance(repeat, str):
            try:
                names = expr.names(repeat)
                if names - self.variables.keys() or names & self.bound:
                    return 1
                repeat = expr.evaluate(repeat, self.variables)
            except SpecError:  # reported when the instance is expanded
                return 1
        return repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat > 0 else 1

    def _arguments(self, item: Mapping, params: Mapping, scope: dict, index: int, count: int,
                   qualified: str, block: str) -> dict:
        """The scope inside one block instance: globals, given args (evaluated in the caller's
        scope, where `index` is this repetition's), then defaults (which may use earlier args)."""
        caller = {**scope, "index": index}
        inner = {**scope, "index": index, "repeat": count}
        for name, default in params.items():
            try:
                if name in item:
                    inner[name] = _value(item[name], caller, item.where(name))
                elif default is None:
                    raise SpecError(f"block '{block}' needs argument '{name}'", item.loc, layer=qualified,
                                    hint=f"add '{name}: ...' to this instance")
                else:
                    inner[name] = _value(default, inner, params.where(name))
            except SpecError as exc:
                if exc.layer is None:
                    where = "" if name in item else " (its default)"
                    exc.within(f"block '{block}' argument '{name}'{where}")
                raise exc.located(item.loc, qualified) from None
        return inner

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

    def resolve(self) -> list:
        known = {node.name for node in self.nodes} | {INPUT}
        for node in self.nodes:
            resolved = []
            for ref in node.inputs:
                target = self.follow(ref, node.from_loc or node.loc)
                if target not in known:
                    raise SpecError(f"'from' names '{ref}', which is not a layer here", self.refs_at.get(ref, node.loc),
                                    layer=node.name, hint=self._hint(ref))
                resolved.append(target)
            node.inputs = resolved
        return self.nodes

    def _hint(self, ref: str) -> str:
        prefix, _, local = ref.rpartition(".")
        candidates = [n for n in self.defined if n.startswith(prefix + "." if prefix else "")]
        candidates = [n[len(prefix) + 1:] if prefix else n for n in candidates]
        near = closest(local if prefix else ref, candidates)
        return f"did you mean '{near}'?" if near else "names refer to earlier layers in the same list or block"


def _order(nodes: list) -> list:
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
