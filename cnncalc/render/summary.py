"""Turn a Summary (and its expectation outcomes) into text: table, JSON, Markdown or CSV."""
from __future__ import annotations

from ..diagnostics import safe
from ..layers.base import shape_str
from ..summary import Summary

FORMATS = ("table", "json", "markdown", "csv")


def human(n: int, unit: str = "") -> str:
    """1234567 -> '1.23M'; bytes with unit='B' -> '4.9 MB' (decimal units). In integer
    arithmetic (rounding half to even), so that a figure of any size prints."""
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
    return f"{n:,}"


def both(n: int) -> str:
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def totals_lines(summary: Summary) -> list[tuple[str, str]]:
    t = summary.totals
    batch = f"batch {summary.batch}"
    return [
        ("Params", both(t.params)),
        ("  trainable", exact(t.trainable_params)),
        ("  non-trainable", exact(t.non_trainable_params)),
        ("Buffers (running statistics)", exact(t.buffers)),
        (f"MACs ({batch})", both(t.macs)),
        (f"FLOPs ({batch})", both(t.flops)),
        (f"Parameter memory ({summary.dtype})", human(t.param_memory, "B")),
        (f"Activation memory ({batch}, {summary.dtype})", human(t.activation_memory, "B")),
    ]


def json_text(data) -> str:
    """JSON as cnncalc prints it: ASCII only, so every control and bidi character in a name
    is escaped (json.dumps leaves DEL, so it is escaped here)."""
    import json  # here, not at the top: the table path stays lean

    return json.dumps(data, indent=2).replace("\x7f", "\\u007f")


def to_json(summary: Summary, outcomes: list, rows: list | None = None) -> str:
    """`rows`, when given (the folded rows of --depth), replace the layers; totals are the summary's."""
    data = summary.to_dict()
    if rows is not None:
        data["layers"] = [row.to_dict() for row in rows]
    if outcomes:
        data["expect"] = [outcome.to_dict() for outcome in outcomes]
    return json_text(data)


def _md(text: str) -> str:
    return safe(text).replace("|", "\\|")


def to_markdown(summary: Summary, rows: list, outcomes: list) -> str:
    lines = [f"# {_md(summary.name)}", "",
             f"Input {shape_str(summary.input_shape)} → output {shape_str(summary.output_shape)}", "",
             "| Layer | Type | Output shape | Params | MACs | FLOPs |", "|---|---|---|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {_md(r.name)} | {_md(r.type)} | {shape_str(r.output_shape)} | {exact(r.params)} | "
                     f"{exact(r.macs)} | {exact(r.flops)} |")
    lines += ["", "| Total | |", "|---|--:|"]
    lines += [f"| {_md(label.strip())} | {value} |" for label, value in totals_lines(summary)]
    if outcomes:
        lines += ["", *(f"- {'✓' if o.ok else '✗'} expect {o.message()}" for o in outcomes)]
    return "\n".join(lines).rstrip() + "\n"


def to_csv(rows: list) -> str:
    """Names and types with control characters escaped (see errors.safe), like every format."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "inputs", "output_shape", "params", "trainable_params", "buffers",
                     "macs", "flops"])
    for r in rows:
        writer.writerow([safe(r.name), safe(r.type), safe(" ".join(r.inputs)), "x".join(map(str, r.output_shape)),
                         r.params, r.trainable_params, r.buffers, r.macs, r.flops])
    return out.getvalue()


class _Style:
    """ANSI styles, or nothing when colour is off (not a terminal, or NO_COLOR)."""

    CODES = {"bold": "1", "dim": "2", "cyan": "36", "green": "32", "red": "31"}

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        return f"\x1b[{self.CODES[style]}m{text}\x1b[0m" if self.enabled and text else text


def box_table(headers: list, rows: list, right: set, style: _Style, styles: dict | None = None) -> list:
    """A box-drawn table as lines. Written here rather than with rich.Table, which takes
    seconds for the thousands of rows a generated network has."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    styles = styles or {}

    def line(cells, paint=True):
        out = []
        for i, (cell, width) in enumerate(zip(cells, widths)):
            text = cell.rjust(width) if i in right else cell.ljust(width)
            out.append(style(text, styles[i]) if paint and i in styles and cell.strip() else text)
        return "│ " + " │ ".join(out) + " │"

    rule = lambda left, mid, end, fill: left + mid.join(fill * (w + 2) for w in widths) + end  # noqa: E731
    head = "┃ " + " ┃ ".join(style(h.ljust(w) if i not in right else h.rjust(w), "bold")
                            for i, (h, w) in enumerate(zip(headers, widths))) + " ┃"
    return [rule("┏", "┳", "┓", "━"), head, rule("┡", "╇", "┩", "━"),
            *(line(r) for r in rows), rule("└", "┴", "┘", "─")]


def table_text(summary: Summary, rows: list, outcomes: list, color: bool = False) -> str:
    style = _Style(color)
    body = [["input", "", shape_str(summary.input_shape), "", "", ""]]
    for r in rows:
        body.append([safe(r.name), safe(r.type), shape_str(r.output_shape), exact(r.params) if r.params else "-",
                     exact(r.macs) if r.macs else "-", exact(r.flops) if r.flops else "-"])
    headers = ["Layer", "Type", "Output shape", "Params", "MACs", "FLOPs"]
    lines = [style(safe(summary.name), "bold"), *box_table(headers, body, {3, 4, 5}, style, {1: "cyan"})]
    totals = totals_lines(summary)
    label_width = max(len(label) for label, _ in totals)
    value_width = max(len(value) for _, value in totals)
    lines += [f"{style(label.ljust(label_width), 'bold')}  {value.rjust(value_width)}" for label, value in totals]
    if outcomes:
        lines.append("")
        for o in outcomes:
            mark = style("✓", "green") if o.ok else style("✗", "red")
            lines.append(f"{mark} expect {o.message()}")
    return "\n".join(lines) + "\n"
