"""Regularisers that act only in training: dropout (element-wise, or whole channels in 1,
2 or 3 spatial dimensions) and stochastic depth. At inference each is the identity: no
parameters, no FLOPs, no working arrays."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call
from .saving import BOOL, VIEW, Own, Saved


class _Identity(Layer):
    category = "regularisation"
    moves_no_data = True
    args = {"p": Arg("float", 0.5, "probability of zeroing an element during training")}
    spatial: int | None = None  # channel-wise dropouts: the spatial axes after the channels

    def torch_code(self, x):
        return torch_call(f"nn.{type(self).__name__}", self.p)  # the dropouts are named as torch's

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Identity", inputs, output)  # inference

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

    def saved(self, out, x, *, needs):
        """As PyTorch's dropout: p = 0 returns the input itself; p = 1 multiplies by a zero
        scalar, which is kept; otherwise the mask is kept: element-wise, the bool mask of
        native_dropout (what nn.Dropout runs on a GPU), channel-wise, one value per channel
        in the activations' dtype."""
        if self.p == 0:
            return VIEW
        if self.p == 1:
            return Saved(own=(Own(fixed=1),))
        return Saved(own=(Own(prod(out), kind=BOOL) if self.spatial is None else Own(out[0]),))

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

    def torch_code(self, x):
        return torch_call("StochasticDepth", self.p, self.mode)

    def saved(self, out, x, *, needs):
        """torchvision's stochastic_depth: p = 0 returns the input; otherwise it multiplies
        by a noise of one value per sample ('row') or one for the batch, which is kept."""
        if self.p == 0:
            return VIEW
        return Saved(own=(Own(1) if self.mode == "row" else Own(fixed=1),))
