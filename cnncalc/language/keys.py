"""The check that a mapping in a spec holds only the keys its part of the spec allows."""
from __future__ import annotations

from ..diagnostics import SpecError, did_you_mean
from .reader import Mapping


def check_keys(mapping: Mapping, allowed, what: str, extra=(), *, of: str = "", layer: str | None = None) -> None:
    for key in mapping:
        if key not in allowed and key not in extra:
            # `stride: (2, 2)` inside { } reads as two entries, 'stride: (2' and '2)'
            hint = ("write lists as [2, 2], not (2, 2)" if str(key).endswith(")")
                    else did_you_mean(key, [*allowed, *extra], "allowed"))
            raise SpecError(f"unknown {what} '{key}'{of}", mapping.key_locs[key], layer=layer, hint=hint)
