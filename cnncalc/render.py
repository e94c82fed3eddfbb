"""Turn a Summary (and its expectation outcomes) into text: table, JSON, Markdown or CSV."""
from __future__ import annotations

import csv
import io
import json

from .summary import Summary

FORMATS = ("table", "json", "markdown", "csv")


def human(n: int, unit: str = "") -> str:
    """1234567 -> '1.23M'; bytes with unit='B' -> '4.9 MB' (decimal units)."""
    for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= size:
            value = f"{n / size:.3g}" if n / size < 100 else f"{n / size:.1f}"
            return f"{value} {suffix}{unit}" if unit else f"{value}{suffix}"
    return f"{n} {unit}" if unit else str(n)


def exact(n: int) -> str:
    return f"{n:,}"


def both(n: int) -> str:
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def dims(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def totals_lines(summary: Summary) -> list[tuple[str, str]]:
    t = summary.totals
    batch = f"batch {summary.batch}, {summary.dtype}"
    return [
        ("Params", both(t.params)),
        ("  trainable", exact(t.trainable_params)),
        ("  non-trainable", exact(t.non_trainable_params)),
        ("Buffers (running statistics)", exact(t.buffers)),
        (f"MACs ({batch.split(',')[0]})", both(t.macs)),
        (f"FLOPs ({batch.split(',')[0]})", both(t.flops)),
        (f"Parameter memory ({summary.dtype})", human(t.param_memory, "B")),
        (f"Activation memory ({batch})", human(t.activation_memory, "B")),
    ]


def to_json(summary: Summary, outcomes: list) -> str:
    data = summary.to_dict()
    if outcomes:
        data["expect"] = [outcome.to_dict() for outcome in outcomes]
    return json.dumps(data, indent=2)


def to_markdown(summary: Summary, rows: list, outcomes: list) -> str:
    lines = [f"# {summary.name}", "", f"Input {dims(summary.input_shape)} → output {dims(summary.output_shape)}", "",
             "| Layer | Type | Output shape | Params | MACs | FLOPs |", "|---|---|---|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.type} | {dims(r.output_shape)} | {exact(r.params)} | "
                     f"{exact(r.macs)} | {exact(r.flops)} |")
    lines += ["", "| Total | |", "|---|--:|"]
    lines += [f"| {label.strip()} | {value} |" for label, value in totals_lines(summary)]
    if outcomes:
        lines += ["", *(f"- {'✓' if o.ok else '✗'} expect {o.message()}" for o in outcomes)]
    return "\n".join(lines).rstrip() + "\n"


def to_csv(rows: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "inputs", "output_shape", "params", "trainable_params", "buffers",
                     "macs", "flops"])
    for r in rows:
        writer.writerow([r.name, r.type, " ".join(r.inputs), "x".join(map(str, r.output_shape)), r.params,
                         r.trainable_params, r.buffers, r.macs, r.flops])
    return out.getvalue()


def print_table(console, summary: Summary, rows: list, outcomes: list) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.name}", title_justify="left", header_style="bold")
    table.add_column("Layer", no_wrap=True)
    table.add_column("Type", style="cyan")
    table.add_column("Output shape", no_wrap=True)
    for column in ("Params", "MACs", "FLOPs"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_row("input", "", dims(summary.input_shape), "", "", "", style="dim")
    for r in rows:
        depth = len(r.scope)
        prefix, _, local = r.name.rpartition(".")
        name = f"[dim]{prefix}.[/dim]{local}" if depth and prefix else r.name
        table.add_row(name, r.type, dims(r.output_shape), exact(r.params) if r.params else "-",
                      exact(r.macs) if r.macs else "-", exact(r.flops) if r.flops else "-")
    console.print(table)
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    for label, value in totals_lines(summary):
        totals.add_row(label, value)
    console.print(totals)
    if outcomes:
        console.print()
        for o in outcomes:
            mark = "[green]✓[/green]" if o.ok else "[red]✗[/red]"
            console.print(f"{mark} expect {o.message()}", highlight=False)
