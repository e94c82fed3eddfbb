"""The figures cnncalc counts, as one record that adds: a layer's, a folded block's and a
whole network's are the same type, so a sum is written once."""
from __future__ import annotations

from operator import add
from typing import NamedTuple


class Figures(NamedTuple):
    """A named tuple: one is made per layer, and summing thousands must stay cheap."""

    params: int = 0
    trainable_params: int = 0
    buffers: int = 0  # running statistics: counted apart from parameters, as PyTorch does
    macs: int = 0  # multiply-accumulates, for the whole batch
    flops: int = 0  # floating-point operations, for the whole batch

    def __add__(self, other: "Figures") -> "Figures":  # figure by figure, not tuple concatenation
        return Figures(*map(add, self, other))

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    def to_dict(self, non_trainable: bool = False) -> dict:
        """The figures by name; with `non_trainable`, that count follows the trainable one."""
        data = {}
        for name, value in zip(self._fields, self):
            data[name] = value
            if non_trainable and name == "trainable_params":
                data["non_trainable_params"] = self.non_trainable_params
        return data


FIGURES = Figures._fields  # their names, in order


class WithFigures:
    """A record holding `figures`, whose figures read as its own attributes
    (`record.macs`)."""

    figures: Figures

    def __getattr__(self, name: str):
        if name in FIGURES or name == "non_trainable_params":
            return getattr(self.figures, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
