"""The spec language: YAML read with locations (reader), expressions (expressions),
variables and the input shape (values), block and repeat expansion (blocks, expansion),
layer names (naming), `from` resolution and ordering (graph) and `expect:` (expectations),
assembled into a Network by build."""
from .build import load, loads

__all__ = ["load", "loads"]
