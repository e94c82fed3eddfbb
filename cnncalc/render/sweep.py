"""Many input sizes: a sweep (one row per size) and `cnncalc sizes` (which sizes are valid)."""
from __future__ import annotations

from ..diagnostics import safe
from ..layers.base import shape_str
from . import exact, human, json_text
from .table import Style, box_table

HEADERS = ["Input", "Output", "Params", "MACs", "FLOPs", "Activation memory"]


def show(stream, output_format: str, rows: list) -> None:
    from .console import color

    stream.write(FORMATS[output_format](rows, color(stream)))


def _cells(row) -> list:
    if row.problem is not None:
        where = f"{safe(row.problem.layer)}: " if row.problem.layer else ""
        return [shape_str(row.input_shape), f"invalid: {where}{safe(row.problem.message)}", "", "", "", ""]
    f = row.figures
    return [shape_str(row.input_shape), shape_str(row.output_shape), exact(f.params), exact(f.macs),
            exact(f.flops), human(row.activation_memory, "B")]


def to_table(rows: list, color: bool = False) -> str:
    return "\n".join(box_table(HEADERS, [_cells(row) for row in rows], {2, 3, 4, 5}, Style(color))) + "\n"


def to_markdown(rows: list, color: bool = False) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|---|--:|--:|--:|--:|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(rows: list, color: bool = False) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["input_shape", "valid", "output_shape", "params", "macs", "flops", "activation_memory",
                     "problem"])
    for row in rows:
        size = "x".join(map(str, row.input_shape))
        if row.problem is not None:
            writer.writerow([size, "false", "", "", "", "", "", safe(row.problem.message)])
        else:
            f = row.figures
            writer.writerow([size, "true", "x".join(map(str, row.output_shape)), f.params, f.macs, f.flops,
                             row.activation_memory, ""])
    return out.getvalue()


def to_json(rows: list, color: bool = False) -> str:
    return json_text({"sizes": [row.to_dict() for row in rows]}) + "\n"


FORMATS = {"table": to_table, "json": to_json, "markdown": to_markdown, "csv": to_csv}


def show_sizes(stream, output_format: str, report, rows: list) -> None:
    """`cnncalc sizes`: the valid sizes in words, the smallest, and --at's table."""
    from .console import color

    if output_format == "json":
        stream.write(json_text({**report.to_dict(), "at": [row.to_dict() for row in rows]}) + "\n")
        return
    style = Style(color(stream))
    lines = [style(safe(report.name), "bold"),
             f"input {shape_str(report.pattern_shape)}, S from {report.first} to {report.last}",
             f"valid S: {report.pattern()}"]
    if report.valid:
        lines.append(f"smallest: {report.valid[0]}")
    stream.write("\n".join(lines) + "\n")
    if rows:
        stream.write(to_table(rows, style.enabled))
