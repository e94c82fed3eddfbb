"""Every layer type, registered by its `type` name. Adding one: a class in one of these modules."""
from . import activation, conv, dense, lenet, merge, norm, padding, pieces, pool, reduce, regularise, resampling, shape_ops, transposed  # noqa: F401  (registration)
from .base import REGISTRY, Arg, Layer, prod

__all__ = ["REGISTRY", "Arg", "Layer", "prod"]
