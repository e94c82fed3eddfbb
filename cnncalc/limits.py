"""Bounds that the spec language enforces and the figures rely on: within them, every
figure is an exact integer that prints, and no spec makes cnncalc work without end."""

MAX_LAYERS = 250_000  # entries expanded, skipped ones too: ~25 µs each, about 6 s at the limit
MAX_DIM = 2**31 - 1  # one size: an input axis, a layer's output axis, the batch
MAX_RANK = 8  # axes per sample, of the input and of every layer's output
MAX_BLOCK_DEPTH = 64  # blocks inside blocks; expansion recurses once per level
MAX_NAME = 200  # characters of one layer name: it is a table row and part of error messages
