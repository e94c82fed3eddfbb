"""A Diagnostic on the terminal, compiler-style: `file:line:col: error: ...`, the spec's
line with a caret under the column, and the hint. Every piece that comes from the spec is
made safe (see diagnostics.shown)."""
from __future__ import annotations

from ..diagnostics import ECHO_LIMIT, Diagnostic, safe, shown
from .console import escape


def show(console, diagnostic: Diagnostic) -> None:
    headline = escape(diagnostic.headline())
    console.print(f"[bold red]{headline}[/bold red]" if diagnostic.severity == "error" else headline)
    source = _source_line(diagnostic)
    if source is not None:
        line, caret = source
        console.print(f"  {escape(line)}\n  {' ' * caret}[red]^[/red]")
    if diagnostic.hint:
        console.print(f"  [cyan]hint:[/cyan] {escape(diagnostic.hint)}")


def show_bug(console, error: Exception) -> None:
    """An exception that is not a Diagnostic: a bug in cnncalc, said plainly, without a traceback."""
    console.print(f"[bold red]internal error:[/bold red] {type(error).__name__}: "
                  f"{escape(shown(error))}\n  please report this with the spec that caused it")


def _source_line(diagnostic: Diagnostic) -> tuple[str, int] | None:
    """The spec's line at the diagnostic, escaped and at most ECHO_LIMIT characters around
    the column, with the caret's offset in what is shown."""
    loc = diagnostic.loc
    if loc is None or not loc.line or loc.file.startswith("<"):
        return None
    try:
        with open(loc.file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if number == loc.line:
                    return _window(line.rstrip("\n"), max(loc.col - 1, 0))
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _window(line: str, col: int) -> tuple[str, int]:
    """At most ECHO_LIMIT characters of `line` around 0-based `col`, escaped, and where `col` is in them."""
    start = max(0, min(col - ECHO_LIMIT // 2, len(line) - ECHO_LIMIT))
    end = start + ECHO_LIMIT
    before, after = ("…" if start else ""), ("…" if end < len(line) else "")
    return before + safe(line[start:end]) + after, len(before) + len(safe(line[start:col]))
