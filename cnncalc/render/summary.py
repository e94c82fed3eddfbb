"""A Summary (and its expectation outcomes) as text: table, JSON, Markdown or CSV."""
from __future__ import annotations

from ..diagnostics import safe
from ..figures import FIGURES
from ..layers.base import shape_str
from ..summary import Summary
from . import both, exact, human, json_text
from .table import Style, box_table


def show(stream, output_format: str, summary: Summary, rows: list, outcomes: list) -> None:
    """Write `summary` to `stream` in `output_format` (one of FORMATS). `rows` are the
    layers, or the folded rows of --depth; totals are always the summary's. Plain text to
    the stream, not through rich: `cnncalc summary` never imports it."""
    from .console import color

    stream.write(FORMATS[output_format](summary, rows, outcomes, color(stream)))


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


def to_json(summary: Summary, rows: list, outcomes: list, color: bool = False) -> str:
    data = summary.to_dict()
    data["layers"] = [row.to_dict() for row in rows]
    if outcomes:
        data["expect"] = [outcome.to_dict() for outcome in outcomes]
    return json_text(data) + "\n"


def _md(text: str) -> str:
    return safe(text).replace("|", "\\|")


def to_markdown(summary: Summary, rows: list, outcomes: list, color: bool = False) -> str:
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


def to_csv(summary: Summary, rows: list, outcomes: list, color: bool = False) -> str:
    """Names and types with control characters escaped (see errors.safe), like every format."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "inputs", "output_shape", *FIGURES])
    for r in rows:
        writer.writerow([safe(r.name), safe(r.type), safe(" ".join(r.inputs)), "x".join(map(str, r.output_shape)),
                         *r.figures.to_dict().values()])
    return out.getvalue()


def to_table(summary: Summary, rows: list, outcomes: list, color: bool = False) -> str:
    style = Style(color)
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


FORMATS = {"table": to_table, "json": to_json, "markdown": to_markdown, "csv": to_csv}
