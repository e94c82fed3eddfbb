"""A Summary (and its expectation outcomes) as text: table, JSON, Markdown or CSV."""
from __future__ import annotations

from ..diagnostics import safe
from ..figures import FIGURES
from ..layers.base import shape_str
from ..summary import Summary
from . import both, exact, human, json_text, markdown_cell as _md
from .table import Style, box_table


def show(stream, output_format: str, summary: Summary, rows: list, outcomes: list, fields=None,
         percent: bool = False) -> None:
    """Write `summary` to `stream` in `output_format` (one of FORMATS). `rows` are the
    layers, the folded rows of --depth, the heaviest (--top) or the totals of each type
    (--by-type); totals are always the summary's; `fields` (receptive.RowFields, --rf) adds
    each row's receptive field, `percent` each row's share of the params and MACs. Plain
    text to the stream, not through rich: `cnncalc summary` never imports it."""
    from .console import color

    stream.write(FORMATS[output_format](summary, rows, outcomes, color(stream), fields, percent))


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


def to_json(summary: Summary, rows: list, outcomes: list, color: bool = False, fields=None,
            percent: bool = False) -> str:
    data = summary.to_dict()
    data["layers"] = [row.to_dict() for row in rows]
    if percent:
        from ..cost import shares

        for layer, row in zip(data["layers"], rows):
            layer.update(shares(row.figures, summary.totals.figures))
    if fields is not None:
        for layer, field in zip(data["layers"], fields.rows):
            layer["receptive_field"] = _field_dict(field, fields.axes)
    if outcomes:
        data["expect"] = [outcome.to_dict() for outcome in outcomes]
    return json_text(data) + "\n"


def to_markdown(summary: Summary, rows: list, outcomes: list, color: bool = False, fields=None,
                percent: bool = False) -> str:
    head, rule = "| Layer | Type | Output shape | Params | MACs | FLOPs |", "|---|---|---|--:|--:|--:|"
    if percent:
        head, rule = head + " Params % | MACs % |", rule + "--:|--:|"
    if fields is not None:
        head, rule = head + " " + " | ".join(FIELD_HEADERS) + " |", rule + "--:|" * len(FIELD_HEADERS)
    lines = [f"# {_md(summary.name)}", "",
             f"Input {shape_str(summary.input_shape)} → output {shape_str(summary.output_shape)}", "", head, rule]
    for i, r in enumerate(rows):
        cells = "".join(f" {cell} |" for cell in _share_cells(r, summary) if percent)
        cells += "".join(f" {cell} |" for cell in field_cells(fields.rows[i], fields.axes)) if fields else ""
        lines.append(f"| {_md(r.name)} | {_md(r.type)} | {shape_cell(r.output_shape)} | {exact(r.params)} | "
                     f"{exact(r.macs)} | {exact(r.flops)} |{cells}")
    notes = field_notes(rows, fields) if fields is not None else []
    if notes:
        lines += ["", *(f"- {_md(line)}" for line in notes)]
    lines += ["", "| Total | |", "|---|--:|"]
    lines += [f"| {_md(label.strip())} | {value} |" for label, value in totals_lines(summary)]
    where = _valid_where(summary)
    if where:
        lines += ["", _md(where)]
    if outcomes:
        lines += ["", *(f"- {'✓' if o.ok else '✗'} expect {o.message()}" for o in outcomes)]
    return "\n".join(lines).rstrip() + "\n"


def to_csv(summary: Summary, rows: list, outcomes: list, color: bool = False, fields=None,
           percent: bool = False) -> str:
    """Names and types with control characters escaped (see errors.safe), like every format."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "inputs", "output_shape", *FIGURES, *(("params_pct", "macs_pct") if percent else ()),
                     *(("rf_size", "rf_jump", "rf_offset", "rf_global", "rf_notes") if fields else ())])
    for i, r in enumerate(rows):
        extra = _field_csv(fields.rows[i], fields.axes) if fields else []
        shares = _share_values(r, summary) if percent else []
        writer.writerow([safe(r.name), safe(r.type), safe(" ".join(r.inputs)), "x".join(map(str, r.output_shape)),
                         *r.figures.to_dict().values(), *shares, *extra])
    return out.getvalue()


def to_table(summary: Summary, rows: list, outcomes: list, color: bool = False, fields=None,
             percent: bool = False) -> str:
    style = Style(color)
    # the input's row, above rows of layers (not above the totals of each type, --by-type)
    body = [["input", "", shape_str(summary.input_shape), "", "", ""]] if all(r.output_shape for r in rows) else []
    first = len(body)
    for r in rows:
        body.append([safe(r.name), safe(r.type), shape_cell(r.output_shape), exact(r.params) if r.params else "-",
                     exact(r.macs) if r.macs else "-", exact(r.flops) if r.flops else "-"])
    headers, right = ["Layer", "Type", "Output shape", "Params", "MACs", "FLOPs"], {3, 4, 5}
    if percent:
        headers, right = headers + ["Params %", "MACs %"], right | {len(headers), len(headers) + 1}
        for line in body[:first]:
            line += ["", ""]
        for line, r in zip(body[first:], rows):
            line += _share_cells(r, summary)
    if fields is not None:
        headers, right = headers + list(FIELD_HEADERS), right | {6, 7, 8}
        for line, field in zip(body, [fields.input, *fields.rows]):
            line += field_cells(field, fields.axes)
    lines = [style(safe(summary.name), "bold"), *box_table(headers, body, right, style, {1: "cyan"})]
    if fields is not None:
        lines += [style(safe(line), "dim") for line in field_notes(rows, fields)]
    totals = totals_lines(summary)
    label_width = max(len(label) for label, _ in totals)
    value_width = max(len(value) for _, value in totals)
    lines += [f"{style(label.ljust(label_width), 'bold')}  {value.rjust(value_width)}" for label, value in totals]
    where = _valid_where(summary)
    if where:
        lines.append(style(where, "bold"))
    if outcomes:
        lines.append("")
        for o in outcomes:
            mark = style("✓", "green") if o.ok else style("✗", "red")
            lines.append(f"{mark} expect {o.message()}")
    return "\n".join(lines) + "\n"


def shape_cell(shape) -> str:
    """A row's output shape; a row that is not one layer (a type's total) has none."""
    return shape_str(shape) if shape else "-"


def _valid_where(summary: Summary) -> str | None:
    """A symbolic summary's conditions, with the layers that impose them."""
    requirements = summary.requirements()
    if not requirements:
        return None
    return "Valid where: " + ", ".join(f"{safe(r.text)} ({', '.join(safe(str(layer)) for layer in r.layers)})"
                                       for r in requirements)


