"""A Diff (cnncalc.diff) as text: a table, JSON, or Markdown for a pull request's comment.
Plain text to the stream, not through rich: `cnncalc diff` never imports it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..diagnostics import safe, shown
from ..diff import ADDED, CHANGED, GATED, REMOVED, Diff, LayerChange, TotalChange
from ..layers.base import shape_str
from . import exact, human, json_text, markdown_cell
from .table import Style, box_table

if TYPE_CHECKING:
    from fractions import Fraction

MARKS = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
MEMORY = ("param_memory", "activation_memory")
LAYER_HEADERS = ["", "Layer", "Type", "Output shape", "Δ Params", "Δ MACs", "Δ FLOPs", "Inputs"]
ALIGN = ["---", "---", "---", "---", "--:", "--:", "--:", "---"]  # Markdown: the figures to the right


def show(stream, output_format: str, result: Diff, limit: Fraction | None) -> None:
    """Write `result` to `stream` in `output_format` (one of FORMATS); with `limit`, the
    verdict of --max-increase (percent) too."""
    from .console import color

    stream.write(FORMATS[output_format](result, limit, color(stream)))


def _both(old, new, text=str) -> str:
    """'x' when both sides say x, else 'old → new'."""
    return text(old) if old == new else f"{text(old)} → {text(new)}"


def _figure(name: str, value: int) -> str:
    return human(value, "B") if name in MEMORY else exact(value)


def _signed(name: str, value: int) -> str:
    return ("+" if value > 0 else "") + _figure(name, value)


def _percent(total: TotalChange, sign: str = "+") -> str:
    """'+118.63%', or two significant digits below 0.01 % ('+0.00068%'), for a total that changed."""
    percent = float(total.percent)
    return f"{percent:{sign}.2f}%" if abs(percent) >= 0.01 else f"{percent:{sign}.2g}%"


def _change(total: TotalChange) -> str:
    """'+13,867,520 (+118.63%)', '+4 (from 0)' or '0'."""
    if not total.delta:
        return "0"
    return f"{_signed(total.name, total.delta)} ({'from 0' if total.percent is None else _percent(total)})"


def _limit(limit: Fraction) -> str:
    return f"{float(limit):,.15g}%"


def total_rows(result: Diff) -> list:
    """(label, old, new, change) for every total, as people read them."""
    old, new = result.old, result.new
    batch, dtype = f"batch {_both(old.batch, new.batch)}", _both(old.dtype, new.dtype)
    labels = {"params": "Params", "trainable_params": "  trainable", "non_trainable_params": "  non-trainable",
              "buffers": "Buffers (running statistics)", "macs": f"MACs ({batch})", "flops": f"FLOPs ({batch})",
              "param_memory": f"Parameter memory ({dtype})",
              "activation_memory": f"Activation memory ({batch}, {dtype})"}
    return [(labels[t.name], _figure(t.name, t.old), _figure(t.name, t.new), _change(t)) for t in result.totals]


def gate_lines(result: Diff, limit: Fraction | None) -> list:
    """(ok, text) for --max-increase: one line per watched total over the limit, or one saying none is."""
    if limit is None:
        return []
    labels = {"params": "params", "macs": "MACs", "flops": "FLOPs", "param_memory": "parameter memory",
              "activation_memory": "activation memory"}
    over = result.exceeded(limit)
    if not over:
        return [(True, f"no watched total ({', '.join(labels[name] for name in GATED)}) grew by more than "
                       f"{_limit(limit)}")]
    lines = []
    for total in over:
        growth = "" if total.percent is None else f"by {_percent(total, '-')}, "
        lines.append((False, f"{labels[total.name]} grew {growth}from {_figure(total.name, total.old)} to "
                             f"{_figure(total.name, total.new)}: more than --max-increase {_limit(limit)}"))
    return lines


def _layer_cells(layer: LayerChange) -> list:
    old, new = layer.old or layer.new, layer.new or layer.old
    delta = layer.delta
    inputs = _both(" ".join(old.inputs), " ".join(new.inputs), safe) if "inputs" in layer.differs else ""
    return [MARKS[layer.change], safe(layer.name), _both(old.type, new.type, safe),
            _both(tuple(old.output_shape), tuple(new.output_shape), shape_str),
            _signed("params", delta.params), _signed("macs", delta.macs), _signed("flops", delta.flops), inputs]


def _layer_rows(result: Diff) -> tuple:
    """The layer table's headers and rows; the Inputs column only when some layer's inputs changed."""
    rows = [_layer_cells(layer) for layer in result.layers]
    if any(row[-1] for row in rows):
        return LAYER_HEADERS, rows
    return LAYER_HEADERS[:-1], [row[:-1] for row in rows]


def _headline(result: Diff) -> list:
    old, new = result.old, result.new
    files = _both(shown(old.network.file), shown(new.network.file)) if old.network and new.network else ""
    changes = [f"{name.replace('_', ' ')} {_both(a, b, shape_str if 'shape' in name else str)}"
               for name, a, b in result.network_changes]
    return [safe(_both(old.name, new.name)), files, *(["; ".join(changes)] if changes else [])]


def _counts(result: Diff) -> str:
    counted = ", ".join(f"{result.count(change)} {change}" for change in (ADDED, REMOVED, CHANGED))
    return f"Layers: {counted} ({len(result.old.layers)} → {len(result.new.layers)} layers)"


def to_table(result: Diff, limit: Fraction | None, color: bool = False) -> str:
    style = Style(color)
    head, *rest = _headline(result)
    lines = [style(head, "bold"), *filter(None, rest)]
    if result.empty:
        lines.append("no changes: the same layers, figures and totals")
    else:
        headers, rows = _layer_rows(result)
        if rows:
            lines += box_table(headers, rows, {4, 5, 6}, style, {1: "cyan"})
        lines.append(_counts(result))
        totals = [("", "old", "new", "change"), *total_rows(result)]
        widths = [max(len(row[i]) for row in totals) for i in range(4)]
        lines += [style(label.ljust(widths[0]), "bold") + "".join(f"  {cell.rjust(width)}"
                                                                  for cell, width in zip(cells, widths[1:]))
                  for label, *cells in totals]
    for ok, text in gate_lines(result, limit):
        lines.append(f"{style('✓', 'green') if ok else style('✗', 'red')} {text}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: controls escaped, and nothing read as a column or an HTML tag."""
    return markdown_cell(text).replace("<", "&lt;")


