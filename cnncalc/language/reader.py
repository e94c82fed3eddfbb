"""Read a YAML spec into plain Python values that remember where they came from.

Only YAML's standard scalar, sequence and mapping tags are accepted, so no tag can
construct a Python object; values are built straight from the parser's events and
counted as they come, so that a document over a limit, or an alias bomb ("billion
laughs"), fails fast instead of eating memory.
"""
from __future__ import annotations

import os
import re
import stat

import yaml

from ..diagnostics import Location, SpecError, cut

try:  # libyaml's parser is several times faster on large specs
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
_YAML_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML_TAG + name for name in ("str", "int", "float", "bool", "null")}
_INT, _FLOAT = _YAML_TAG + "int", _YAML_TAG + "float"
_MAP, _SEQ = _YAML_TAG + "map", _YAML_TAG + "seq"
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")  # '010': octal 8 to YAML 1.1, decimal 10 to YAML 1.2
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


def kind_of(value) -> str:
    """What a value read from YAML is, as a message names it: 'a mapping', 'int 5'."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else f"{type(value).__name__} {cut(repr(value), 40)}"  # one short line


class Budget:
    """What a spec and the files it includes have used so far of the limits they share:
    bytes read, YAML nodes built, nodes repeated through aliases, and files included."""

    def __init__(self, data: int = 0):
        self.bytes, self.nodes, self.alias_nodes, self.files = data, 0, 0, 0

    def together(self) -> str:
        """How a limit crossed is described: by one file, or by the spec with its includes."""
        return " (the spec and the files it includes, together)" if self.files else ""


def read_text(path: str, budget: Budget | None = None) -> str:
    """The file's text, or a one-line error for what cannot be a spec. Only a regular file
    is opened: opening a FIFO or a device could block, or read without end. Its bytes
    count toward `budget`, shared with the files a spec includes."""
    budget = budget or Budget()
    limit = room(budget)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise SpecError("is a directory, not a spec file", Location(path))
        if not stat.S_ISREG(mode):
            raise SpecError("not a regular file (a FIFO, device or socket), so it is not read", Location(path))
        with open(path, "rb") as handle:  # read(n) would reserve all n bytes, whatever the file holds
            data = handle.read(min(os.fstat(handle.fileno()).st_size, limit) + 1)
    except FileNotFoundError:
        raise SpecError("file not found", Location(path)) from None
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror}", Location(path)) from None
    except ValueError:  # a path with a NUL character in it
        raise SpecError("invalid file name", Location(path)) from None
    return text_of(data, path, budget)


def room(budget: Budget) -> int:
    """Bytes a file may still have: what MAX_FILE_BYTES leaves after the files read before it."""
    return max(MAX_FILE_BYTES - budget.bytes, 0)


def too_large(file: str, budget: Budget) -> SpecError:
    return SpecError(f"file is larger than {MAX_FILE_BYTES:,} bytes{budget.together()}", Location(file),
                     hint="a spec should use blocks and repeat rather than listing layers")


def text_of(data: bytes, file: str, budget: Budget) -> str:
    """A file's bytes as spec text, counted toward `budget`; refused when they are more than
    it has room for, binary, or not UTF-8."""
    if len(data) > room(budget):
        raise too_large(file, budget)
    budget.bytes += len(data)
    if b"\0" in data:
        raise SpecError("binary file (contains NUL bytes), not a YAML spec", Location(file))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        Location(file)) from None


def load_yaml(text: str, file: str = "<spec>", budget: Budget | None = None):
    """Parse YAML text into Mapping/Sequence/scalars, refusing unsafe tags. Its nodes count
    toward `budget`, shared with the files a spec includes."""
    loader = _Loader(text)
    builder = _Builder(file, loader, budget or Budget())
    try:
        return builder.document()
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
    finally:
        builder.budget.nodes, builder.budget.alias_nodes = builder.nodes, builder.alias_nodes
        loader.dispose()


_NO_KEY = object()  # a mapping frame waiting for its next key


class _Frame:
    """A mapping or sequence being built: its value, the height of what it holds so far,
    the key waiting for its value, and its anchor."""

    __slots__ = ("value", "height", "key", "key_loc", "anchor", "nodes_before")

    def __init__(self, value, anchor, nodes_before: int):
        self.value, self.height, self.key, self.key_loc = value, 0, _NO_KEY, None
        self.anchor, self.nodes_before = anchor, nodes_before


class _Builder:
    """Builds values straight from the parser's events, with no node tree in between, so a
    document over a limit is refused as soon as the limit is crossed, holding only what
    was built so far. An alias shares the value its anchor built and counts all its nodes
    again, so an alias bomb ("billion laughs") crosses its budget at once."""

    def __init__(self, file: str, loader, budget: Budget):
        self.file = file
        self.loader = loader
        self.budget = budget  # counted from where the files read before this one left it
        self.nodes = budget.nodes
        self.alias_nodes = budget.alias_nodes
        self.anchors: dict = {}  # name -> (value, nodes, height); None while its value is being built
        self.scalars: dict = {}  # (tag, text, implicit) as written -> (tag, value): specs repeat their words

    def loc(self, node) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def document(self):
        get_event, check_event = self.loader.get_event, self.loader.check_event
        get_event()  # the stream's start
        if check_event(yaml.StreamEndEvent):
            raise SpecError("the file is empty", Location(self.file, 1, 1),
                            hint="a spec is a mapping with at least 'input' and 'layers'")
        start = get_event()
        value = self.root()
        get_event()  # the document's end
        if not check_event(yaml.StreamEndEvent):
            raise yaml.composer.ComposerError("expected a single document in the stream", start.start_mark,
                                              "but found another document", self.loader.peek_event().start_mark)
        return value

    def root(self):
        """The document's value, built event by event with a stack of open collections."""
        get_event = self.loader.get_event
        stack: list[_Frame] = []
        while True:
            event = get_event()
            kind = type(event)
            if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                value, height, loc = frame.value, frame.height, frame.value.loc
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (value, self.nodes - frame.nodes_before, height)
            else:
                mark = event.start_mark
                loc = Location(self.file, mark.line + 1, mark.column + 1)
                if kind is yaml.ScalarEvent:
                    value, height = self.scalar_event(event, loc, len(stack)), 0
                elif kind is yaml.AliasEvent:
                    value, height = self.alias(event, loc, len(stack))
                else:
                    stack.append(self.collection(event, kind, loc, len(stack)))
                    continue
            if not stack:
                return value
            self.place(stack[-1], value, height, loc)

    def count(self, loc: Location, depth: int, nodes: int = 1) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise SpecError(f"the document has more than {MAX_NODES:,} YAML nodes{self.budget.together()}", loc,
                            hint="a spec should use blocks and repeat rather than listing values")
        if depth > MAX_DEPTH:
            raise SpecError(f"nesting depth above the limit of {MAX_DEPTH} levels", loc)

    def checked_tag(self, event, node_kind, loc: Location, value=None) -> str:
        """The node's tag, resolved as PyYAML's composer does, if it is a safe one."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(node_kind, value, event.implicit)
        if tag not in _SAFE_TAGS:
            raise SpecError(f"unsupported YAML tag '{tag}'", loc,
                            hint="specs may only use plain YAML values; tags such as "
                                 "!!python/... are refused because they could run code")
        wanted = {yaml.MappingNode: _MAP, yaml.SequenceNode: _SEQ}.get(node_kind)
        if wanted is not None and tag != wanted:  # '!!null {a: 1}': the tag would be ignored
            raise SpecError(f"the YAML tag '!!{tag[len(_YAML_TAG):]}' cannot mark a "
                            f"{'mapping' if wanted == _MAP else 'list'}", loc)
        if event.anchor is not None and event.anchor in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found duplicate anchor '&{event.anchor}'",
                                              event.start_mark)
        return tag

    def scalar_event(self, event, loc: Location, depth: int):
        self.count(loc, depth)
        key = (event.tag, event.value, event.implicit)
        known = self.scalars.get(key)
        if known is None:
            tag = self.checked_tag(event, yaml.ScalarNode, loc, event.value)
            value = self.scalar(yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style))
            self.scalars[key] = known = (tag, value)
        elif event.anchor is not None:
            self.checked_tag(event, yaml.ScalarNode, loc, event.value)
        if event.anchor is not None:
            self.anchors[event.anchor] = (known[1], 1, 0)
        return known[1]

    def collection(self, event, kind, loc: Location, depth: int) -> _Frame:
        self.count(loc, depth)
        if kind is yaml.MappingStartEvent:
            self.checked_tag(event, yaml.MappingNode, loc)
            value = Mapping()
            value.loc, value.key_locs, value.value_locs = loc, {}, {}
        else:
            self.checked_tag(event, yaml.SequenceNode, loc)
            value = Sequence()
            value.loc, value.item_locs = loc, []
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        return _Frame(value, event.anchor, self.nodes - 1)

    def alias(self, event, loc: Location, depth: int) -> tuple:
        """The value an alias stands for, and its height, counting its nodes again."""
        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias '*{event.anchor}'",
                                              event.start_mark)
        if self.anchors[event.anchor] is None:
            raise SpecError(f"alias '*{event.anchor}' is inside the value of its own anchor: "
                            "the value would contain itself", loc)
        value, nodes, height = self.anchors[event.anchor]
        self.alias_nodes += nodes
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise SpecError(f"aliases expand to more than {MAX_ALIAS_NODES:,} YAML nodes{self.budget.together()}", loc,
                            hint="this looks like an alias bomb (\"billion laughs\"); "
                                 "use blocks with repeat instead")
        self.count(loc, depth + height, nodes)
        return value, height

    def place(self, frame: _Frame, value, height: int, loc: Location) -> None:
        """Put a finished value into the collection being built."""
        if height >= frame.height:
            frame.height = height + 1
        container = frame.value
        if type(container) is Sequence:
            container.append(value)
            container.item_locs.append(loc)
        elif frame.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise SpecError("a mapping key must be a plain value", loc)
            if value in container:
                raise SpecError(f"duplicate key '{value}'", loc,
                                hint=f"first given at line {container.key_locs[value].line}")
            frame.key, frame.key_loc = value, loc
        else:
            container[frame.key] = value
            container.key_locs[frame.key] = frame.key_loc
            container.value_locs[frame.key] = loc
            frame.key = _NO_KEY

    def scalar(self, node):
        """A plain value, by its tag's own constructor (not construct_object: that one caches
        by node id). Numbers that YAML 1.1 (PyYAML, this reader) and YAML 1.2 (most other
        tools) read differently are refused, so that no two tools disagree about a spec."""
        kind = node.tag[len(_YAML_TAG):]
        if node.tag not in _SCALAR_TAGS:
            raise SpecError(f"the YAML tag '!!{kind}' needs a {'mapping' if kind == 'map' else 'list'}, "
                            "not a plain value", self.loc(node))
        try:
            value = _scalar_constructor.yaml_constructors[node.tag](_scalar_constructor, node)
        except (yaml.YAMLError, ValueError, LookupError):  # '!!bool maybe', '!!int ""', 5,000 digits
            shown = node.value if len(node.value) <= 40 else f"{node.value[:40]}... ({len(node.value):,} characters)"
            raise SpecError(f"invalid value for !!{kind}: {shown!r}", self.loc(node)) from None
        if node.tag in (_INT, _FLOAT) and ":" in node.value:
            raise SpecError(f"'{node.value}' is the base-60 number {value} in YAML 1.1 but text in YAML 1.2",
                            self.loc(node), hint=f"write {value}, or quote '{node.value}' if it is text")
        if node.tag != _INT or not _LEADING_ZERO.fullmatch(node.value):
            return value
        decimal = int(node.value.replace("_", ""), 10)
        if decimal != value:
            raise SpecError(f"'{node.value}' is octal {value} in YAML 1.1 but {decimal} in YAML 1.2",
                            self.loc(node), hint=f"write {value} or {decimal} without the leading zero, or quote it")
        return value
