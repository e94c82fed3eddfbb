"""Render a VerifyResult: a table with one row per layer (rule and run side by side,
✓ or ✗), then a verdict; or JSON."""
from __future__ import annotations

import json

from ..layers.base import shape_str
from .memory import human

OK, BAD = "[green]✓[/green]", "[bold red]✗[/bold red]"


def _cell(check, text) -> str:
    if check.run is None:
        return "[dim]-[/dim]"
    value = text(check.run)
    return value if check.ok else f"[bold red]{value}[/bold red]"


def print_table(console, result) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold", title_justify="left", title=f"{result.name}: verify on {result.backend} "
                  f"({result.dtype}, batch {result.batch}, seed {result.seed})")
    notes = any(row.notes() for row in result.rows)
    table.add_column("", no_wrap=True)
    table.add_column("layer", style="cyan", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("shape (rule)", no_wrap=True)
    table.add_column("shape (run)", no_wrap=True)
    table.add_column("params (rule)", justify="right")
    table.add_column("params (run)", justify="right")
    table.add_column("MACs (rule)", justify="right")
    table.add_column("MACs (run)", justify="right")
    if notes:
        table.add_column("note")
    for row in result.rows:
        buffers = (lambda v: f"{v:,}") if not row.buffers.rule and not row.buffers.run else None
        table.add_row(
            OK if row.ok else BAD, escape(row.name), row.type,
            shape_str(row.shape.rule), _cell(row.shape, shape_str),
            f"{row.params.rule:,}" + ("" if buffers else f" +{row.buffers.rule:,} buf"),
            _cell(row.params, lambda v: f"{v:,}") + ("" if buffers or row.buffers.run is None
                                                      else " " + _cell(row.buffers, lambda v: f"+{v:,} buf")),
            f"{row.macs.rule:,}", _cell(row.macs, lambda v: f"{v:,}"),
            *([escape("; ".join(row.notes()))] if notes else []))
    params, macs = result.total("params"), result.total("macs")
    table.add_section()
    table.add_row(OK if result.ok else BAD, "total", "", "", "", f"{params.rule:,}",
                  _cell(params, lambda v: f"{v:,}"), f"{macs.rule:,}", _cell(macs, lambda v: f"{v:,}"),
                  *([""] if notes else []))
    console.print(table)
    console.print(verdict(result, markup=True))


def verdict(result, markup: bool = False) -> str:
    how = (f"{result.backend}, {result.dtype}, batch {result.batch}, seed {result.seed}; forward pass "
           f"{result.seconds:.2f} s; memory estimate {human(result.estimate.total)}")
    count = len(result.rows)
    if result.ok:
        text = f"✓ verified: all {count} layers agree with the rules ({how})"
        return f"[bold green]{text}[/bold green]" if markup else text
    bad = result.failures
    names = ", ".join(row.name for row in bad[:5]) + (f", and {len(bad) - 5} more" if len(bad) > 5 else "")
    text = f"✗ verification failed: {len(bad)} of {count} layers disagree ({names}) ({how})"
    if markup:
        from rich.markup import escape

        return f"[bold red]{escape(text)}[/bold red]"
    return text


def to_json(result) -> str:
    return json.dumps(result.to_dict(), indent=2)
