"""Mutation check: each deliberate bug below must make at least one test fail.

Every mutation replaces one piece of text (found exactly once) in one file of a copy of
the repository, then runs its selected tests there (`python -m pytest -x -q`), with the
copy first on the import path: the working tree is never touched. The table says which
test caught each mutation, or MISSED. Exit status 1 when a mutation is missed, or when
its text is no longer in the file (the list must follow the code).

    python benchmarks/mutate.py            # all mutations
    python benchmarks/mutate.py -k rbf     # those whose name contains "rbf"
    python benchmarks/mutate.py --check    # only that every text is found once (fast)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("cnncalc", "tests", "specs", "benchmarks", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to the repository root
    old: str  # found exactly once in the file
    new: str
    tests: tuple  # pytest arguments: files, node ids, -k expressions


MUTATIONS = [
    Mutation("rbf centres drawn He-normal", "cnncalc/layers/lenet.py",
             'return {"weight": Param((self.out_features, x[-1]), GlorotUniform(x[-1], self.out_features))}',
             'from .parameters import HeNormal\n'
             '        return {"weight": Param((self.out_features, x[-1]), HeNormal(x[-1]))}',
             ("tests/test_verify_params.py",)),
    Mutation("embedding rows drawn He-normal", "cnncalc/layers/dense.py",
             'return {"weight": Param((self.num_embeddings, self.embedding_dim), Normal(1.0))}',
             'return {"weight": Param((self.num_embeddings, self.embedding_dim), HeNormal(self.embedding_dim))}',
             ("tests/test_verify_params.py",)),
    Mutation("views get a workspace (moves_no_data dropped)", "cnncalc/layers/base.py",
             "return 0 if self.moves_no_data else 2 * batch * prod(out)",
             "return 2 * batch * prod(out)",
             ("tests/test_verify_memory.py", "-k", "workspace")),
    Mutation("biases drawn from U(-0.5, 0.5)", "cnncalc/layers/parameters.py",
             "BIAS = Uniform(-0.1, 0.1)", "BIAS = Uniform(-0.5, 0.5)",
             ("tests/test_verify_params.py",)),
    Mutation("running_var drawn as running_mean", "cnncalc/layers/norm.py",
             '"running_var": Param((x[0],), SCALE)', '"running_var": Param((x[0],), RUNNING_MEAN)',
             ("tests/test_verify_params.py",)),
    Mutation("sparse conv rows: fan-in without the kernel", "cnncalc/layers/conv.py",
             "HeNormal(len(row) * taps)", "HeNormal(len(row))",
             ("tests/test_verify_params.py",)),
    Mutation("conv MACs ignore groups", "cnncalc/layers/conv.py",
             "return self.out_channels * (channels // self.groups)", "return self.out_channels * channels",
             ("tests/test_verify_layers.py", "-k", "forward_matches_torch")),
    Mutation("conv MACs doubled", "cnncalc/layers/conv.py",
             "return prod(out[1:]) * self.kernel_inputs(x[0]) * prod(self.kernel_size)",
             "return 2 * prod(out[1:]) * self.kernel_inputs(x[0]) * prod(self.kernel_size)",
             ("tests/test_zoo.py",)),
    Mutation("conv by rows: every outer offset uses the first one's weights", "cnncalc/layers/conv.py",
             "self.gemm(ops, by_offset[t, ...], columns[o + t])", "self.gemm(ops, by_offset[0, ...], columns[o + t])",
             ("tests/test_layers_conv_family.py", "-k", "by_rows")),
    Mutation("explain drops the parentheses of a subtracted sum", "cnncalc/explain.py",
             "body = _wrapped(part, 1, numbers, latex, right=count < 0)", "body = _wrapped(part, 1, numbers, latex)",
             ("tests/test_explain.py",)),
    Mutation("a floor of a floor merged without the inner divisor", "cnncalc/symbolic.py",
             "floor = _floor(inner.numerator + inner.divisor * constant, inner.divisor * divisor)",
             "floor = _floor(inner.numerator + constant, inner.divisor * divisor)",
             ("tests/test_symbolic.py",)),
    Mutation("sizes trusts a region without the conditions recorded before the error", "cnncalc/sweep.py",
             "        valid |= region & works\n", "        valid |= region\n",
             ("tests/test_symbolic.py", "-k", "sizes")),
    Mutation("training: activations keep their input instead of their output", "cnncalc/layers/activation.py",
             "return OUTPUT if self.keeps_output else INPUT", "return INPUT",
             ("tests/test_training_memory.py", "-k", "zoo")),
    Mutation("training: a view keeps its own copy", "cnncalc/training.py",
             "            memory[step.name] = memory[step.inputs[0]]\n",
             "            memory[step.name] = step.name\n            made[step.name] = Own(prod(step.output_shape))\n",
             ("tests/test_training_memory.py", "-k", "zoo")),
    Mutation("export: a convolution forgets its dilation", "cnncalc/layers/conv.py",
             "stride=self.stride, padding=padding, dilation=self.dilation, groups=self.groups, bias=self.bias))",
             "stride=self.stride, padding=padding, groups=self.groups, bias=self.bias))",
             ("tests/test_export_pytorch.py",)),
    Mutation("receptive field: a convolution's taps ignore dilation", "cnncalc/layers/conv.py",
             "slide(s, -left, k, d)", "slide(s, -left, k, 1)", ("tests/test_receptive_field.py",)),
    Mutation("receptive field: a transposed convolution's taps ignore dilation", "cnncalc/layers/transposed.py",
             "Window(s, 1, spans, d // gcd(d, s))", "Window(s, 1, spans, 1)", ("tests/test_receptive_field.py",)),
    Mutation("diagram: a folded block's inner edges drawn as self-loops", "cnncalc/diagram.py",
             "if edge[0] != edge[1] and edge not in seen:", "if edge not in seen:", ("tests/test_diagram.py",)),
    Mutation("pool FLOPs count k adds per window", "cnncalc/layers/pool.py",
             "return prod(out) * (prod(self.kernel_size) - 1 + self.final_ops_per_window)",
             "return prod(out) * (prod(self.kernel_size) + self.final_ops_per_window)",
             ("tests/test_flops_memory.py", "tests/test_layers_torch.py")),
    Mutation("liveness frees a value one node too early", "cnncalc/backend/liveness.py",
             "last.update(dict.fromkeys(node.inputs, index))", "last.update(dict.fromkeys(node.inputs, index - 1))",
             ("tests/test_verify_zoo.py",)),
    Mutation("liveness frees the network's output", "cnncalc/backend/liveness.py",
             "if name not in (INPUT, network.output):", "if name != INPUT:",
             ("tests/test_verify_zoo.py",)),
    Mutation("accessor counts no buffers", "cnncalc/backend/params.py",
             "return sum(prod(s) for s in self.used_buffers.values())", "return 0",
             ("tests/test_verify_zoo.py", "tests/test_verify_memory.py", "-k", "zoo")),
    Mutation("accessor passes a mis-shaped parameter on", "cnncalc/backend/params.py",
             "elif tuple(array.shape) != shape:", "elif False:",
             ("tests/test_verify_cli.py", "-k", "param")),
    Mutation("estimate counts no buffers", "cnncalc/backend/memory.py",
             "params += sum(prod(s) for s in node.layer.buffer_shapes(*inputs).values())", "pass",
             ("tests/test_verify_memory.py",)),
    Mutation("estimate counts integer tokens as floats", "cnncalc/backend/memory.py",
             "(max(1, 8 // itemsize) if tokens else 1)", "1",
             ("tests/test_verify_memory.py",)),
    Mutation("fold keeps only the last array", "cnncalc/backend/ops.py",
             "                total += array\n", "                total = array\n",
             ("tests/test_verify_layers.py", "-k", "forward_matches_torch")),
    Mutation("context added by within() dropped", "cnncalc/diagnostics.py",
             "self.context = (shown(context), *self.context)", "self.context = self.context",
             ("tests/test_errors.py", "tests/test_spec_language.py")),
    Mutation("the numbers behind a diagnostic not shown", "cnncalc/diagnostics.py",
             '+ (f" ({numbers})" if numbers else ""))', '+ "")',
             ("tests/test_errors.py",)),
    Mutation("a folded row keeps only its last layer's figures", "cnncalc/fold.py",
             "row.figures += record.figures", "row.figures = record.figures",
             ("tests/test_cli_output.py",)),
    Mutation("alias chains compressed to the wrong name", "cnncalc/language/graph.py",
             "        for name in passed:\n            self.aliases[name] = ref",
             "        for name in passed:\n            self.aliases[name] = name",
             ("tests/test_spec_language.py", "tests/test_bounds.py")),
    Mutation("check --verify problems lose their layer", "cnncalc/check.py",
             'layer=row.name, kind="verify"', 'layer=None, kind="verify"',
             ("tests/test_check.py",)),
    Mutation("report: spec text not HTML-escaped", "cnncalc/render/report.py",
             "return escape(safe(value), quote=True)", "return safe(value)",
             ("tests/test_report.py", "-k", "hostile")),
    Mutation("svg layout: no filler where a cluster has nothing on a rank", "cnncalc/layout.py",
             "            if (name, rank) not in present:", "            if False:",
             ("tests/test_diagram_svg.py", "-k", "empty_rank")),
    Mutation("onnx lrn window centred as ONNX's LRN", "cnncalc/layers/norm.py",
             "pads = [self.size // 2, *(0,) * (len(x) - 1), (self.size - 1) // 2, *(0,) * (len(x) - 1)]",
             "pads = [(self.size - 1) // 2, *(0,) * (len(x) - 1), self.size // 2, *(0,) * (len(x) - 1)]",
             ("tests/test_export_onnx.py", "-k", "lrn")),
    Mutation("ptflops: nn.ReLU counted once (F.relu patch forgotten)", "cnncalc/conventions/ptflops.py",
             '"ReLU": ("F.relu", _input_numel), ', "", ("tests/test_conventions.py", "-k", "resnet18 and ptflops")),
]


def problems_with(mutations) -> list:
    """What no longer matches the code: a text found other than exactly once, a missing test file."""
    found = []
    for mutation in mutations:
        path = ROOT / mutation.file
        count = path.read_text().count(mutation.old) if path.is_file() else 0
        if count != 1:
            found.append(f"{mutation.name}: its text is found {count} times in {mutation.file}")
        for argument in mutation.tests:
            target = argument.split("::")[0]
            if target.startswith("tests/") and not (ROOT / target).is_file():
                found.append(f"{mutation.name}: no test file {target}")
    return found


def copy_tree(into: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=IGNORED)
        elif source.is_file():
            shutil.copy2(source, into / name)


def environment(copy: Path) -> dict:
    """The copy first on the import path (before the editable install's entry for ROOT)."""
    path = os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


def imported_from(copy: Path) -> str:
    """Where `import cnncalc` finds the package when run as the tests are."""
    return subprocess.run([sys.executable, "-c", "import cnncalc; print(cnncalc.__file__)"], cwd=copy,
                          env=environment(copy), capture_output=True, text=True, check=True).stdout.strip()


def run(mutation: Mutation, timeout: int) -> tuple:
    """(the first failing test, or None when every selected test passed; seconds)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnncalc-mutant-") as folder:
        copy = Path(folder)
        copy_tree(copy)
        package = Path(imported_from(copy)).resolve()
        if copy.resolve() not in package.parents:
            raise SystemExit(f"the copy would import cnncalc from {package}, not from {copy}")
        target = copy / mutation.file
        text = target.read_text()
        assert text.count(mutation.old) == 1, mutation.name
        target.write_text(text.replace(mutation.old, mutation.new))
        try:
            result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                     *mutation.tests], cwd=copy, env=environment(copy),
                                    capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"(timed out after {timeout} s)", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if result.returncode == 0:
        return None, seconds
    failed = re.search(r"^FAILED (\S+)", result.stdout, re.MULTILINE)
    if result.returncode == 1 and failed:
        return failed.group(1), seconds
    # an error, not a failing test (the mutant does not import, a test cannot be collected): not caught
    return f"(pytest exit {result.returncode}: {(result.stdout + result.stderr).strip().splitlines()[-1:]})", seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every mutation's text is found once")
    parser.add_argument("-k", dest="match", default="", help="only mutations whose name contains this")
    parser.add_argument("--jobs", type=int, default=1, help="mutations run at once")
    parser.add_argument("--timeout", type=int, default=900, help="seconds for one mutation's tests")
    options = parser.parse_args(argv)
    mutations = [m for m in MUTATIONS if options.match in m.name]
    problems = problems_with(mutations)
    for problem in problems:
        print(f"rotted: {problem}", file=sys.stderr)
    if problems or options.check:
        if not problems:
            print(f"{len(mutations)} mutations, each text found once")
        return 1 if problems else 0
    start = time.perf_counter()
    width = max(len(m.name) for m in mutations)
    with ThreadPoolExecutor(max(1, options.jobs)) as pool:
        results = list(pool.map(lambda m: run(m, options.timeout), mutations))
    missed = 0
    print(f"{'mutation':<{width}}  {'seconds':>7}  caught by")
    for mutation, (caught, seconds) in zip(mutations, results):
        missed += caught is None or caught.startswith("(")
        print(f"{mutation.name:<{width}}  {seconds:7.1f}  {caught or 'MISSED'}")
    print(f"{len(mutations) - missed} of {len(mutations)} caught in {time.perf_counter() - start:.0f} s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
