"""Values a spec gives by name or by number: the top-level `vars:` (with --set overrides),
a variable's or block argument's value (a number, a word, or a list of them), layer
arguments whose expression gives a list, the bound on numbers written in the spec, and
the input shape."""
from __future__ import annotations

import re

from ..diagnostics import Location, SpecError, did_you_mean
from ..limits import MAX_DIM, MAX_RANK
from ..network import INPUT
from . import expressions as expr
from .reader import Mapping, kind_of


def variables(doc: Mapping, overrides: dict, sizes: frozenset = frozenset()) -> dict:
    """Top-level vars in order (each may use the ones before it), with overrides; `--set`
    may also give a number to a symbolic input size (`sizes`: input: [3, H, W])."""
    declared = doc.get("vars", Mapping())
    if not isinstance(declared, Mapping):
        raise SpecError(f"'vars' must be a mapping of names to values, got {kind_of(declared)}", doc.where("vars"))
    for name in overrides:
        if name not in declared and name not in sizes:
            raise SpecError(f"--set {name}: the spec has no variable '{name}'", getattr(declared, "loc", doc.loc),
                            hint=did_you_mean(name, [*declared, *sizes], "variables and input sizes"))
    scope: dict = {}
    for name, raw in declared.items():
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_]\w*$", name) or name in ("index", INPUT):
            raise SpecError(f"invalid variable name {name!r}", declared.key_locs[name],
                            hint="variable names are identifiers; 'index' and 'input' are reserved")
        raw = overrides.get(name, raw)
        try:
            scope[name] = value(raw, scope, declared.where(name))
        except SpecError as exc:
            if name in overrides:  # the fault is on the command line, not in the spec's value
                exc.within(f"--set {name}={raw}")
            raise
    for name in sizes & overrides.keys() - declared.keys():
        try:
            scope[name] = value(overrides[name], scope, getattr(declared, "loc", doc.loc))
        except SpecError as exc:
            raise exc.within(f"--set {name}={overrides[name]}") from None
    return scope


def size_names(shape) -> frozenset:
    """The input sizes written as a bare name (input: [3, H, W]): symbols unless a variable
    gives them a value."""
    entries = shape if isinstance(shape, list) else [shape]
    return frozenset(entry.strip() for entry in entries
                     if isinstance(entry, str) and re.match(r"^\s*[A-Za-z_]\w*\s*$", entry))


def value(raw, scope: dict, loc: Location):
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
        return [value(item, scope, loc) for item in raw]
    if isinstance(raw, dict):
        raise SpecError("a value cannot be a mapping here", loc)
    return bounded(raw, loc)


def list_names(scope: dict) -> frozenset:
    """The variables and block arguments in `scope` that hold a list."""
    return frozenset(name for name, held in scope.items() if isinstance(held, list))


def with_lists(item: Mapping, skip, scope: dict, lists: frozenset) -> Mapping:
    """`item` with every argument (keys not in `skip`) whose expression gives a list replaced
    by that list, so that `kernel_size: kernel` takes a block argument `kernel: [1, 7]` as
    if the list were written there. Only an expression that names a list (`lists`) or
    writes one (`[k, 2 * k]`) is evaluated here; anything else, and any expression that
    fails, is left to the layer, which reports it at its argument."""
    changed = None
    for key, raw in item.items():
        if isinstance(raw, str) and key not in skip:
            held = _list(raw, scope, lists)
            if held is not None:
                changed = changed or {}
                changed[key] = held
    if changed is None:
        return item
    copy = Mapping({**item, **changed})
    copy.loc, copy.key_locs, copy.value_locs = item.loc, item.key_locs, item.value_locs
    return copy


def listed(raw: dict, scope: dict, lists: frozenset) -> dict:
    """`raw` (a layer's arguments) with every expression that gives a list replaced by it."""
    held = {key: _list(text, scope, lists) if isinstance(text, str) else None for key, text in raw.items()}
    return {key: text if held[key] is None else held[key] for key, text in raw.items()}


def _list(text: str, scope: dict, lists: frozenset) -> list | None:
    """The list expression `text` gives, if it names or writes one; None otherwise."""
    if not ("[" in text or lists and _names(text) & lists):
        return None
    try:
        held = expr.evaluate(text, scope)
    except SpecError:
        return None
    return held if isinstance(held, list) else None


def _names(text: str) -> set:
    try:
        return expr.names(text)
    except SpecError:  # not an expression (a word such as 'same' is one); the layer reports it
        return set()


def bounded(raw, loc: Location, layer: str | None = None):
    """A number written in the spec is held to the bound of expression values, so that no
    figure computed from it grows too large to print."""
    if isinstance(raw, list):
        for item in raw:
            bounded(item, loc, layer)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and abs(raw) > expr.MAX_MAGNITUDE:
        raise SpecError(f"a number beyond the limit of {expr.MAX_MAGNITUDE:.0e}", loc, layer=layer)
    return raw


def input_shape(shape, loc: Location, scope: dict, witnesses=()) -> tuple:
    """The sizes of `input:` (or --input), each a positive integer within MAX_DIM, or a
    symbol (a bare name that no variable defines), whose witness is the number at its axis
    in `witnesses` (the spec's own input), else 224."""
    if isinstance(shape, (int, str)) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or not shape:
        raise SpecError(f"'input' must be a list of sizes such as [3, 224, 224], got {shape!r}", loc)
    if len(shape) > MAX_RANK:
        raise SpecError(f"'input' has {len(shape)} axes, above the limit of {MAX_RANK}", loc)
    dims = []
    for axis, dim in enumerate(shape):
        if isinstance(dim, str) and dim.strip() in size_names(shape) and dim.strip() not in scope:
            dims.append(_symbol(dim.strip(), axis, witnesses, scope, loc))
            continue
        size = value(dim, scope, loc)
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SpecError(f"input sizes must be positive integers, got {size!r} in {list(shape)}", loc)
        if size > MAX_DIM:
            raise SpecError(f"input size {size:,} is above the limit of {MAX_DIM:,}", loc)
        dims.append(size)
    return tuple(dims)


def _symbol(name: str, axis: int, witnesses, scope: dict, loc: Location):
    from ..symbolic import DEFAULT_WITNESS, MAX_SYMBOL, Size

    if len(name) > MAX_SYMBOL:
        raise SpecError(f"input size names are at most {MAX_SYMBOL} characters, got one of {len(name):,}", loc,
                        hint="formulas repeat the name many times; use a short one such as H")
    near = did_you_mean(name, scope)
    if near:  # more likely a misspelt variable than a new symbol
        raise SpecError(f"input size '{name}' is not a variable", loc,
                        hint=f"{near} (a name that no variable defines makes the size a symbol)")
    written = witnesses[axis] if axis < len(witnesses) else None
    witness = written if isinstance(written, int) and not isinstance(written, bool) and written > 0 else DEFAULT_WITNESS
    return Size.symbol(name, witness)
