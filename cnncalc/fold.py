"""Fold the layers inside deep block instances into one row each (`--depth N`)."""
from __future__ import annotations

from .figures import Figures
from .summary import LayerRecord


def fold(records: list, depth: int) -> list:
    """Rows for a summary shown `depth` block levels deep; totals are unchanged.

    A layer inside more than `depth` levels of blocks joins the row of its enclosing
    instance at that depth, which carries the instance's name, its block as the type,
    the last layer's output shape and the sums of the figures."""
    rows: list[LayerRecord] = []
    current_key = None
    for record in records:
        if len(record.scope) < depth:
            rows.append(record)
            current_key = None
            continue
        key = tuple(segment for segment, _ in record.scope[:depth])
        if key != current_key:
            label = record.scope[depth - 1][1]
            rows.append(LayerRecord(".".join(key), label, record.inputs, record.output_shape, Figures(),
                                    {}, record.scope[:depth]))
            current_key = key
        row = rows[-1]
        row.output_shape = record.output_shape
        row.figures += record.figures
    return rows
