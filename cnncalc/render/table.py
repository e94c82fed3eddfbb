"""A box-drawn table in plain ANSI, for the summary's thousands of rows."""
from __future__ import annotations


class Style:
    """ANSI styles, or nothing when colour is off (not a terminal, or NO_COLOR)."""

    CODES = {"bold": "1", "dim": "2", "cyan": "36", "green": "32", "red": "31"}

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        return f"\x1b[{self.CODES[style]}m{text}\x1b[0m" if self.enabled and text else text


def box_table(headers: list, rows: list, right: set, style: Style, styles: dict | None = None) -> list:
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
