"""`cnncalc summary --convention TOOL`: the figures a peer tool prints for a network, in its
own terms, and why they differ from cnncalc's (see core.py). One module per tool, each
imported only when asked for (the CLI imports this package for TOOLS alone)."""
from __future__ import annotations

from importlib import import_module

TOOLS = ("torchinfo", "fvcore", "ptflops", "thop", "darknet", "keras")


def convention(summary, tool: str):
    """`summary` counted as `tool` (one of TOOLS) counts: a core.Report."""
    from .core import report

    return report(summary, import_module(f"{__name__}.{tool}").TOOL)
