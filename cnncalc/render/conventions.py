"""A conventions.Report (`cnncalc summary --convention TOOL`) as a table, JSON or Markdown:
the tool's own figures per layer and in total, cnncalc's own totals beside them, and one
line per layer where the tool's figure differs from cnncalc's, saying why."""
from __future__ import annotations

from ..conventions.core import Report
from ..diagnostics import safe
from . import json_text, markdown_cell as _md
from .table import Style, box_table


def show(stream, output_format: str, report: Report) -> None:
    from .console import color

    stream.write(FORMATS[output_format](report, color(stream)))


def _cell(figure, value) -> str:
    return "n/a" if value is None else figure.shown(value)


def _header(report: Report) -> list[str]:
    tool = report.tool
    batch = "per sample" if tool.per_sample else f"batch {report.batch}"
    return [f"{safe(report.network)} as {tool.name} {tool.version} counts it ({batch})",
            f"rules from {tool.source}"]


def _totals(report: Report) -> list[tuple[str, str, str]]:
    """(figure, the tool's total, cnncalc's own counterpart)."""
    return [(figure.label, _cell(figure, report.totals[figure.key]),
             _cell(figure, report.ours[figure.key]) if figure.key in report.ours else "")
            for figure in report.tool.figures]


def _reasons(report: Report) -> list[str]:
    return [f"{safe(row.name)}: {'; '.join(row.why)}" for row in report.rows if row.why]


def _uncounted(report: Report) -> list[str]:
    if not report.uncounted:
        return []
    return [f"{report.tool.name} cannot count {len(report.uncounted)} layer(s), left out of its totals: "
            + ", ".join(safe(name) for name in report.uncounted)]


def to_table(report: Report, color: bool = False) -> str:
    style = Style(color)
    figures = report.tool.figures
    headers = ["layer", "type", report.tool.name, *(figure.label for figure in figures)]
    rows = [[safe(row.name), row.type, safe(row.key), *(_cell(f, row.counts[f.key]) for f in figures)]
            for row in report.rows]
    lines = _header(report) + box_table(headers, rows, set(range(3, 3 + len(figures))), style)
    lines += box_table(["total", report.tool.name, "cnncalc"], _totals(report), {1, 2}, style)
    lines += [f"- {remark}" for remark in report.tool.remarks]
    reasons = _reasons(report)
    if reasons:
        lines += ["", style(f"Where {report.tool.name} differs from cnncalc, and why:", "bold"), *reasons]
    lines += _uncounted(report)
    return "\n".join(lines) + "\n"


def to_json(report: Report, color: bool = False) -> str:
    return json_text(report.to_dict()) + "\n"


def to_markdown(report: Report, color: bool = False) -> str:
    figures = report.tool.figures
    lines = [f"**{_md(line)}**" if i == 0 else _md(line) for i, line in enumerate(_header(report))] + [""]
    lines += ["| layer | type | " + " | ".join([report.tool.name, *(f.label for f in figures)]) + " |",
              "|---|---|---|" + "---:|" * len(figures)]
    lines += [f"| {_md(row.name)} | {row.type} | {_md(row.key)} | "
              + " | ".join(_cell(f, row.counts[f.key]) for f in figures) + " |" for row in report.rows]
    lines += ["", f"| total | {report.tool.name} | cnncalc |", "|---|---:|---:|"]
    lines += [f"| {label} | {tool} | {ours} |" for label, tool, ours in _totals(report)]
    lines += [""] + [f"- {_md(remark)}" for remark in report.tool.remarks]
    reasons = _reasons(report)
    if reasons:
        lines += ["", f"Where {report.tool.name} differs from cnncalc, and why:", ""]
        lines += [f"- {_md(reason)}" for reason in reasons]
    lines += [_md(line) for line in _uncounted(report)]
    return "\n".join(lines) + "\n"


FORMATS = {"table": to_table, "json": to_json, "markdown": to_markdown}
