"""Layer names: each entry's name (given, or `<type>_<n>`), checked for validity, length
and uniqueness, and the "did you mean" hint for a reference that names no layer."""
from __future__ import annotations

from ..diagnostics import Location, SpecError, closest
from ..limits import MAX_NAME
from ..network import INPUT
from .reader import Mapping, Sequence


class Names:
    """Every qualified name given so far, with where it was given."""

    def __init__(self, file: str):
        self.defined: dict[str, Location] = {INPUT: Location(file)}

    def in_list(self, items: Sequence, prefix: str) -> "ListNames":
        return ListNames(self, items, prefix)

    def hint(self, ref: str) -> str:
        """The nearest name in the same list or block as `ref`."""
        prefix, _, local = ref.rpartition(".")
        candidates = [n for n in self.defined if n.startswith(prefix + "." if prefix else "")]
        candidates = [n[len(prefix) + 1:] if prefix else n for n in candidates]
        near = closest(local if prefix else ref, candidates)
        return f"did you mean '{near}'?" if near else "names refer to earlier layers in the same list or block"


class ListNames:
    """Names the entries of one layer list: `<type>_<n>` counts per type within the list
    and skips the names given explicitly anywhere in it."""

    def __init__(self, names: Names, items: Sequence, prefix: str):
        self.names, self.prefix = names, prefix
        self.explicit = {item["name"] for item in items
                         if isinstance(item, Mapping) and isinstance(item.get("name"), (str, int))}
        self.counters: dict[str, int] = {}

    def name(self, item: Mapping, kind) -> str:
        """The entry's name within its list (unqualified), recorded as taken."""
        name = _given(item) if "name" in item else self._automatic(str(kind))
        qualified = self.prefix + name
        defined = self.names.defined
        if qualified in defined:
            raise SpecError(f"duplicate layer name '{qualified}'", item.where("name"),
                            hint=f"first defined at {defined[qualified]}; names must be unique")
        defined[qualified] = item.where("name") if "name" in item else item.loc
        return name

    def _automatic(self, base: str) -> str:
        while True:
            self.counters[base] = self.counters.get(base, 0) + 1
            name = f"{base}_{self.counters[base]}"
            if name not in self.explicit:
                return name


def _given(item: Mapping) -> str:
    name = item["name"]
    if isinstance(name, bool):  # YAML 1.1 reads yes/no/on/off as booleans
        raise SpecError(f"invalid layer name {name!r}: YAML reads this word as a boolean",
                        item.where("name"), hint="quote the name, e.g. name: 'yes'")
    if not isinstance(name, (str, int)) or not _valid(str(name)) or name == INPUT:
        raise SpecError(f"invalid layer name {name!r}", item.where("name"),
                        hint="names use letters, digits, _ . -; 'input' is reserved")
    if len(str(name)) > MAX_NAME:
        raise SpecError(f"layer name of {len(str(name)):,} characters, above the limit of {MAX_NAME}",
                        item.where("name"))
    return str(name)


def _valid(name: str) -> bool:
    """Letters and digits of any script, _ . and -, starting with a letter, digit or _."""
    return name[:1] not in ("", ".", "-") and ("_" + name.replace(".", "_").replace("-", "_")).isidentifier()
