"""Read a YAML spec into plain Python values that remember where they came from.

Only YAML's standard scalar, sequence and mapping tags are accepted, so no tag can
construct a Python object, and aliases are expanded under a budget, so an alias
bomb ("billion laughs") fails fast instead of eating memory.
"""
from __future__ import annotations

import yaml

from ..errors import Location, SpecError

try:  # libyaml's composer is several times faster on large specs
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_NODES = 2_000_000
MAX_ALIAS_NODES = 100_000  # nodes built again because an alias repeats them: an alias bomb fails fast
MAX_DEPTH = 64

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq")
}
_scalar_constructor = yaml.constructor.SafeConstructor()


class Mapping(dict):
    """A YAML mapping: `loc` is where it starts, `key_locs`/`value_locs` per key."""

    loc: Location
    key_locs: dict
    value_locs: dict

    def where(self, key) -> Location:
        return self.value_locs.get(key, self.loc)


class Sequence(list):
    """A YAML sequence: `loc` is where it starts, `item_locs` per item."""

    loc: Location
    item_locs: list

    def where(self, index: int) -> Location:
        return self.item_locs[index] if index < len(self.item_locs) else self.loc


def read_text(path: str) -> str:
    """The file's text, or a one-line error for what cannot be a spec."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("file not found", Location(path)) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", Location(path)) from None
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror}", Location(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES:,} bytes", Location(path),
                        hint="a spec should use blocks and repeat rather than listing layers")
    if b"\0" in data:
        raise SpecError("binary file (contains NUL bytes), not a YAML spec", Location(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        Location(path)) from None


def load_yaml(text: str, file: str = "<spec>"):
    """Parse YAML text into Mapping/Sequence/scalars, refusing unsafe tags."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", loc,
                        hint="check indentation, colons and brackets near this line") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a control character
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - text.rfind("\n", 0, exc.position)
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise SpecError(f"YAML error: character #x{code:04x} is not allowed ({exc.reason})",
                        Location(file, line, col)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                        Location(file)) from None
    if node is None:
        raise SpecError("the file is empty", Location(file, 1, 1),
                        hint="a spec is a mapping with at least 'input' and 'layers'")
    return _Builder(file).build(node, 0)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.nodes = 0
        self.seen: set = set()  # ids of the nodes built so far; a node seen again is an alias
        self.alias_nodes = 0

    def loc(self, node) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def build(self, node, depth: int, aliased: bool = False):
        self.nodes += 1
        if aliased or id(node) in self.seen:
            aliased = True
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise SpecError(f"aliases expand to more than {MAX_ALIAS_NODES:,} YAML nodes", self.loc(node),
                                hint="this looks like an alias bomb (\"billion laughs\"); "
                                     "use blocks with repeat instead")
        else:
            self.seen.add(id(node))
        if self.nodes > MAX_NODES:
            raise SpecError(f"the document expands to more than {MAX_NODES:,} YAML nodes "
                            "(aliases repeated too often?)", self.loc(node),
                            hint="this looks like an alias bomb; use blocks with repeat instead")
        if depth > MAX_DEPTH:
            raise SpecError(f"nesting deeper than {MAX_DEPTH} levels", self.loc(node))
        if node.tag not in _SAFE_TAGS:
            raise SpecError(f"unsupported YAML tag '{node.tag}'", self.loc(node),
                            hint="specs may only use plain YAML values; tags such as "
                                 "!!python/... are refused because they could run code")
        if isinstance(node, yaml.MappingNode):
            result = Mapping()
            result.loc, result.key_locs, result.value_locs = self.loc(node), {}, {}
            for key_node, value_node in node.value:
                key = self.build(key_node, depth + 1, aliased)
                if isinstance(key, (dict, list)):
                    raise SpecError("a mapping key must be a plain value", self.loc(key_node))
                if key in result:
                    raise SpecError(f"duplicate key '{key}'", self.loc(key_node),
                                    hint=f"first given at line {result.key_locs[key].line}")
                result[key] = self.build(value_node, depth + 1, aliased)
                result.key_locs[key] = self.loc(key_node)
                result.value_locs[key] = self.loc(value_node)
            return result
        if isinstance(node, yaml.SequenceNode):
            result = Sequence()
            result.loc = self.loc(node)
            result.item_locs = []
            for item in node.value:
                result.append(self.build(item, depth + 1, aliased))
                result.item_locs.append(self.loc(item))
            return result
        try:
            # The tag's own constructor, not construct_object: that one caches by node id.
            return _scalar_constructor.yaml_constructors[node.tag](_scalar_constructor, node)
        except yaml.YAMLError as exc:
            raise SpecError(f"invalid value: {exc}", self.loc(node)) from None
        except ValueError:  # e.g. an integer of more digits than Python converts (4,300)
            raise SpecError(f"invalid value: {node.value[:40]}... ({len(node.value):,} characters)",
                            self.loc(node)) from None
