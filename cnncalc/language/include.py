"""`include:`: the blocks of other spec files, brought into a spec.

Each path is resolved relative to the folder of the file that names it (that folder as
the file is named: a symlinked spec includes from the link's folder), and must stay
inside the spec's repository: the nearest folder from the spec's own (the file being
built) up that holds `.git`, or without one the spec's own folder. A `..` that climbs out of it, or a symlink
that leads out of it, is refused before anything is opened. Included files may include
others: each file is read once however often it is named (a diamond is fine), a cycle is
an error naming the chain, and the chain's depth, the number of files, and their bytes
and YAML nodes (counted together with the spec's own) are bounded. Every value read from
an included file remembers that file, so every error is located in it.

What a file brings is its `blocks:` only. Its blocks keep their own scope: their
arguments and defaults, and that file's own `vars:` (evaluated there, untouched by
`--set`), and they can name only the blocks of their file and of what it includes. The
rest of an included file (a network's `input`, `layers`, `expect`) is not used."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..diagnostics import Location, SpecError
from . import values
from .keys import check_keys
from .reader import Budget, Mapping, Sequence, kind_of, load_yaml, read_text

MAX_INCLUDE_DEPTH = 16  # files in one chain of includes, the spec not counted
MAX_INCLUDE_FILES = 100  # distinct files a spec includes, directly or not
MAX_INCLUDE_ENTRIES = 1000  # paths listed under `include:`, in the spec and its includes together
INCLUDED_KEYS = ("name", "description", "input", "dtype", "vars", "blocks", "layers", "output", "expect",
                 "include")
ROOT_HINT = ("include paths are relative to the including file and must stay inside the spec's repository "
             "(the nearest folder above it with .git, or without one the spec's own folder)")


@dataclass(eq=False)
class Source:
    """One file whose blocks a spec can use: the spec itself, or a file it includes."""

    file: str  # as messages show it: joined to the including file's path as written
    real: str  # its real path: symlinks resolved
    doc: Mapping
    variables: dict  # its own `vars:`, evaluated in it (for the spec itself: with --set)
    included: bool  # False for the spec itself
    visible: set = field(default_factory=set)  # block names its blocks can name: its own and its includes'


def sources(doc: Mapping, file: str, variables: dict, budget: Budget, files=None) -> list:
    """Every file the spec includes (each once, a file before the files that include it),
    then the spec itself. `files` finds and reads them: the file system (Disk) unless
    given, or a git revision (cnncalc.revision.FilesAt)."""
    if "include" not in doc:
        return [Source(file, "", doc, variables, False)]
    return _Reader(files or Disk(file), budget).read(doc, file, variables)


class Disk:
    """Included files as the file system has them: `real` is a file's real path."""

    def __init__(self, spec: str):
        self.top = os.path.realpath(_named(spec))
        self.root = _repository(os.path.realpath(os.path.dirname(_named(spec))))

    def read(self, real: str, budget: Budget) -> str:
        return read_text(real, budget)

    def resolve(self, path: str, loc: Location, including: Source) -> tuple:
        """The path as messages show it, and the real file it leads to, which must be inside the root."""
        relative(path, loc)
        shown_folder = "" if including.file.startswith("<") else os.path.dirname(including.file)
        display = os.path.normpath(os.path.join(shown_folder, path))
        folder = os.path.dirname(_named(including.file))
        real = os.path.realpath(os.path.join(folder, path))  # symlinks and '..' as the file system takes them
        lexical = os.path.normpath(os.path.join(os.path.realpath(folder), path))  # '..' as written
        if not _inside(real, self.root):
            through = " through a symlink" if _inside(lexical, self.root) else ""
            raise outside(path, loc, f"{through}: it is {real}, outside {self.root}")
        return display, real


def relative(path: str, loc: Location) -> None:
    """Refuse an include path that is not relative, or not a path."""
    if os.path.isabs(path) or path.startswith("~"):
        raise SpecError(f"include '{path}' is not a relative path", loc, hint=ROOT_HINT)
    if "\0" in path:
        raise SpecError("include path has a NUL character in it", loc)


def outside(path: str, loc: Location, how: str) -> SpecError:
    return SpecError(f"include '{path}' leads outside the repository{how}", loc, hint=ROOT_HINT)


