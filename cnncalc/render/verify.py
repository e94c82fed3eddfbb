"""Render a VerifyResult: a table with one row per layer (rule and run side by side,
✓ or ✗), then a verdict; or JSON."""
from __future__ import annotations

from ..diagnostics import ECHO_LIMIT, safe, shown
from ..layers.base import shape_str
from . import human, json_text

FORMATS = ("table", "json")
OK, BAD = "[green]✓[/green]", "[bold red]✗[/bold red]"
FIGURES = (("shape", "shape"), ("params", "params"), ("MACs", "macs"))


def _number(value) -> str:
    return f"{value:,}"


def _params(check, buffers, gap: str) -> tuple:
    """Parameter texts (rule, run), with the buffers after `gap` when a layer has any."""
    if not buffers.rule and not buffers.run:
        return _number(check.rule), None if check.run is None else _number(check.run)
    run = None if check.run is None else _number(check.run) + (
        "" if buffers.run is None else f"{gap}+{buffers.run:,} buf")
    return f"{check.rule:,}{gap}+{buffers.rule:,} buf", run


class _Figures:
    """One row's figures as (rule text, run text, agree?), the same for every layout."""

    def __init__(self, row=None, totals=None, gap: str = " "):
        if row is not None:
            shape = (shape_str(row.shape.rule), None if row.shape.run is None else shape_str(row.shape.run))
            self.cells = {"shape": (*shape, row.shape.ok),
                          "params": (*_params(row.params, row.buffers, gap), row.params.ok and row.buffers.ok),
                          "macs": (_number(row.macs.rule), None if row.macs.run is None else _number(row.macs.run),
                                   row.macs.ok)}
        else:
            params, macs = totals
            self.cells = {"shape": ("", "", True),
                          "params": (_number(params.rule), _number(params.run), params.ok),
                          "macs": (_number(macs.rule), _number(macs.run), macs.ok)}

    def split(self, key: str) -> list:
        rule, run, ok = self.cells[key]
        if run is None:
            return [rule, "[dim]-[/dim]"]
        return [rule, run if ok else f"[bold red]{run}[/bold red]"]

    def merged(self, key: str) -> str:
        """One cell: the figure when rule and run agree, else `rule ≠ run`."""
        rule, run, ok = self.cells[key]
        if run is None:
            return f"{rule} [dim]≠ -[/dim]"
        return rule if ok else f"{rule} [bold red]≠ {run}[/bold red]"


def _table(result, merged: bool, with_type: bool):
    """The table in one of three layouts, widest first: rule and run in columns of their
    own, or merged into one (`a ≠ b` where they differ), and with or without the type."""
    from rich.table import Table

    table = Table(header_style="bold", title_justify="left", title=f"{safe(result.name)}: verify on "
                  f"{result.backend} ({result.dtype}, batch {result.batch}, seed {result.seed})",
                  caption="one figure where rule and run agree; rule ≠ run where they differ" if merged else None,
                  caption_justify="left")
    notes = any(row.notes() for row in result.rows)
    table.add_column("", no_wrap=True)
    table.add_column("layer", style="cyan", overflow="fold", min_width=10)
    if with_type:
        table.add_column("type", no_wrap=True)
    for label, key in FIGURES:  # numbers are never cut: shapes wrap between sizes, counts do not wrap
        shape = key == "shape"
        options = {"justify": "left" if shape else "right", "no_wrap": not shape, "overflow": "fold"}
        if merged:
            table.add_column(label, **options)
        else:
            table.add_column(f"{label} (rule)", **options)
            table.add_column(f"{label} (run)", **options)
    if notes:
        table.add_column("note", overflow="fold")

    def cells(figures) -> list:
        if merged:
            return [figures.merged(key) for _, key in FIGURES]
        return [cell for _, key in FIGURES for cell in figures.split(key)]

    for row in result.rows:
        table.add_row(OK if row.ok else BAD, _markup(row.name), *([_markup(row.type)] if with_type else []),
                      *cells(_Figures(row, gap="\n" if merged else " ")), *([_markup("; ".join(row.notes()))] if notes else []))
    table.add_section()
    table.add_row(OK if result.ok else BAD, "total", *([""] if with_type else []),
                  *cells(_Figures(totals=(result.total("params"), result.total("macs")))), *([""] if notes else []))
    return table


def _markup(text: str) -> str:
    from rich.markup import escape

    return escape(safe(text))


def show(console, output_format: str, result) -> None:
    if output_format == "json":
        console.file.write(json_text(result.to_dict()) + "\n")
    else:
        print_table(console, result)


def print_table(console, result) -> None:
    """The widest layout that fits the console (COLUMNS on a terminal), then the verdict."""
    from rich.measure import Measurement

    layouts = ((False, True), (True, True), (True, False))
    for merged, with_type in layouts:
        table = _table(result, merged, with_type)
        unlimited = console.options.update_width(10**6)  # the width it wants, not what it would squeeze into
        if Measurement.get(console, unlimited, table).maximum <= console.width:
            break
    console.print(table)
    console.print(verdict(result, markup=True))


def verdict(result, markup: bool = False) -> str:
    how = (f"{result.backend}, {result.dtype}, batch {result.batch}, seed {result.seed}; forward pass "
           f"{result.seconds:.2f} s; memory estimate {human(result.estimate.total, 'B')}")
    count = len(result.rows)
    if result.ok:
        text = f"✓ verified: all {count} layers agree with the rules ({how})"
        return f"[bold green]{text}[/bold green]" if markup else text
    bad = result.failures
    names = ", ".join(shown(row.name, ECHO_LIMIT) for row in bad[:5]) + (
        f", and {len(bad) - 5} more" if len(bad) > 5 else "")
    text = f"✗ verification failed: {len(bad)} of {count} layers disagree ({names}) ({how})"
    if markup:
        from rich.markup import escape

        return f"[bold red]{escape(text)}[/bold red]"
    return text

