"""Fully connected layers and embeddings."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, torch_call, torch_keywords
from .reads import IDENTITY, Reads
from .parameters import BIAS, HeNormal, Normal, Param
from .saving import INPUT, NOTHING


class Dense(Layer):
    """Units that each read the whole last axis (leading axes kept): linear, RBF."""

    category = "dense"
    args = {
        "out_features": Arg("int", doc="size of each output vector", minimum=1),
        "in_features": Arg("int", None, "size of the last input axis (inferred; checked when given)", minimum=1),
    }

    def output_shape(self, x):
        if not x:
            raise SpecError(f"{self.type} needs an input with at least one axis")
        self.check_inferred("in_features", self.in_features, x[-1], "features on its last axis")
        return (*x[:-1], self.out_features)

    def reads(self, out, x):
        """Each unit reads the whole last axis; the leading axes as they are."""
        return Reads((*(((0, a, IDENTITY),) for a in range(len(x) - 1)), ()), whole=((0, len(x) - 1),))

    def macs(self, out, x):
        return prod(x) * self.out_features


class Linear(Dense):
    """y = x W^T + b on the last axis."""

    type = "linear"
    args = {**Dense.args, "bias": Arg("bool", True, "one additive bias per output feature")}

    def torch_code(self, x):
        return torch_call("nn.Linear", x[-1], self.out_features, **torch_keywords({"bias": True}, bias=self.bias))

    def onnx_nodes(self, builder, inputs, output, x):
        """Gemm on [N, features]; on more axes, MatMul by the weight transposed, then the bias."""
        bias = [builder.param("bias")] if self.bias else []
        if len(x) == 1:
            builder.node("Gemm", [*inputs, builder.param("weight"), *bias], output, transB=1)
            return
        product = builder.node("MatMul", [*inputs, builder.node("Transpose", [builder.param("weight")])],
                               None if self.bias else output)
        if self.bias:
            builder.node("Add", [product, *bias], output)

    def parameters(self, x):
        params = {"weight": Param((self.out_features, x[-1]), HeNormal(x[-1]))}
        if self.bias:
            params["bias"] = Param((self.out_features,), BIAS)
        return params

    def flops(self, out, x):
        return 2 * self.macs(out, x) + (prod(out) if self.bias else 0)

    def saved(self, out, x, *, needs):
        return INPUT if needs.params else NOTHING  # x W^T: only the weight's gradient reads x

    def forward(self, ops, params, x):
        weight = params("weight", (self.out_features, x.shape[-1]))
        y = ops.matmul(x, ops.xp.permute_dims(weight, (1, 0)))
        if self.bias:
            y += params("bias", (y.shape[-1],))
        return y


class Embedding(Layer):
    """A lookup table: integer tokens [L] -> vectors [L, embedding_dim]."""

    type = "embedding"
    category = "dense"
    args = {
        "num_embeddings": Arg("int", doc="vocabulary size", minimum=1),
        "embedding_dim": Arg("int", doc="size of each vector", minimum=1),
    }

    def torch_code(self, x):
        return torch_call("nn.Embedding", self.num_embeddings, self.embedding_dim)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Gather", [builder.param("weight"), *inputs], output, axis=0)

    def output_shape(self, x):
        return (*x, self.embedding_dim)

    def reads(self, out, x):
        """A token's vector: the tokens' axes as they are, the new last axis no input's."""
        return Reads((*(((0, a, IDENTITY),) for a in range(len(x))), ()))

    def parameters(self, x):
        return {"weight": Param((self.num_embeddings, self.embedding_dim), Normal(1.0))}  # as PyTorch

    def token_range(self):
        return self.num_embeddings

    def forward(self, ops, params, tokens):
        """Rows of the table picked by integer tokens (a gather: no MACs)."""
        xp = ops.xp
        weight = params("weight", (self.num_embeddings, self.embedding_dim))
        rows = xp.take(weight, xp.reshape(tokens, (-1,)), axis=0)
        return xp.reshape(rows, (*tokens.shape, weight.shape[1]))