def to_markdown(result: Diff, limit: Fraction | None, color: bool = False) -> str:
    head, *rest = _headline(result)
    lines = [f"### {_cell(head)}", "", *(f"{_cell(line)}  " for line in rest if line), ""]
    if result.empty:
        lines.append("No changes: the same layers, figures and totals.")
    else:
        lines += ["| | old | new | change |", "|---|--:|--:|--:|"]
        lines += [f"| {_cell(label.strip())} | {old} | {new} | {change} |" for label, old, new, change
                  in total_rows(result)]
        lines += ["", f"<details><summary>{_counts(result)}</summary>", ""]
        headers, rows = _layer_rows(result)
        if rows:
            lines += ["| " + " | ".join(headers) + " |", "|" + "|".join(ALIGN[:len(headers)]) + "|"]
            lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
        lines += ["", "</details>"]
    gates = gate_lines(result, limit)
    if gates:
        lines += ["", *(f"- {'✓' if ok else '✗'} {_cell(text)}" for ok, text in gates)]
    return "\n".join(lines) + "\n"


def to_json(result: Diff, limit: Fraction | None, color: bool = False) -> str:
    data = result.to_dict()
    if limit is not None:
        data["max_increase"] = {"percent": float(limit), "watched": list(GATED),
                                "exceeded": [total.name for total in result.exceeded(limit)]}
    return json_text(data) + "\n"


FORMATS = {"table": to_table, "json": to_json, "markdown": to_markdown}
