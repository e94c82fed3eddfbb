"""Regularisers that act only in training: dropout (element-wise, or whole channels in 1,
2 or 3 spatial dimensions) and stochastic depth. At inference each is the identity: no
parameters, no FLOPs, no working arrays."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, shape_str


class _Identity(Layer):
    category = "regularisation"
    moves_no_data = True
    args = {"p": Arg("float", 0.5, "probability of zeroing an element during training")}
    spatial: int | None = None  # channel-wise dropouts: the spatial axes after the channels

    def validate(self):
        if not 0 <= self.p <= 1:
            raise SpecError(f"p must be between 0 and 1, got {self.p}", arg="p")

    def output_shape(self, x):
        if self.spatial is not None and len(x) != self.spatial + 1:
            axes = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}[self.spatial]
            raise SpecError(f"{self.type} drops whole channels of a {axes} input per sample, "
                            f"got {len(x)}-D {shape_str(x)}",
                            hint="use dropout for element-wise dropout, or the channel-wise one of this rank")
        return x

    def forward(self, ops, params, x):
        return x  # inference


class Dropout(_Identity):
    type = "dropout"


class Dropout1d(_Identity):
    """Whole channels of [C, L] (nn.Dropout1d)."""

    type = "dropout1d"
    spatial = 1


class Dropout2d(_Identity):
    """Whole channels of [C, H, W] (nn.Dropout2d; other ranks PyTorch warns are deprecated,
    or reads as [C, L]: refused here)."""

    type = "dropout2d"
    spatial = 2


class Dropout3d(_Identity):
    """Whole channels of [C, D, H, W] (nn.Dropout3d; other ranks refused, as for dropout2d)."""

    type = "dropout3d"
    spatial = 3


class StochasticDepth(_Identity):
    """torchvision.ops.StochasticDepth: in training, drops the residual branch it ends, per
    sample ('row') or for the whole batch ('batch'), with probability p."""

    type = "stochastic_depth"
    args = {
        "p": Arg("float", doc="probability of dropping the branch during training"),
        "mode": Arg("choice", "row", "'row': per sample, 'batch': the whole batch at once",
                    choices=("row", "batch")),
    }
