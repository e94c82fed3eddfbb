"""The layer types a spec can use, with their arguments (`cnncalc layers`)."""
from __future__ import annotations

from .console import escape


def show(console, registry: dict) -> None:
    from rich.table import Table

    table = Table(header_style="bold", show_lines=False)
    table.add_column("type", style="cyan", no_wrap=True)
    table.add_column("kind")
    table.add_column("arguments (=default)")
    for name, cls in sorted(registry.items(), key=lambda item: (item[1].category, item[0])):
        args = "\n".join(_argument_text(arg, spec) for arg, spec in cls.args.items())
        table.add_row(name, cls.category, args or "-")
    console.print(table)


def _argument_text(name: str, arg) -> str:
    if arg.required:
        return f"[bold]{name}[/bold] (required)"
    if arg.default is None:  # no fixed default: its help says what it means when omitted
        return f"{name}: {escape(arg.doc)}"
    return f"{name}={arg.default!r}"
