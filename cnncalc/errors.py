"""Errors are values: what went wrong, where, and what to do about it.

They are raised where the problem is known and rendered once, by the CLI.
"""
from __future__ import annotations

from typing import NamedTuple


class Location(NamedTuple):
    """A place in a spec file; line and column are 1-based (0 = unknown).

    A named tuple: one is made for every YAML node, so it must be cheap."""

    file: str = "<spec>"
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


class CnncalcError(Exception):
    """Base of every error cnncalc reports to a user."""

    exit_code = 2

    def __init__(self, message: str, loc: Location | None = None, *,
                 layer: str | None = None, hint: str | None = None, arg: str | None = None):
        super().__init__(message)
        self.message = message
        self.arg = arg  # the argument at fault, so the spec's line for it can be found
        self.loc = loc
        self.layer = layer
        self.hint = hint

    def located(self, loc: Location | None = None, layer: str | None = None) -> "CnncalcError":
        """Fill in a location or layer name that the raiser did not know."""
        if self.loc is None:
            self.loc = loc
        if self.layer is None:
            self.layer = layer
        return self

    def headline(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        layer = f"layer '{self.layer}': " if self.layer else ""
        return f"{where}error: {layer}{self.message}"

    def __str__(self) -> str:
        text = self.headline()
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict:
        loc = self.loc or Location()
        return {"file": loc.file, "line": loc.line, "col": loc.col, "layer": self.layer,
                "message": self.message, "hint": self.hint}


class SpecError(CnncalcError):
    """The spec is invalid: it cannot be parsed, or its shapes do not chain."""


class UsageError(CnncalcError):
    """The command line asks for something impossible (bad flag value, missing backend)."""


def closest(word: str, choices) -> str | None:
    """The choice nearest to a misspelt word, for 'did you mean' hints."""
    import difflib

    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices, what: str = "") -> str:
    near = closest(word, choices)
    listing = ", ".join(sorted(str(c) for c in choices)) or "none"
    if near:
        return f"did you mean '{near}'?" + (f" ({what}: {listing})" if what else "")
    return f"{what}: {listing}" if what else ""