# --- shares (--percent): a row's part of the network's params and MACs, in percent ---

def _share_values(row, summary: Summary) -> list:
    from ..cost import shares

    return list(shares(row.figures, summary.totals.figures).values())


def _share_cells(row, summary: Summary) -> list:
    return ["-" if value is None else f"{value:.1f}%" for value in _share_values(row, summary)]


# --- the receptive field (--rf): a row's figures, one per spatial axis of the input ---

FIELD_HEADERS = ("RF", "Jump", "Offset")
GLOBAL = "*"  # after the size: each position also reads values shared by all positions
GLOBAL_NOTE = (f"{GLOBAL} each position also depends on values shared by all positions (a global pooling, mean "
               "or normalisation statistics, or a branch broadcast over them), which the field leaves out")


def _by_axis(field, axes: tuple) -> list:
    """The field's AxisField for each spatial axis of the input (the first, if two), or None."""
    found = {}
    for axis in field.spatial:
        found.setdefault(axis.axis, axis)
    return [found.get(index) for index in range(len(axes))]


def _figures(field, axes: tuple) -> list:
    """[(size, jump, offset) per input axis, None where the axis has no field], or [] when none has."""
    by_axis = _by_axis(field, axes)
    if all(axis is None for axis in by_axis):
        return []
    return [None if axis is None else (axis.size, axis.jump, axis.offset) for axis in by_axis]


def field_cells(field, axes: tuple) -> list:
    """Size, jump and offset as text: one value when every axis has the same, else one per
    axis in brackets ('-' where none); '-' for a layer without a field."""
    figures = _figures(field, axes)
    if not figures:
        return ["-", "-", "-"]
    cells = []
    for index in range(3):
        texts = ["-" if f is None or f[index] is None else str(f[index]) for f in figures]
        cells.append(texts[0] if len(set(texts)) == 1 else "[" + ", ".join(texts) + "]")
    if field.is_global:
        cells[0] += GLOBAL
    return cells


def _field_csv(field, axes: tuple) -> list:
    """Size, jump and offset per input axis joined by 'x' ('-' where none; empty without a
    field), whether global, and the notes."""
    figures = _figures(field, axes)
    cells = ["x".join("-" if f is None or f[index] is None else str(f[index]) for f in figures) for index in range(3)]
    return [*cells, "true" if field.is_global else "false", safe("; ".join(field.notes))]


def _field_dict(field, axes: tuple):
    """JSON: null for a layer without a field or a note; else each axis's size, jump (an
    integer, or "p/q"), offset (null when position 0 reads nothing), whether global, and
    the notes (which say why, where a field is lost)."""
    figures = _figures(field, axes)
    if not figures and not field.notes:
        return None
    return {"axes": [{"axis": name, "size": f[0], "jump": f[1] if type(f[1]) is int else str(f[1]), "offset": f[2]}
                     for name, f in zip(axes, figures) if f is not None],
            "global": field.is_global, "notes": list(field.notes)}


def field_notes(rows: list, fields) -> list:
    """The lines under the table: what the global mark means (where one is shown), and each
    row's notes."""
    marked = any(field.is_global and _figures(field, fields.axes) for field in fields.rows)
    return [*([GLOBAL_NOTE] if marked else []),
            *(f"{row.name}: {note}" for row, field in zip(rows, fields.rows) for note in field.notes)]


FORMATS = {"table": to_table, "json": to_json, "markdown": to_markdown, "csv": to_csv}
