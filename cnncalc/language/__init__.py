"""The spec language: YAML read with locations, expressions, blocks and repeats
expanded, names and `from` resolved, and the graph ordered into a Network."""
from .build import load, loads

__all__ = ["load", "loads"]