class _Reader:
    def __init__(self, files, budget: Budget):
        self.budget = budget
        self.files = files
        self.top = files.top
        self.loaded: dict[str, Source] = {}  # real path -> the file, read and checked
        self.order: list[Source] = []
        self.entries = 0  # include paths listed so far

    def read(self, doc: Mapping, file: str, variables: dict) -> list:
        spec = Source(file, self.top, doc, variables, False)
        spec.visible = self.includes(spec, (self.top,), (file,))
        self.order.append(spec)
        return self.order

    def includes(self, source: Source, chain: tuple, shown: tuple) -> set:
        """The block names `source` can use: its own, and those of every file it includes,
        each of which is read (once) with its own includes first."""
        visible = set(_blocks(source.doc))
        for path, loc in _paths(source.doc):
            self.entries += 1
            if self.entries > MAX_INCLUDE_ENTRIES:
                raise SpecError(f"the spec and its includes list more than {MAX_INCLUDE_ENTRIES:,} include paths", loc,
                                hint="name each file once")
            display, real = self.files.resolve(path, loc, source)
            if real in chain:
                cycle = [*shown[list(chain).index(real):], display]
                raise SpecError(f"include cycle: {_chain(cycle)}", loc,
                                hint="files may include each other only in one direction; move the shared "
                                     "blocks into a file that both include")
            included = self.loaded.get(real)
            if included is None:
                included = self.load(path, display, real, loc, (*chain, real), (*shown, display))
            visible |= included.visible
        return visible

    def load(self, path: str, display: str, real: str, loc: Location, chain: tuple, shown: tuple) -> Source:
        """The file `path` (as written at `loc`) names, read and checked, its own includes first."""
        if len(chain) - 1 > MAX_INCLUDE_DEPTH:
            raise SpecError(f"includes nest more than {MAX_INCLUDE_DEPTH} files deep ({_chain(shown)})", loc,
                            hint=f"a chain of includes may hold at most {MAX_INCLUDE_DEPTH} files")
        if self.budget.files >= MAX_INCLUDE_FILES:
            raise SpecError(f"the spec includes more than {MAX_INCLUDE_FILES} files", loc,
                            hint="gather shared blocks into fewer files")
        self.budget.files += 1
        try:
            text = self.files.read(real, self.budget)
        except SpecError as exc:  # about the file named here: said where it is named
            raise SpecError(f"include '{path}': {exc.message}", loc, hint=exc.hint) from None
        doc = load_yaml(text, display, self.budget)
        if not isinstance(doc, Mapping):
            raise SpecError(f"an included file must be a spec (a mapping with 'blocks'), got {kind_of(doc)}",
                            getattr(doc, "loc", Location(display, 1, 1)))
        check_keys(doc, INCLUDED_KEYS, "top-level key")
        included = Source(display, real, doc, values.variables(doc, {}), True)
        self.loaded[real] = included
        included.visible = self.includes(included, chain, shown)
        self.order.append(included)
        return included


def _paths(doc: Mapping) -> list:
    """The `include:` entries, each a non-empty path, with where each is written."""
    raw = doc.get("include")
    if raw is None:  # none, or `include:` left empty
        return []
    if isinstance(raw, str):
        entries = [(raw, doc.where("include"))]
    elif isinstance(raw, Sequence):
        entries = list(zip(raw, raw.item_locs))
    else:
        raise SpecError(f"'include' must be a path or a list of paths, got {kind_of(raw)}", doc.where("include"),
                        hint="e.g. include: [common/blocks.yaml]")
    for path, loc in entries:
        if not isinstance(path, str) or not path.strip():
            raise SpecError(f"an include must be a file path, got {kind_of(path)}", loc,
                            hint="e.g. include: [common/blocks.yaml]")
    return entries


def _blocks(doc: Mapping):
    table = doc.get("blocks")
    return table if isinstance(table, Mapping) else ()


def _named(file: str) -> str:
    """The absolute path of a file as it is named, symlinks not followed (for text with no
    file: a name in the current folder)."""
    return os.path.abspath(file if not file.startswith("<") else "spec")


def _repository(folder: str) -> str:
    """The nearest folder from `folder` up that holds .git, or `folder` itself."""
    here = folder
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return folder
        here = parent


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _chain(files) -> str:
    """'a -> b -> c', with the middle of a long chain left out."""
    files = list(files)
    return " -> ".join(files if len(files) <= 8 else [*files[:3], "...", *files[-3:]])
