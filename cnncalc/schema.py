"""The JSON Schema (draft 2020-12) of the spec language, generated from the layer registry
and the language's own key lists, so that it cannot drift from what cnncalc accepts.

Editors (yaml-language-server) use it to complete layer types and each type's arguments,
show their help and flag unknown keys. It checks what a schema can: a layer's keys,
required arguments and the kind of each value. What needs the network (shapes, names in
`from`, the values of expressions) is left to `cnncalc check`. The package ships the
result as spec.schema.json; tests/test_schema.py checks that it equals `generate()`.
"""
from __future__ import annotations

import json

from .language.blocks import BLOCK_KEYS, INSTANCE_KEYS
from .language.build import LIBRARY_KEYS, TOP_KEYS
from .language.expansion import LAYER_KEYS
from .language.expectations import BUDGETS, LAYER_KEYS as EXPECT_LAYER_KEYS, TOTALS
from .layers import REGISTRY, Arg
from .network import DTYPES

EXPRESSION = {"type": "string", "description": "an expression of variables and block arguments, e.g. 2 * width"}
NAME = {"type": ["string", "integer"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


_INTEGERS = {None: "integer", 0: "count", 1: "positive"}  # $defs names of the integer kinds


def _int(minimum) -> dict:
    return _ref(_INTEGERS[minimum])


def _integer(minimum) -> dict:
    number = {"type": "integer"} if minimum is None else {"type": "integer", "minimum": minimum}
    return {"anyOf": [number, _ref("expression")]}


def _sizes(arg: Arg, rank: int | None, entry: dict) -> dict:
    listed = {"type": "array", "items": entry}
    if rank is not None:
        listed.update(minItems=rank, maxItems=rank)
    return {"anyOf": [_int(arg.minimum), listed, _ref("expression")]}


def _kind(arg: Arg, rank: int | None) -> dict:
    """The schema of one argument's values, by its kind."""
    kind = arg.kind
    if kind == "int":
        return _int(arg.minimum)
    if kind == "float":
        return {"anyOf": [{"type": "number"}, _ref("expression")]}
    if kind == "bool":
        return {"anyOf": [{"type": "boolean"}, _ref("expression")]}
    if kind == "sizes":
        return _sizes(arg, rank, _int(arg.minimum))
    if kind == "optional_sizes":
        return _sizes(arg, rank, {"anyOf": [{"type": "null"}, _int(arg.minimum)]})
    if kind == "choice_or_sizes":
        return {"anyOf": [{"enum": list(arg.choices)}, _sizes(arg, rank, _int(arg.minimum))]}
    if kind == "choice":
        return {"enum": list(arg.choices)}
    if kind == "ints":
        return {"anyOf": [{"type": "array", "items": _int(arg.minimum)}, _ref("expression")]}
    if kind == "int_lists":
        rows = {"type": "array", "items": {"type": "array", "items": _int(arg.minimum)}, "minItems": 1}
        return {"anyOf": [rows, _ref("expression")]}
    raise ValueError(f"no schema for argument kind '{kind}'")


def _per_axis(arg: Arg, rank: int | None) -> dict:
    """An argument whose class converts values itself (resampling's PerAxis, pad's sizes):
    one value, or a list of one per axis."""
    one = _int(arg.minimum) if arg.kind == "ints" else _kind(arg, rank)
    item = {"anyOf": [{"type": "null"}, one]} if getattr(arg, "allow_null_items", False) else one
    return {"anyOf": [one, {"type": "array", "items": item, "minItems": 1}]}


def _argument(name: str, arg: Arg, rank: int | None) -> dict:
    values = _kind(arg, rank) if type(arg).convert is Arg.convert else _per_axis(arg, rank)
    schema = {"description": arg.doc or name, **values}
    if not arg.required and arg.default is not None:
        schema["default"] = arg.default
    return schema


_ENTRY_KEYS = {
    "name": {**NAME, "description": "the entry's name (letters, digits, _ . -); others refer to it in 'from'"},
    "from": {"description": "the layer(s) this one reads; default: the previous entry",
             "anyOf": [NAME, {"type": "array", "items": NAME, "minItems": 1}]},
    "when": {"description": "a condition; false switches the entry off",
             "anyOf": [{"type": "boolean"}, _ref("expression")]},
    "else": {**NAME, "description": "what a switched-off entry stands for (a layer name)"},
}
_LAYER_ONLY = {
    "type": {"description": "the layer type (`cnncalc layers` lists them)", "enum": sorted(REGISTRY)},
    "trainable": {"type": "boolean", "description": "false: its parameters are frozen"},
}
_INSTANCE_ONLY = {
    "block": {"type": "string", "description": "the block (from 'blocks:') this entry instantiates"},
    "repeat": {"description": "how many times the block is chained", **_int(1)},
}


def _layer_type(cls) -> dict:
    """The `then` of one layer type: its arguments (with the layer keys), nothing else."""
    properties = {key: True for key in LAYER_KEYS}  # their schemas are the layer's, outside the `then`
    properties["type"] = {"const": cls.type, "description": _category(cls)}
    properties.update((name, _argument(name, arg, cls.rank)) for name, arg in cls.args.items())
    then = {"properties": properties, "additionalProperties": False}
    required = [name for name, arg in cls.args.items() if arg.required]
    if required:
        then["required"] = required
    return {"if": {"properties": {"type": {"const": cls.type}}, "required": ["type"]}, "then": then}


def _category(cls) -> str:
    inputs = {None: "two or more inputs", 1: "one input"}.get(cls.arity, f"{cls.arity} inputs")
    return f"{cls.type}: {cls.category}, {inputs}"


def _layer_keys() -> dict:
    return {key: {**_ENTRY_KEYS, **_LAYER_ONLY}[key] for key in LAYER_KEYS}


def _layer() -> dict:
    return {"type": "object", "description": "a layer: its type, its arguments and the layer keys",
            "required": ["type"], "properties": _layer_keys(),
            "allOf": [_layer_type(cls) for _, cls in sorted(REGISTRY.items())]}


def _instance() -> dict:
    keys = {**_ENTRY_KEYS, **_INSTANCE_ONLY}
    return {"type": "object", "description": "a block instance; its other keys are the block's arguments",
            "required": ["block"], "not": {"required": ["type"]},
            "properties": {key: keys[key] for key in INSTANCE_KEYS},
            "additionalProperties": _ref("value")}


def _block() -> dict:
    properties = {
        "args": {"type": "object", "description": "the block's arguments and their defaults (null: required)",
                 "additionalProperties": {"anyOf": [{"type": "null"}, _ref("value")]}},
        "layers": _ref("layers"),
        "output": {**NAME, "description": "the entry whose output is the block's (default: the last)"},
        "description": {"type": "string"},
    }
    return {"type": "object", "required": ["layers"], "additionalProperties": False,
            "properties": {key: properties[key] for key in BLOCK_KEYS}}


def _expect() -> dict:
    amount = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[0-9][0-9,_]*(\.[0-9]+)?\s*\w*\s*$"}],
              "description": "a number such as 1516, '25.6M' or '1.5GiB'"}
    shape = {"type": "array", "items": {"type": "integer"}, "description": "a shape such as [10]"}
    layer = {"type": "object", "additionalProperties": False,
             "properties": {key: shape if key == "output_shape" else amount for key in EXPECT_LAYER_KEYS}}
    properties = {key: amount for key in (*TOTALS, *BUDGETS)}
    properties.update(output_shape=shape, layers={"type": "object", "additionalProperties": layer,
                                                  "description": "figures of named layers"})
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "description": "figures the network must have (cnncalc check)"}


