"""Values a spec gives by name or by number: the top-level `vars:` (with --set overrides),
a variable's or block argument's value, the bound on numbers written in the spec, and
the input shape."""
from __future__ import annotations

import re

from ..diagnostics import Location, SpecError, did_you_mean
from ..limits import MAX_DIM, MAX_RANK
from ..network import INPUT
from . import expressions as expr
from .reader import Mapping, kind_of


def variables(doc: Mapping, overrides: dict) -> dict:
    """Top-level vars in order (each may use the ones before it), with overrides."""
    declared = doc.get("vars", Mapping())
    if not isinstance(declared, Mapping):
        raise SpecError(f"'vars' must be a mapping of names to values, got {kind_of(declared)}", doc.where("vars"))
    for name in overrides:
        if name not in declared:
            raise SpecError(f"--set {name}: the spec has no variable '{name}'", getattr(declared, "loc", doc.loc),
                            hint=did_you_mean(name, declared, "variables"))
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
    return scope


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


def bounded(raw, loc: Location, layer: str | None = None):
    """A number written in the spec is held to the bound of expression values, so that no
    figure computed from it grows too large to print."""
    if isinstance(raw, list):
        for item in raw:
            bounded(item, loc, layer)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and abs(raw) > expr.MAX_MAGNITUDE:
        raise SpecError(f"a number beyond the limit of {expr.MAX_MAGNITUDE:.0e}", loc, layer=layer)
    return raw


def input_shape(shape, loc: Location, scope: dict) -> tuple:
    """The sizes of `input:` (or --input), each a positive integer within MAX_DIM."""
    if isinstance(shape, (int, str)) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or not shape:
        raise SpecError(f"'input' must be a list of sizes such as [3, 224, 224], got {shape!r}", loc)
    if len(shape) > MAX_RANK:
        raise SpecError(f"'input' has {len(shape)} axes, above the limit of {MAX_RANK}", loc)
    dims = []
    for dim in shape:
        size = value(dim, scope, loc)
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SpecError(f"input sizes must be positive integers, got {size!r} in {list(shape)}", loc)
        if size > MAX_DIM:
            raise SpecError(f"input size {size:,} is above the limit of {MAX_DIM:,}", loc)
        dims.append(size)
    return tuple(dims)
