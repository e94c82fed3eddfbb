"""Where a network's cost is: each row's share of the totals, the totals of each layer
type, and the heaviest rows."""
from __future__ import annotations

from typing import NamedTuple

from .figures import FIGURES, Figures

# the figures a breakdown can rank by (buffers and trainable params are shares of params)
RANKED = ("params", "macs", "flops")


def percent(part: int, whole: int) -> float | None:
    """part as a percentage of whole; None where the whole is 0 (a network with no
    parameters has no parameter shares, rather than shares of 0 %)."""
    return None if whole == 0 else 100 * part / whole


def shares(figures: Figures, totals: Figures) -> dict:
    """A row's share of the network's params and MACs, in percent (JSON keys)."""
    return {"params_pct": percent(figures.params, totals.params), "macs_pct": percent(figures.macs, totals.macs)}


class TypeTotal(NamedTuple):
    type: str
    layers: int  # how many layers of this type
    figures: Figures

    def to_dict(self, totals: Figures) -> dict:
        return {"type": self.type, "layers": self.layers, **self.figures.to_dict(), **shares(self.figures, totals)}


def by_type(records: list) -> list[TypeTotal]:
    """The figures summed over each layer type, heaviest first (MACs, then params), ties
    in the order the types first appear."""
    sums: dict[str, list] = {}
    for record in records:
        entry = sums.setdefault(record.type, [0, Figures()])
        entry[0] += 1
        entry[1] += record.figures
    totals = [TypeTotal(name, count, figures) for name, (count, figures) in sums.items()]
    return sorted(totals, key=lambda t: (-t.figures.macs, -t.figures.params))


def heaviest(rows: list, count: int, figure: str = "macs") -> list:
    """The `count` rows largest in `figure`, largest first; ties keep the network's order."""
    if figure not in RANKED:
        raise ValueError(f"can rank by {', '.join(RANKED)}, not {figure!r}")
    index = FIGURES.index(figure)
    return sorted(rows, key=lambda row: -row.figures[index])[:count]


def type_rows(records: list) -> list:
    """The totals of each type as summary rows (name: the type, type: "N layers", no
    output shape), heaviest first: what --by-type shows in every format."""
    from .summary import LayerRecord

    return [LayerRecord(total.type, f"{total.layers} layer{'s' if total.layers > 1 else ''}", [], (),
                        total.figures) for total in by_type(records)]
