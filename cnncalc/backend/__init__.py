"""Run a network for real and check the symbolic figures against what happens.

Nothing here is imported by `cnncalc summary`: the CLI's `verify` command imports
this package lazily, and only this package imports an array library.

* namespace: which array library (NumPy, CuPy, array-api-strict) and its few gaps
* ops: what layer forward passes call besides the array namespace; counts MACs
* params: draws the parameters each layer type declares (shape and initialiser), and the
  accessor that counts what a layer uses
* liveness: when each activation dies, for both the estimate and the forward pass
* memory: the peak-memory estimate made before anything is allocated
* execute: the forward pass, freeing each activation after its last use
* verify: the comparison with `summarize` and its rendering
"""
from .verify import VerifyResult, verify

__all__ = ["VerifyResult", "verify"]
