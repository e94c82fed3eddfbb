"""What `cnncalc summary` shows of a network beside its plain table, as its options ask:
which rows (folded, by type, the heaviest), the receptive-field columns, a training
step's memory, or a peer tool's convention instead. The options are checked together,
before any work, so a combination that cannot be shown is refused at once."""
from __future__ import annotations

from dataclasses import dataclass

from .diagnostics import UsageError


@dataclass(frozen=True)
class Views:
    depth: int | None = None  # fold block instances deeper than this
    rf: bool = False  # receptive-field columns
    percent: bool = False  # shares of the totals
    by_type: bool = False  # one row per layer type
    top: int | None = None  # only the heaviest rows, by `rank`
    rank: str = "macs"
    training: bool = False  # a training step's memory (implied by the three after it)
    optimizer: str | None = None
    precision: str | None = None
    max_batch: str | None = None  # "24GB": the largest batch whose peak fits
    convention: str | None = None  # a peer tool's figures instead of cnncalc's table

    @property
    def training_on(self) -> bool:
        return self.training or any(value is not None for value in (self.optimizer, self.precision, self.max_batch))

    def check(self, sweep: bool) -> int | None:
        """Refuse what cannot be shown together (`sweep`: the input is a range of sizes);
        the size --max-batch names, in bytes (None without it)."""
        if self.training_on and sweep:
            raise UsageError("--training needs one input shape, not a sweep of sizes",
                             hint="give --input as sizes, e.g. 3,224,224")
        if self.rf and (self.training_on or sweep):
            raise UsageError("--rf shows the receptive fields of one network: not with --training or an "
                             "--input range")
        if self.convention is not None:
            if sweep:
                raise UsageError("--convention counts one network: not with an --input range")
            if self.depth is not None or self.rf or self.percent or self.by_type or self.top is not None \
                    or self.training_on:
                raise UsageError("--convention shows one tool's figures: not with --depth, --rf, --percent, "
                                 "--by-type, --top or --training")
        if self.by_type and (self.depth is not None or self.rf):
            raise UsageError("--by-type sums whole types: not with --depth or --rf")
        if self.top is not None and self.rf:
            raise UsageError("--top reorders the rows: not with --rf, whose fields follow the network's order")
        if self.max_batch is None:
            return None
        from .training import parse_size

        return parse_size(self.max_batch)

    def rows(self, result) -> list:
        """The rows to show of `result` (a Summary): its layers, folded to --depth, summed by
        type, or only the heaviest."""
        if self.by_type:
            from .cost import type_rows

            rows = type_rows(result.layers)
        elif self.depth is not None:
            from .fold import fold

            rows = fold(result.layers, self.depth)
        else:
            rows = result.layers
        if self.top is not None:
            from .cost import heaviest

            rows = heaviest(rows, self.top, self.rank)
        return rows

    def fields(self, result):
        """Each row's receptive field (--rf), or None."""
        if not self.rf:
            return None
        from .receptive import row_fields

        return row_fields(result, self.depth)

    def memory(self, result):
        """The memory of a training step (--training), or None."""
        if not self.training_on:
            return None
        from .training import training_memory

        return training_memory(result, self.optimizer or "adam", self.precision or "fp32")

    def peers(self, result):
        """The figures --convention's tool prints (a conventions.core.Report)."""
        from .conventions import convention

        return convention(result, self.convention)
