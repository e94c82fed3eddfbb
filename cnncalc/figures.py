"""The figures cnncalc counts, as one record that adds: a layer's, a folded block's and a
whole network's are the same type, so a sum is written once."""
from __future__ import annotations

from dataclasses import astuple, dataclass, fields

FIGURES = ("params", "trainable_params", "buffers", "macs", "flops")


@dataclass(frozen=True)
class Figures:
    params: int = 0
    trainable_params: int = 0
    buffers: int = 0  # running statistics: counted apart from parameters, as PyTorch does
    macs: int = 0  # multiply-accumulates, for the whole batch
    flops: int = 0  # floating-point operations, for the whole batch

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(*(mine + theirs for mine, theirs in zip(astuple(self), astuple(other))))

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    def to_dict(self, non_trainable: bool = False) -> dict:
        """The figures by name; with `non_trainable`, that count follows the trainable one."""
        data = {}
        for field in fields(self):
            data[field.name] = getattr(self, field.name)
            if non_trainable and field.name == "trainable_params":
                data["non_trainable_params"] = self.non_trainable_params
        return data


class WithFigures:
    """A record holding `figures`, whose figures read as its own attributes
    (`record.macs`)."""

    figures: Figures

    def __getattr__(self, name: str):
        if name in FIGURES or name == "non_trainable_params":
            return getattr(self.figures, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
