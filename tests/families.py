"""Layer-type families that keep their cases in test modules of their own.

Each module in FAMILIES may define, as lists:
  TORCH_CASES, TORCH_ERRORS  (case_types.TorchCase)   -> test_layers_torch.py
  FORWARD_CASES              (case_types.ForwardCase) -> test_verify_layers.py, and through
                                                        it test_verify_memory.py
  PARAM_LAWS                 ((spec, {param: law}))   -> test_verify_params.py
and tests of its own (FLOPs against torch.utils.flop_counter, hostile input). The
"every layer type has a case" tests see the families' cases with the rest.
"""
from __future__ import annotations

import importlib

FAMILIES = ("test_layers_conv_family", "test_layers_resampling", "test_layers_norm_activation",
            "test_layers_merge_pieces")


def family_cases(kind: str) -> list:
    return [case for name in FAMILIES for case in getattr(importlib.import_module(name), kind, [])]