def _top() -> dict:
    names = {"type": "string", "pattern": r"^[A-Za-z_]\w*$"}
    return {
        "name": {"type": ["string", "number"], "description": "the network's name (default: the file's)"},
        "description": {"type": "string"},
        "include": {"description": "files whose blocks this spec uses, relative to it",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "input": {"description": "the input shape per sample, e.g. [3, 224, 224] (names are symbols)",
                  "anyOf": [_int(1), {"type": "array", "items": _int(1), "minItems": 1}]},
        "dtype": {"enum": list(DTYPES), "default": "float32", "description": "the element type"},
        "vars": {"type": "object", "description": "variables, each may use the ones before it",
                 "propertyNames": names, "additionalProperties": _ref("value")},
        "blocks": {"type": "object", "description": "reusable sub-networks, used as {block: NAME}",
                   "propertyNames": {"not": {"enum": sorted(REGISTRY)}}, "additionalProperties": _ref("block")},
        "layers": _ref("layers"),
        "output": {**NAME, "description": "the layer whose output is the network's (default: the last)"},
        "expect": _ref("expect"),
    }


def generate() -> dict:
    """The schema, as a JSON-ready dict."""
    top = _top()
    library = {"required": ["blocks"], "not": {"anyOf": [{"required": ["input"]}, {"required": ["layers"]}]}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cnncalc spec",
        "description": "A CNN described for cnncalc: input, layers (and blocks), expectations.",
        "type": "object",
        "properties": {key: top[key] for key in TOP_KEYS},
        "additionalProperties": False,
        # a file of blocks alone is a block library; anything else is a network
        "if": library, "then": {"propertyNames": {"enum": list(LIBRARY_KEYS)}},
        "else": {"required": ["input", "layers"]},
        "$defs": {
            "expression": EXPRESSION,
            **{name: _integer(minimum) for minimum, name in _INTEGERS.items()},
            "value": {"anyOf": [{"type": ["number", "string", "boolean"]}, {"type": "array"}]},
            "layers": {"type": "array", "minItems": 1, "items": _ref("entry")},
            "entry": {"if": {"type": "object", "required": ["block"]}, "then": _ref("instance"),
                      "else": _ref("layer")},
            "layer": _layer(),
            "instance": _instance(),
            "block": _block(),
            "expect": _expect(),
        },
    }


def text() -> str:
    """The schema as the package ships it (spec.schema.json)."""
    return json.dumps(generate(), indent=1) + "\n"
