"""The `blocks:` table: the spec's own blocks and those of the files it includes (each
name defined once), each definition checked, an instance's block looked up (never
itself, at most MAX_BLOCK_DEPTH deep; from an included block, only among the blocks its
file can see), its `repeat` count, the scope of its arguments, and a lower bound of the
entries one instance expands to, known before expanding it."""
from __future__ import annotations

from ..diagnostics import Location, SpecError, did_you_mean
from ..layers import REGISTRY
from .. import limits  # read when used: tests lower limits.MAX_LAYERS
from ..limits import MAX_BLOCK_DEPTH
from . import expressions as expr
from . import values
from .include import Source, sources
from .keys import check_keys
from .reader import Budget, Mapping, Sequence, kind_of

BLOCK_KEYS = ("args", "layers", "output", "description")
INSTANCE_KEYS = ("block", "name", "from", "when", "else", "repeat")


class Blocks:
    def __init__(self, table: dict, variables: dict, homes: dict | None = None, where: dict | None = None):
        self.table = table  # name -> definition, from the spec and every file it includes
        self.variables = variables
        self.homes: dict[str, Source] = homes or {}  # name -> the included file it comes from
        self.where: dict[str, Location] = where or {}  # name -> where it is defined
        # names a block instance may bind over a variable, so a repeat using one is unknown until expanded
        self.bound = {"index", "repeat", *(name for block in table.values() for name in block.get("args", ()))}
        self.sizes: dict[str, int] = {}

    @classmethod
    def of(cls, doc: Mapping, variables: dict, file: str = "<spec>", budget: Budget | None = None,
           files=None) -> "Blocks":
        """The spec's `blocks:` and those of the files it includes, every definition checked."""
        table, homes, where = {}, {}, {}
        for source in sources(doc, file, variables, budget or Budget(), files):
            own = source.doc.get("blocks", Mapping())
            if not isinstance(own, Mapping):
                raise SpecError(f"'blocks' must be a mapping of block names to definitions, got {kind_of(own)}",
                                source.doc.where("blocks"))
            for name, definition in own.items():
                _check_definition(name, definition, own.where(name))
                if name in table:
                    raise SpecError(f"block '{name}' is defined twice: here and at {where[name]}", own.key_locs[name],
                                    hint="a block name must be unique across a spec and the files it includes; "
                                         "rename one of them")
                table[name], where[name] = definition, own.key_locs[name]
                if source.included:
                    homes[name] = source
        return cls(table, variables, homes, where)

    def home(self, block: str) -> Source | None:
        """The included file `block` comes from; None for the spec's own blocks."""
        return self.homes.get(block)

    def __contains__(self, name) -> bool:
        return name in self.table

    def definition(self, item: Mapping, qualified: str, stack: tuple, home: Source | None = None) -> Mapping:
        """The block an instance names, its arguments checked against the block's. `home` is
        the included file whose block holds the instance (None: the spec itself)."""
        block = item["block"]
        definition = self.table.get(block)
        if definition is not None and home is not None and block not in home.visible:
            raise SpecError(f"unknown block '{block}' in {home.file}", item.where("block"), layer=qualified,
                            hint=f"'{block}' is defined at {self.where[block]}, which {home.file} does not include; "
                                 "an included file's blocks can use only the blocks of that file and of the "
                                 "files it includes")
        if definition is None:
            hint = (f"'{block}' is a layer type: write 'type: {block}'" if block in REGISTRY
                    else did_you_mean(block, self.table if home is None else home.visible, "blocks"))
            raise SpecError(f"unknown block '{block}'", item.where("block"), layer=qualified, hint=hint)
        if block in stack:
            raise SpecError(f"block '{block}' contains itself ({_chain([*stack, block])})", item.where("block"),
                            layer=qualified, hint="blocks cannot be recursive; use repeat")
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise SpecError(f"blocks nest more than {MAX_BLOCK_DEPTH} levels deep ({_chain([*stack, block])})",
                            item.where("block"), layer=qualified,
                            hint=f"a block may hold other blocks up to {MAX_BLOCK_DEPTH} levels deep")
        check_keys(item, definition.get("args", Mapping()), "argument", extra=INSTANCE_KEYS,
                   of=f" for block '{block}'", layer=qualified)
        return definition

    def repeat(self, item: Mapping, scope: dict, qualified: str) -> int:
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

    def arguments(self, item: Mapping, scope: dict, index: int, count: int, qualified: str) -> dict:
        """The scope inside one block instance: globals, given args (evaluated in the caller's
        scope, where `index` is this repetition's), then defaults (which may use earlier args).
        An included block's globals are its own file's vars, and nothing of the caller's."""
        block = item["block"]
        params = self.table[block].get("args", Mapping())
        home = self.homes.get(block)
        caller = {**scope, "index": index}
        inner = {**(scope if home is None else home.variables), "index": index, "repeat": count}
        for name, default in params.items():
            try:
                if name in item:
                    inner[name] = values.value(item[name], caller, item.where(name))
                elif default is None:
                    raise SpecError(f"block '{block}' needs argument '{name}'", item.loc, layer=qualified,
                                    hint=f"add '{name}: ...' to this instance")
                else:
                    inner[name] = values.value(default, inner, params.where(name))
            except SpecError as exc:
                if exc.layer is None:
                    where = "" if name in item else " (its default)"
                    exc.within(f"block '{block}' argument '{name}'{where}")
                raise exc.located(item.loc, qualified) from None
        return inner

    def size(self, block: str, stack: tuple) -> int:
        """A lower bound of the entries one instance of `block` expands to: repeats given as
        expressions count once, and so does an instance with `when`, which may be skipped.
        Recursion and nesting too deep are left to the expansion, which reports them."""
        if block not in self.sizes:
            self.sizes[block] = 0  # guards against recursion
            inner = (*stack, block)
            home = self.homes.get(block)
            variables = self.variables if home is None else home.variables
            total = 0
            for item in self.table[block]["layers"]:
                if (isinstance(item, Mapping) and "when" not in item and isinstance(item.get("block"), str)
                        and item["block"] in self.table and item["block"] not in inner
                        and (home is None or item["block"] in home.visible) and len(inner) < MAX_BLOCK_DEPTH):
                    total += self._known_repeat(item.get("repeat", 1), variables) * self.size(item["block"], inner)
                else:
                    total += 1
            self.sizes[block] = min(total, limits.MAX_LAYERS + 1)
        return self.sizes[block]

    def _known_repeat(self, repeat, variables: dict) -> int:
        """A repeat count known before expansion: a number, or an expression over the
        variables of the block's file that no block argument can rebind; 1 when it is not known."""
        if isinstance(repeat, str):
            try:
                names = expr.names(repeat)
                if names - variables.keys() or names & self.bound:
                    return 1
                repeat = expr.evaluate(repeat, variables)
            except SpecError:  # reported when the instance is expanded
                return 1
        return repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat > 0 else 1


def _check_definition(name, definition, loc: Location) -> None:
    if not isinstance(definition, Mapping):
        raise SpecError(f"block '{name}' must be a mapping with 'layers' (and optional 'args')", loc)
    check_keys(definition, BLOCK_KEYS, f"key in block '{name}'")
    if name in REGISTRY:
        raise SpecError(f"block name '{name}' is already a layer type", loc, hint="give the block another name")
    if not isinstance(definition.get("layers"), Sequence) or not definition["layers"]:
        raise SpecError(f"block '{name}' needs a non-empty 'layers' list", definition.loc)
    if not isinstance(definition.get("args", Mapping()), Mapping):
        raise SpecError(f"'args' of block '{name}' must be a mapping of names to defaults (null: required)",
                        definition.where("args"))


def _chain(blocks) -> str:
    """'a -> b -> c', with the middle of a long chain left out."""
    blocks = list(blocks)
    return " -> ".join(blocks if len(blocks) <= 8 else [*blocks[:3], "...", *blocks[-3:]])
