"""A summary with the memory of a training step (cnncalc/training.py) after it: the table
and Markdown gain a section, JSON a `training` key. CSV has one row per layer and no
place for whole-network figures, so it is not offered (FORMATS). Plain text, as the
summary's: `cnncalc summary` never imports rich."""
from __future__ import annotations

from ..training import TrainingMemory
from . import exact, human, json_text
from .table import Style


def show(stream, output_format: str, summary, rows: list, outcomes: list, memory: TrainingMemory,
         limit: int | None = None) -> None:
    """Write the summary in `output_format` (one of FORMATS), then `memory`; with `limit`
    (bytes), also the largest batch whose peak fits in it."""
    from . import summary as summary_render
    from .console import color

    colored = color(stream)
    text = summary_render.FORMATS[output_format](summary, rows, outcomes, colored)
    stream.write(FORMATS[output_format](text, memory, limit, colored))


def heading(memory: TrainingMemory) -> str:
    return f"Training step (batch {memory.batch}, {memory.precision}, {memory.optimizer})"


def lines(memory: TrainingMemory, limit: int | None) -> list[tuple[str, str]]:
    """(label, value) pairs: each part of the peak, the peak, and the largest batch."""
    parts = [
        ("  Weights", memory.weights),
        ("  Buffers (running statistics)", memory.buffers),
        ("  Gradients", memory.gradients),
        (f"  Optimizer state ({memory.optimizer})", memory.optimizer_state),
        ("  Master weights (float32)", memory.master_weights),
        ("  Saved activations", memory.saved_activations),
        ("  Backward pass, largest step", memory.backward_transient),
        ("Peak", memory.peak),
        ("  each further sample adds", memory.per_sample),
    ]
    result = [(label, human(value, "B")) for label, value in parts]
    if limit is not None:
        result.append((f"Largest batch in {human(limit, 'B')}", max_batch_text(memory, limit)))
    return result


def max_batch_text(memory: TrainingMemory, limit: int) -> str:
    from ..limits import MAX_DIM

    batch = memory.max_batch(limit)
    if batch == 0:
        return f"none (batch 1 needs {human(memory.peak + (1 - memory.batch) * memory.per_sample, 'B')})"
    return exact(batch) + (" (the batch limit)" if batch == MAX_DIM else "")


def to_table(summary_text: str, memory: TrainingMemory, limit, color: bool = False) -> str:
    style = Style(color)
    pairs = lines(memory, limit)
    label_width = max(len(label) for label, _ in pairs)
    value_width = max(len(value) for _, value in pairs)
    body = [f"{style(label.ljust(label_width), 'bold')}  {value.rjust(value_width)}" for label, value in pairs]
    return summary_text + "\n" + style(heading(memory), "bold") + "\n" + "\n".join(body) + "\n"


def to_markdown(summary_text: str, memory: TrainingMemory, limit, color: bool = False) -> str:
    rows = [f"| {label.strip()} | {value} |" for label, value in lines(memory, limit)]
    return summary_text + "\n" + "\n".join([f"| {heading(memory)} | |", "|---|--:|", *rows]) + "\n"


def to_dict(memory: TrainingMemory, limit: int | None = None) -> dict:
    data = {
        "batch": memory.batch, "optimizer": memory.optimizer, "precision": memory.precision,
        "bytes": {"weights": memory.weights, "buffers": memory.buffers, "gradients": memory.gradients,
                  "optimizer_state": memory.optimizer_state, "master_weights": memory.master_weights,
                  "saved_activations": memory.saved_activations,
                  "backward_transient": memory.backward_transient, "peak": memory.peak},
        "per_sample_bytes": memory.per_sample,
        "layers": [{"name": name, "saved_activation_bytes": size} for name, size in memory.layers],
    }
    if limit is not None:
        data["max_batch"] = {"memory_bytes": limit, "batch": memory.max_batch(limit)}
    return data


def to_json(summary_text: str, memory: TrainingMemory, limit, color: bool = False) -> str:
    """The summary's JSON document with a `training` key."""
    import json

    data = json.loads(summary_text)
    data["training"] = to_dict(memory, limit)
    return json_text(data) + "\n"


FORMATS = {"table": to_table, "json": to_json, "markdown": to_markdown}
