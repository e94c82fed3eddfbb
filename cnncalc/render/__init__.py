"""Rendering: every result cnncalc prints, in every format, is written here and nowhere
else. The library returns records (Summary, check.Report, VerifyResult, Diagnostic);
these modules turn them into text.

* summary: a Summary as a table, JSON, Markdown or CSV
* check: a check.Report as problem lines and a verdict, or JSON
* verify: a VerifyResult as a table that fits the terminal, or JSON
* diagnostics: a Diagnostic, compiler-style, with the spec's line and a caret
* layers: the registry of layer types, for `cnncalc layers`
* console: the rich console and colour choices they share; table: the fast box table

What every format shares (numbers as people read them, JSON as cnncalc writes it) is here.
"""
from __future__ import annotations


def human(n: int, unit: str = "") -> str:
    """1234567 -> '1.23M'; bytes with unit='B' -> '4.9 MB' (decimal units). In integer
    arithmetic (rounding half to even), so that a figure of any size prints. A formula
    (symbolic input) prints as itself."""
    if type(n) is not int:
        return f"{n.shown()} {unit}" if unit else n.shown()
    for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= size:
            places = 2 if abs(n) < 10 * size else 1
            scaled, rest = divmod(abs(n) * 10**places, size)
            scaled += 2 * rest > size or (2 * rest == size and scaled % 2)
            whole, fraction = divmod(scaled, 10**places)
            value = f"{'-' if n < 0 else ''}{whole}.{fraction:0{places}d}"
            return f"{value} {suffix}{unit}" if unit else f"{value}{suffix}"
    return f"{n} {unit}" if unit else str(n)


def exact(n: int) -> str:
    return f"{n:,}" if type(n) is int else n.shown()


def both(n: int) -> str:
    if type(n) is not int:
        return n.shown()
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def markdown_cell(text: str) -> str:
    """Text for a Markdown table cell or list item: controls written visibly, and no `|` read
    as a column break."""
    from ..diagnostics import safe

    return safe(text).replace("|", "\\|")


def json_text(data) -> str:
    """JSON as cnncalc prints it: ASCII only, so every control and bidi character in a name
    is escaped (json.dumps leaves DEL, so it is escaped here)."""
    import json  # here, not at the top: the table path stays lean

    return json.dumps(data, indent=2).replace("\x7f", "\\u007f")
