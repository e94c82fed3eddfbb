"""Diagnostics are values: what went wrong, where, the numbers, and what to do about it.

One record, `Diagnostic`, for every problem cnncalc reports: raised where it is known
(SpecError, UsageError), collected by `check`, rendered once by cnncalc.render.
"""
from __future__ import annotations

import re
from typing import NamedTuple

ECHO_LIMIT = 200  # characters of one user-provided value (a name, a source line) a message shows
MESSAGE_LIMIT = 2000  # characters of a whole message or hint
# C0 and C1 controls, DEL, and the bidirectional overrides/isolates that reorder what a terminal shows
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]")
_CUT = re.compile(r"…\([0-9,]+ characters\)$")
# a run of non-blank characters this long is cut; one already cut ("…(N" included) is shorter
_LONG_WORD = re.compile(r"\S{%d,}" % (ECHO_LIMIT + 20))


def safe(text: str) -> str:
    """`text` with every control or bidi character written visibly: ESC as \\x1b, U+202E as \\u202e."""
    return _UNSAFE.sub(_escape_char, str(text))


def _escape_char(match) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def cut(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` shortened to `limit` characters, saying how long it was; text cut before is
    kept as it is, so cutting twice changes nothing."""
    text = str(text)
    shorter = f"{text[:limit]}…({len(text):,} characters)"
    if len(text) <= len(shorter):
        return text
    done = _CUT.search(text)
    return text if done and done.start() <= limit else shorter


def shown(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """User-provided text made fit to echo on a terminal: any run of more than ECHO_LIMIT
    non-blank characters cut, controls escaped, and the whole cut to `limit`."""
    return cut(safe(_LONG_WORD.sub(lambda match: cut(match.group()), str(text))), limit)


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


class Diagnostic(Exception):
    """One finding, reported to a user: where (file, line, column), which layer, what is
    wrong, the numbers behind it, and what to do about it (the hint).

    Raised where the problem is known (SpecError, UsageError) or collected where many are
    reported at once (`cnncalc check`); rendered by cnncalc.render in every format. Context
    that the raiser did not know is added once, on the way out, by whoever knows it:
    `located` fills in the place and the layer, `within` prefixes what was being read
    ("argument 'kernel_size'"), `numbers` names the figures involved ("input shape")."""

    exit_code = 2
    kind = "invalid"  # invalid (the spec), expect, budget, verify, usage, internal
    severity = "error"  # or "note": said, but nothing failed

    def __init__(self, message: str, loc: Location | None = None, *, layer: str | None = None,
                 hint: str | None = None, arg: str | None = None, numbers: dict | None = None,
                 kind: str | None = None, severity: str | None = None):
        super().__init__(message)
        self.message = message
        self.arg = arg  # the argument at fault, so the spec's line for it can be found
        self.loc = loc
        self.layer = layer
        self.hint = hint
        self.context: tuple = ()  # what was being read, outermost first
        self.numbers = dict(numbers or {})
        if kind is not None:
            self.kind = kind
        if severity is not None:
            self.severity = severity

    # Made safe whenever set: they embed names and values from specs
    message = property(lambda self: self._message, lambda self, text: setattr(self, "_message", shown(text)))
    hint = property(lambda self: self._hint, lambda self, text: setattr(self, "_hint", shown(text) if text else text))

    def located(self, loc: Location | None = None, layer: str | None = None) -> "Diagnostic":
        """Fill in a location or layer name that the raiser did not know."""
        if self.loc is None:
            self.loc = loc
        if self.layer is None:
            self.layer = layer
        return self

    def within(self, context: str, arg: str | None = None) -> "Diagnostic":
        """Say what was being read when this was found: `argument 'k' (expected an integer)`.
        Added by the caller that knows it; the message itself is never rewritten."""
        self.context = (shown(context), *self.context)
        if self.arg is None:
            self.arg = arg
        return self

    def with_numbers(self, numbers: dict) -> "Diagnostic":
        """Name the figures behind the problem ("input shape": "[3, 32, 32]")."""
        for name, value in numbers.items():
            self.numbers.setdefault(name, value)
        return self

    @property
    def text(self) -> str:
        """Everything but the place: the layer, the context, the message and the numbers."""
        phase = "verify: " if self.kind == "verify" else ""
        layer = f"layer '{shown(self.layer, ECHO_LIMIT)}': " if self.layer else ""
        numbers = ", ".join(f"{name}: {value}" for name, value in self.numbers.items())
        return shown(phase + layer + "".join(f"{part}: " for part in self.context) + self.message
                     + (f" ({numbers})" if numbers else ""))

    @property
    def place(self) -> str:
        """`file:line:col: `, or nothing when the place is unknown."""
        return f"{shown(self.loc, ECHO_LIMIT * 2)}: " if self.loc else ""

    def headline(self) -> str:
        return f"{self.place}{self.severity}: {self.text}"

    def __str__(self) -> str:
        text = self.headline()
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict:
        loc = self.loc or Location()
        return {"file": loc.file, "line": loc.line, "col": loc.col, "kind": self.kind,
                "severity": self.severity, "layer": self.layer, "message": self.text, "hint": self.hint,
                "numbers": {name: list(value) if isinstance(value, tuple) else value
                            for name, value in self.numbers.items()}}


CnncalcError = Diagnostic  # the name the library has exported since 0.1


class SpecError(Diagnostic):
    """The spec is invalid: it cannot be parsed, or its shapes do not chain."""


class UsageError(Diagnostic):
    """The command line asks for something impossible (bad flag value, missing backend)."""

    kind = "usage"


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
