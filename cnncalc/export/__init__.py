"""Exports of a network to other frameworks' source: one module per target, each with
`export(network) -> str`. TARGETS names them for `cnncalc export --to`."""
from __future__ import annotations

TARGETS = {"pytorch": "cnncalc.export.pytorch"}


def export(network, to: str) -> str:
    """The source of `network` for the target `to` (a key of TARGETS)."""
    from importlib import import_module

    return import_module(TARGETS[to]).export(network)
