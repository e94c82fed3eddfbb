"""`cnncalc diff`: what changed between two specs, or a spec and its git revision.

The deltas against the independent oracle (the zoo's PyTorch twins: a pair's deltas are
the differences of the two twins' own figures, total and layer by layer); the laws every
diff keeps (a spec against itself is empty, B against A negates A against B, the layers'
deltas add up to the totals'), on every zoo spec and on generated networks; the
--max-increase gate at its exact boundary; --rev reading through git and running nothing a
repository's config names; and hostile input: exit 0, 1 or 2 only, no traceback, in
bounded time, nothing written."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

import cnncalc
from cnncalc.diagnostics import Diagnostic
from cnncalc.diff import ADDED, CHANGED, GATED, REMOVED, diff
from cnncalc.figures import FIGURES, Figures
from fuzz_cases import run_case, valid_network
from fuzz_diff import HOSTILE_PERCENTS, HOSTILE_REVS, diff_case
from helpers import ROOT, SPECS, ZOO, ZOO_FILES, invoke, invoke_without_crash, write_spec

FAST = settings(deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def summary_of(stem: str, batch: int = 1, **variables) -> cnncalc.Summary:
    return cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml"), variables=variables or None), batch=batch)


# --- the oracle: each zoo network's PyTorch twin, layer by layer ------------------------

@cache
def twin(stem: str, **variables) -> tuple:
    """({layer name: (output shape, params, MACs) by torch}, torch's total params, torch's
    total MACs) for a zoo spec, the spec's rows paired with the twin's layers in order (as
    test_zoo.py and test_zoo_torchvision.py prove them paired). `variables` with
    efficientnet_b0 give the torchvision EfficientNet they stand for."""
    from torch_zoo import TORCH_ZOO, trace

    names = [row.name for row in summary_of(stem, **variables).layers]
    if stem in TORCH_ZOO:
        build, shape, dtype = TORCH_ZOO[stem]
        model = build()
        layers = [(t.output_shape, t.params, t.macs) for t in trace(model, shape, dtype)]
    else:
        from graph_twin import graph_ops
        from torchvision_models import models, twin_ops

        if variables:  # efficientnet_b0's depth multiplier 1.1 is torchvision's efficientnet_b1
            model = models.efficientnet_b1(weights=None).eval()
            ops = graph_ops(model, (3, 224, 224))
        else:
            model, ops = twin_ops(stem)
        layers = [(op.output_shape, op.params, op.macs) for op in ops]
    assert len(layers) == len(names)
    return dict(zip(names, layers)), sum(p.numel() for p in model.parameters()), sum(m for _, _, m in layers)


B1 = {"width_mult": "1.0", "depth_mult": "1.1"}
PAIRS = [("lenet", {}, "lenet5", {}), ("mnist_cnn", {}, "numpy_cnn", {}), ("resnet18", {}, "resnet50", {}),
         ("alexnet", {}, "vgg16", {}), ("mobilenet_v3_large", {}, "efficientnet_b0", {}),
         ("efficientnet_b0", {}, "efficientnet_b0", B1)]


@pytest.mark.parametrize("old, old_vars, new, new_vars", PAIRS,
                         ids=[f"{a}-{c}{'-b1' if d else ''}" for a, _, c, d in PAIRS])
def test_deltas_are_the_torch_twins_differences(old, old_vars, new, new_vars):
    result = diff(summary_of(old, **old_vars), summary_of(new, **new_vars))
    before, before_params, before_macs = twin(old, **old_vars)
    after, after_params, after_macs = twin(new, **new_vars)
    assert result.total("params").delta == after_params - before_params
    assert result.total("macs").delta == after_macs - before_macs
    changed = {}
    for layer in result.layers:
        assert (layer.change == ADDED) == (layer.name not in before)
        assert (layer.change == REMOVED) == (layer.name not in after)
        gone = ((), 0, 0)
        theirs_old, theirs_new = before.get(layer.name, gone), after.get(layer.name, gone)
        assert (layer.delta.params, layer.delta.macs) == (theirs_new[1] - theirs_old[1], theirs_new[2] - theirs_old[2])
        for record, theirs in ((layer.old, theirs_old), (layer.new, theirs_new)):
            assert record is None or tuple(record.output_shape) == tuple(theirs[0])
        changed[layer.name] = layer.change
    # every layer on both sides whose torch figures differ is reported changed; every one on one side only is there
    for name in before.keys() & after.keys():
        if before[name] != after[name]:
            assert changed.get(name) == CHANGED, name
    assert set(changed) >= before.keys() ^ after.keys()


def test_resnet18_to_resnet50_in_figures():
    """The worked example of the README, pinned: torch's own totals, 11,689,512 and
    25,557,032 parameters, 1,814,073,344 and 4,089,184,256 MACs."""
    result = invoke("diff", str(SPECS / "resnet18.yaml"), str(SPECS / "resnet50.yaml"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["params"] == {"old": 11_689_512, "new": 25_557_032, "delta": 13_867_520,
                                        "percent": round(13_867_520 / 11_689_512 * 100, 4)}
    assert data["totals"]["macs"]["delta"] == 4_089_184_256 - 1_814_073_344
    assert data["counts"] == {"added": 106, "removed": 0, "changed": 39}


# --- the laws, on every zoo spec -------------------------------------------------------

def _check_laws(old: cnncalc.Summary, new: cnncalc.Summary, depth: int | None = None) -> None:
    forward, backward = diff(old, new, depth), diff(new, old, depth)
    total = sum((layer.delta for layer in forward.layers), Figures())
    for name, value in zip(FIGURES, total):
        assert forward.total(name).delta == value, name
    assert forward.total("non_trainable_params").delta == total.non_trainable_params
    swap = {ADDED: REMOVED, REMOVED: ADDED, CHANGED: CHANGED}
    assert sorted((layer.name, swap[layer.change]) for layer in forward.layers) == \
        sorted((layer.name, layer.change) for layer in backward.layers)
    back = {layer.name: layer for layer in backward.layers}
    for layer in forward.layers:
        assert tuple(layer.delta) == tuple(-value for value in back[layer.name].delta)
    assert [(t.name, -t.delta) for t in forward.totals] == [(t.name, t.delta) for t in backward.totals]
    assert not diff(old, old, depth).layers and diff(old, old, depth).empty


@pytest.mark.parametrize("stem", ZOO)
def test_laws_on_every_zoo_spec(stem):
    """Against itself (at its depths too) and against the next zoo spec, both ways."""
    summary = summary_of(stem)
    neighbour = summary_of(ZOO[(ZOO.index(stem) + 1) % len(ZOO)])
    _check_laws(summary, neighbour)
    _check_laws(summary, neighbour, depth=1)
    _check_laws(summary, summary_of(stem, batch=3))


@pytest.mark.parametrize("spec", ZOO_FILES, ids=ZOO)
def test_a_zoo_spec_against_itself_is_empty(spec):
    for output_format in ("table", "json", "markdown"):
        result = invoke("diff", spec, spec, "--format", output_format, "--max-increase", "0%")
        assert result.exit_code == 0, result.stderr
    assert "no changes" in invoke("diff", spec, spec).stdout
    data = json.loads(invoke("diff", spec, spec, "--format", "json").stdout)
    assert data["layers"] == [] and all(total["delta"] == 0 for total in data["totals"].values())


def _built(data: bytes, tmp_path: Path, name: str):
    path = write_spec(tmp_path, data, name)
    try:
        return cnncalc.summarize(cnncalc.load(str(path)))
    except Diagnostic:
        return None


@settings(FAST, max_examples=60)
@given(old=valid_network(), new=valid_network())
def test_laws_on_generated_networks(tmp_path_factory, old, new):
    folder = tmp_path_factory.mktemp("diff")
    old_summary, new_summary = _built(old, folder, "old.yaml"), _built(new, folder, "new.yaml")
    assume(old_summary is not None and new_summary is not None)
    _check_laws(old_summary, new_summary)
    _check_laws(old_summary, new_summary, depth=1)


# --- what a change is -------------------------------------------------------------------

NET = "input: [3, 8, 8]\nlayers:\n{}"


def _layers(*lines: str) -> str:
    return NET.format("".join(f"  - {line}\n" for line in lines))


def test_renamed_retyped_and_removed_layers(tmp_path):
    old = write_spec(tmp_path, _layers("{name: a, type: conv2d, out_channels: 4, kernel_size: 3}",
                                       "{name: b, type: relu}", "{name: c, type: maxpool2d, kernel_size: 2}",
                                       "{name: d, type: add, from: [c, c]}"), "old.yaml")
    new = write_spec(tmp_path, _layers("{name: a, type: conv2d, out_channels: 8, kernel_size: 3}",
                                       "{name: b2, type: relu}", "{name: c, type: avgpool2d, kernel_size: 2}",
                                       "{name: e, type: relu}"), "new.yaml")
    result = diff(cnncalc.summarize(cnncalc.load(str(old))), cnncalc.summarize(cnncalc.load(str(new))))
    rows = [(layer.change, layer.name, layer.differs) for layer in result.layers]
    assert rows == [(CHANGED, "a", ("output_shape", "params", "trainable_params", "macs", "flops")),
                    (REMOVED, "b", ()), (ADDED, "b2", ()),  # renamed: removed after its old predecessor, then added
                    (CHANGED, "c", ("type", "inputs", "output_shape", "flops")),
                    (REMOVED, "d", ()), (ADDED, "e", ())]
    assert result.network_changes == [("output_shape", (4, 3, 3), (8, 3, 3))]
    table = invoke("diff", str(old), str(new)).stdout
    for text in ("maxpool2d → avgpool2d", "│ b → b2 ", "output shape [4, 3, 3] → [8, 3, 3]",
                 "Layers: 2 added, 2 removed, 2 changed (4 → 4 layers)"):
        assert text in table, text


def test_rewiring_alone_is_a_change(tmp_path):
    """Same figures, other inputs: a skip connection moved."""
    old = write_spec(tmp_path, _layers("{name: a, type: relu}", "{name: b, type: relu}",
                                       "{name: s, type: add, from: [b, a]}"), "old.yaml")
    new = write_spec(tmp_path, _layers("{name: a, type: relu}", "{name: b, type: relu}",
                                       "{name: s, type: add, from: [b, input]}"), "new.yaml")
    result = invoke("diff", str(old), str(new), "--format", "json")
    (layer,) = json.loads(result.stdout)["layers"]
    assert (layer["name"], layer["differs"], layer["delta"]["flops"]) == ("s", ["inputs"], 0)
    assert "b a → b input" in invoke("diff", str(old), str(new)).stdout


# --- the CI gate ----------------------------------------------------------------------------

def _linear(tmp_path, out: int, name: str, dtype: str = "float32") -> str:
    return str(write_spec(tmp_path, f"input: [4]\ndtype: {dtype}\nlayers: [{{type: linear, out_features: {out}}}]\n",
                          name))


def test_max_increase_at_its_exact_boundary(tmp_path):
    """20 -> 21 outputs: params 100 -> 105, MACs 80 -> 84, FLOPs, both memories: all exactly +5 %."""
    old, new = _linear(tmp_path, 20, "a.yaml"), _linear(tmp_path, 21, "b.yaml")
    data = json.loads(invoke("diff", old, new, "--format", "json").stdout)
    assert {name: data["totals"][name]["percent"] for name in GATED} == dict.fromkeys(GATED, 5.0)
    for limit, code in [("5%", 0), ("5", 0), ("5.000000000000001", 0), ("4.999999999999999%", 1), ("0", 1),
                        ("999999999999999%", 0)]:
        result = invoke("diff", old, new, "--max-increase", limit)
        assert result.exit_code == code, (limit, result.stdout, result.stderr)
    assert invoke("diff", new, old, "--max-increase", "0%").exit_code == 0  # shrinking passes
    failed = invoke("diff", old, new, "--max-increase", "1%", "--format", "json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["max_increase"] == {"percent": 1.0, "watched": list(GATED),
                                                         "exceeded": list(GATED)}
    table = invoke("diff", old, new, "--max-increase", "1%").stdout
    assert "✗ params grew by 5.00%, from 100 to 105: more than --max-increase 1%" in table


def test_max_increase_from_zero_and_memory_alone(tmp_path):
    relu = str(write_spec(tmp_path, "input: [4]\nlayers: [{type: relu}]\n", "relu.yaml"))
    result = invoke("diff", relu, _linear(tmp_path, 1, "one.yaml"), "--max-increase", "999999999999999%")
    assert result.exit_code == 1
    assert "params grew from 0 to 5: more than --max-increase 999,999,999,999,999%" in result.stdout
    # float16 -> float64: only the memories grow (x4), the counts stay
    wider = invoke("diff", _linear(tmp_path, 8, "h.yaml", "float16"), _linear(tmp_path, 8, "d.yaml", "float64"),
                   "--max-increase", "299%", "--format", "json")
    assert wider.exit_code == 1 and json.loads(wider.stdout)["max_increase"]["exceeded"] == list(GATED[3:])


def test_batch_scales_both_sides(tmp_path):
    old, new = str(SPECS / "lenet.yaml"), str(SPECS / "lenet5.yaml")
    one = json.loads(invoke("diff", old, new, "--format", "json").stdout)["totals"]
    eight = json.loads(invoke("diff", old, new, "--format", "json", "--batch", "8").stdout)["totals"]
    for name in ("macs", "flops", "activation_memory"):
        assert eight[name]["delta"] == 8 * one[name]["delta"]
    assert eight["params"] == one["params"]
    _, lenet_params, lenet_macs = twin("lenet")
    _, lenet5_params, lenet5_macs = twin("lenet5")
    assert eight["macs"]["delta"] == 8 * (lenet5_macs - lenet_macs)


def test_set_and_input_apply_to_both(tmp_path):
    result = invoke("diff", str(SPECS / "resnet18.yaml"), str(SPECS / "resnet50.yaml"), "--set", "classes=10",
                    "--input", "3,64,64", "--format", "json")
    data = json.loads(result.stdout)
    assert data["old"]["input_shape"] == data["new"]["input_shape"] == [3, 64, 64]
    assert data["old"]["output_shape"] == data["new"]["output_shape"] == [10]
    # ResNet-50 and ResNet-18 with 10 classes: each fc loses (in + 1) x 990 parameters
    assert data["totals"]["params"]["delta"] == (25_557_032 - 2049 * 990) - (11_689_512 - 513 * 990)


# --- invalid specs and misuse: exit 2, located ---------------------------------------------

BAD = "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 9}\n"


@pytest.mark.parametrize("side", ["old", "new"])
def test_an_invalid_spec_is_located(tmp_path, side):
    bad, good = str(write_spec(tmp_path, BAD, "bad.yaml")), str(SPECS / "lenet5.yaml")
    result = invoke("diff", *((bad, good) if side == "old" else (good, bad)))
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{bad}:3:5: error:" in result.stderr and "Traceback" not in result.stderr


def test_a_symbolic_input_needs_sizes(tmp_path):
    """A spec may leave its input's sizes symbolic (its figures are then formulas): diff
    compares numbers, at the sizes --input gives."""
    spec = str(write_spec(tmp_path, "input: [3, H, W]\nlayers: [{type: conv2d, out_channels: 4, kernel_size: 3}]\n"))
    refused = invoke("diff", spec, str(SPECS / "lenet5.yaml"))
    assert refused.exit_code == 2 and "the input has symbolic sizes ([3, H, W]), and diff compares figures" \
        in refused.stderr
    assert "no changes" in invoke("diff", spec, spec, "--input", "3,32,32").stdout


@pytest.mark.parametrize("args, says", [
    ([], "Missing argument"),
    (["a.yaml"], "diff compares two specs"),
    (["a.yaml", "b.yaml", "--rev", "HEAD"], "diff compares two specs"),
    (["a.yaml", "b.yaml", "c.yaml"], "unexpected extra argument"),
    (["a.yaml", "b.yaml", "--format", "csv"], "Invalid value"),
    (["a.yaml", "b.yaml", "--batch", "0"], "Invalid value"),
    (["a.yaml", "b.yaml", "--input", "1,H,W"], "--input"),  # summary's symbolic sizes and sweeps: one shape here
    (["a.yaml", "b.yaml", "--input", "1,32..64"], "--input"),
])
def test_misuse_exits_2(args, says):
    result = invoke("diff", *args)
    assert result.exit_code == 2 and says in result.output + result.stderr


# --- --rev: through git, running nothing the repository names --------------------------------

def git(repo: Path, *args: str, **options) -> str:
    """git as the tests use it to make repositories: hooks off, a fixed author."""
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=t", "-c", "user.email=t@t",
                           "-c", "init.defaultBranch=main", *args], cwd=repo, check=True, capture_output=True,
                          text=True, **options).stdout


def repository(tmp_path: Path, files: dict, *later: dict) -> Path:
    """A repository with a commit of `files`, then one commit for each of `later`."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    for commit in (files, *later):
        for name, text in commit.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "c")
    return repo


def snapshot(root: Path) -> dict:
    """Every file and folder under root, .git included: its bytes (or None) and its mode."""
    found = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (path.read_bytes() if stat.S_ISREG(info.st_mode) else None,
                                                  stat.S_IMODE(info.st_mode))
    return found


LENET5 = (SPECS / "lenet5.yaml").read_text()
LENET = (SPECS / "lenet.yaml").read_text()


def test_rev_equals_diffing_the_two_files(tmp_path):
    repo = repository(tmp_path, {"nets/net.yaml": LENET}, {"nets/net.yaml": LENET5})
    (repo / "nets/net.yaml").write_text(LENET5.replace("out_features: 84", "out_features: 90"))
    os.mkdir(tmp_path / "files")
    old = write_spec(tmp_path / "files", LENET, "net.yaml")
    expected = json.loads(invoke("diff", str(old), str(repo / "nets/net.yaml"), "--format", "json").stdout)
    got = json.loads(invoke("diff", str(repo / "nets/net.yaml"), "--rev", "HEAD~1", "--format", "json").stdout)
    assert got["old"]["file"] == "<HEAD~1:nets/net.yaml>"
    expected["old"]["file"] = got["old"]["file"]
    assert got == expected
    head = invoke("diff", str(repo / "nets/net.yaml"), "--rev", "main", "--format", "json")
    assert [layer["name"] for layer in json.loads(head.stdout)["layers"]] == ["F6", "tanh_6", "OUTPUT"]


def test_every_zoo_spec_against_its_commit_is_empty(tmp_path):
    repo = repository(tmp_path, {f"specs/{Path(path).name}": Path(path).read_text() for path in ZOO_FILES})
    before = snapshot(repo)
    for stem in ZOO:
        result = invoke("diff", str(repo / "specs" / f"{stem}.yaml"), "--rev", "HEAD", "--max-increase", "0")
        assert result.exit_code == 0 and "no changes" in result.stdout, (stem, result.stderr)
    assert snapshot(repo) == before


def test_rev_from_a_subfolder_and_through_a_symlink(tmp_path, monkeypatch):
    repo = repository(tmp_path, {"a/b/net.yaml": LENET})
    (repo / "a/b/net.yaml").write_text(LENET5)
    os.symlink(repo / "a", tmp_path / "link")
    monkeypatch.chdir(repo / "a")
    for spec in ("b/net.yaml", str(tmp_path / "link/b/net.yaml")):
        result = invoke("diff", spec, "--rev", "HEAD", "--format", "json")
        assert json.loads(result.stdout)["old"]["file"] == "<HEAD:a/b/net.yaml>", result.stderr


def test_rev_errors(tmp_path):
    repo = repository(tmp_path, {"net.yaml": LENET, "big.yaml": "#" * (16 * 1024 * 1024 + 1), "bad.yaml": BAD,
                                 "latin.yaml": LENET, "new\nline.yaml": LENET, "a:b.yaml": LENET5})
    for name in ("big.yaml", "bad.yaml", "sub/x.yaml", ".git/net.yaml", "../elsewhere.yaml"):
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_text(LENET)
    (repo / "latin.yaml").write_bytes(b"\xff")  # committed: LENET; the working tree's copy is invalid
    cases = [
        (repo / "new.yaml", "HEAD", "new.yaml: error: file not found"),  # the working tree's copy is read first
        (repo / "sub/x.yaml", "HEAD", "'sub/x.yaml' does not exist at HEAD"),
        (repo / "net.yaml", "HEAD~5", "'HEAD~5' is not a commit of this repository"),
        (repo / "net.yaml", "HEAD^{tree}", "is not a commit of this repository: git says:"),
        (repo / "net.yaml", "0" * 40, "is not a commit of this repository"),
        (repo / "big.yaml", "HEAD", "<HEAD:big.yaml>: error: file is larger than 16,777,216 bytes"),
        (repo / "bad.yaml", "HEAD", "<HEAD:bad.yaml>:3:5: error: layer 'conv2d_1'"),
        (repo / "latin.yaml", "HEAD", "not UTF-8 text"),
        (repo / ".git/net.yaml", "HEAD", "--rev needs SPEC inside a git work tree"),
        (tmp_path / "elsewhere.yaml", "HEAD", "--rev needs SPEC inside a git work tree: git says: fatal: not a git"),
        (repo / "new\nline.yaml", "HEAD", "--rev cannot name a file with a line break in its path to git"),
    ]
    for spec, rev, says in cases:
        result = invoke("diff", str(spec), "--rev", rev)
        assert result.exit_code == 2 and says in result.stderr, (spec, rev, result.stderr)
        assert "Traceback" not in result.stderr
    colon = invoke("diff", str(repo / "a:b.yaml"), "--rev", "HEAD")  # git's REV:path splits at the first ':'
    assert colon.exit_code == 0 and "no changes" in colon.stdout, colon.stderr


def test_a_folder_and_a_symlink_out_at_the_revision(tmp_path):
    repo = repository(tmp_path, {"net.yaml/x": ""})
    (repo / "link.yaml").symlink_to("../outside.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    shutil.rmtree(repo / "net.yaml")
    (repo / "link.yaml").unlink()
    for name in ("net.yaml", "link.yaml"):
        (repo / name).write_text(LENET)
    assert "'net.yaml' is a folder at HEAD" in invoke("diff", str(repo / "net.yaml"), "--rev", "HEAD").stderr
    outside = invoke("diff", str(repo / "link.yaml"), "--rev", "HEAD")
    assert "'link.yaml' is a symlink leading out of the repository at HEAD" in outside.stderr


def test_a_symlink_inside_the_repository_is_followed_at_the_revision(tmp_path):
    repo = repository(tmp_path, {"real.yaml": LENET})
    (repo / "link.yaml").symlink_to("real.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    (repo / "link.yaml").unlink()
    (repo / "link.yaml").write_text(LENET)
    result = invoke("diff", str(repo / "link.yaml"), "--rev", "HEAD")
    assert result.exit_code == 0 and "no changes" in result.stdout, result.stderr


def test_includes_are_read_at_the_revision(tmp_path):
    """A spec's includes are read at REV as well: a block changed in a library since then
    shows in the diff, through nested folders and `..`, and the working tree's copy of the
    library is not what --rev reads."""
    library = "blocks:\n  unit: {args: {n: 8}, layers: [{type: linear, out_features: n}]}\n"
    spec = "include: [../lib/units.yaml]\ninput: [4]\nlayers: [{block: unit, name: u}]\n"
    nested = "include: [units.yaml]\nblocks:\n  pair: {layers: [{block: unit}, {block: unit}]}\n"
    repo = repository(tmp_path, {"lib/units.yaml": library, "lib/pair.yaml": nested, "nets/net.yaml": spec},
                      {"lib/units.yaml": library.replace("n: 8", "n: 16")})
    result = invoke("diff", str(repo / "nets" / "net.yaml"), "--rev", "HEAD~1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    changed = {row["name"]: row for row in json.loads(result.stdout)["layers"]}
    assert changed["u.linear_1"]["old"]["params"] == 4 * 8 + 8 and changed["u.linear_1"]["new"]["params"] == 4 * 16 + 16
    assert invoke("diff", str(repo / "nets" / "net.yaml"), "--rev", "HEAD").stdout.count("no changes") == 1
    # an include of an include, read at the revision too
    (repo / "nets" / "two.yaml").write_text(spec.replace("units.yaml", "pair.yaml").replace("unit,", "pair,"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "c")
    (repo / "lib" / "units.yaml").write_text("blocks: {}\n")  # the working tree no longer has the block
    result = invoke("diff", str(repo / "nets" / "two.yaml"), "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 2 and "unknown block 'unit'" in result.stderr  # the new side: the working tree
    assert "<HEAD:" not in result.stderr


@pytest.mark.parametrize("include, said", [
    ("../../outside.yaml", "<HEAD:nets/net.yaml>:1:11: error: include '../../outside.yaml' leads outside the "
                           "repository: it is ../outside.yaml, above the repository's top folder"),
    ("gone.yaml", "error: 'nets/gone.yaml' does not exist at HEAD"),
    ("link.yaml", "error: 'nets/link.yaml' is a symlink leading out of the repository at HEAD"),
    ("/etc/passwd", "<HEAD:nets/net.yaml>:1:11: error: include '/etc/passwd' is not a relative path"),
    ("net.yaml", "<HEAD:nets/net.yaml>:1:11: error: include cycle: <HEAD:nets/net.yaml> -> <HEAD:nets/net.yaml>"),
])
def test_includes_at_a_revision_stay_in_the_repository(tmp_path, include, said):
    spec = f"include: [{include}]\ninput: [4]\nlayers: [{{type: relu}}]\n"
    repo = repository(tmp_path, {"nets/net.yaml": spec})
    (tmp_path / "outside.yaml").write_text("blocks: {}\n")
    (repo / "nets" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    (repo / "nets" / "net.yaml").write_text("input: [4]\nlayers: [{type: relu}]\n")  # the old side is wrong
    result = invoke("diff", str(repo / "nets" / "net.yaml"), "--rev", "HEAD")
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# A repository whose config names a program for everything git could run: the fsmonitor,
# filters, textconv, pagers, hooks, ssh, an ext:: remote and a remote helper for a lazy fetch
def hostile_repository(tmp_path: Path) -> tuple[Path, Path]:
    repo = repository(tmp_path, {"net.yaml": LENET, ".gitattributes": "*.yaml filter=evil diff=evil\n",
                                 "gone.yaml": LENET5})
    markers = tmp_path / "markers"
    markers.mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "reference-transaction", "post-index-change", "pre-auto-gc"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
        (hooks / hook).chmod(0o755)
    helper = tmp_path / "bin" / "git-remote-evil"
    helper.parent.mkdir()
    helper.write_text(f"#!/bin/sh\ntouch {markers}/remote-helper\n")
    helper.chmod(0o755)
    blob = git(repo, "rev-parse", "HEAD:gone.yaml").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # a partial clone's missing blob: a lazy fetch
    touch = {name: f"touch {markers}/{name}" for name in ("fsmonitor", "smudge", "clean", "process", "textconv",
                                                           "pager", "ssh", "uploadpack", "editor", "gpg", "askpass")}
    settings = {"core.fsmonitor": touch["fsmonitor"] + "; false", "core.hooksPath": str(hooks),
                "filter.evil.smudge": touch["smudge"] + "; cat", "filter.evil.clean": touch["clean"] + "; cat",
                "filter.evil.process": touch["process"], "diff.evil.textconv": touch["textconv"] + "; cat",
                "core.pager": touch["pager"] + "; cat", "pager.cat-file": touch["pager"] + "; cat",
                "pager.rev-parse": touch["pager"] + "; cat", "core.sshCommand": touch["ssh"],
                "core.repositoryformatversion": "1", "extensions.partialClone": "origin",
                "remote.origin.promisor": "true", "remote.origin.url": f"ext::sh -c touch% {markers}/ext",
                "protocol.ext.allow": "always", "remote.origin.uploadpack": touch["uploadpack"],
                "protocol.evil.allow": "always", "remote.helper.url": "evil::x", "remote.helper.promisor": "true",
                "core.editor": touch["editor"], "gpg.program": touch["gpg"], "core.askPass": touch["askpass"],
                "credential.helper": f"!touch {markers}/credential", "alias.cat-file": f"!touch {markers}/alias"}
    for name, value in settings.items():
        git(repo, "config", name, value)
    return repo, markers


def test_rev_runs_nothing_the_repository_names(tmp_path, monkeypatch):
    repo, markers = hostile_repository(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    before = snapshot(repo)
    fine = invoke("diff", str(repo / "net.yaml"), "--rev", "HEAD", "--format", "markdown")
    assert fine.exit_code == 0 and "No changes" in fine.stdout, fine.stderr
    gone = invoke("diff", str(repo / "gone.yaml"), "--rev", "HEAD")
    assert gone.exit_code == 2 and "'gone.yaml' does not exist at HEAD" in gone.stderr
    for rev in ("0" * 40, "HEAD@{1}", "main"):
        invoke_without_crash("diff", str(repo / "net.yaml"), "--rev", rev)
    assert sorted(os.listdir(markers)) == []
    assert snapshot(repo) == before
    # the same config, read by git without cnncalc's settings, does run them: the test can fail
    subprocess.run(["git", "cat-file", "blob", "HEAD:gone.yaml"], cwd=repo, capture_output=True, timeout=60)
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, timeout=60)
    assert {"ext", "fsmonitor"} <= set(os.listdir(markers))


def test_rev_ignores_git_variables_and_relative_path_entries(tmp_path, monkeypatch):
    repo = repository(tmp_path, {"net.yaml": LENET})
    other = repository(tmp_path / "other", {"net.yaml": LENET5})
    (repo / "git").write_text(f"#!/bin/sh\ntouch {tmp_path}/fake-git\n")
    (repo / "git").chmod(0o755)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", f".{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # would read the other repository's HEAD
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='touch /tmp/never'")
    result = invoke("diff", "net.yaml", "--rev", "HEAD")
    assert result.exit_code == 0 and "no changes" in result.stdout, result.stderr
    assert not (tmp_path / "fake-git").exists()


def test_rev_without_git(tmp_path, monkeypatch):
    repo = repository(tmp_path, {"net.yaml": LENET})
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    result = invoke("diff", str(repo / "net.yaml"), "--rev", "HEAD")
    assert result.exit_code == 2 and "--rev needs git, and there is no git on PATH" in result.stderr


# --- hostile input: exit 0, 1 or 2, no traceback, bounded time, nothing written ------------

def test_hostile_command_lines(tmp_path):
    repo = repository(tmp_path, {"net.yaml": LENET})
    spec, lenet5 = str(repo / "net.yaml"), str(SPECS / "lenet5.yaml")
    write_spec(tmp_path, b"\xff\xfe", "latin.yaml")
    lines = [[spec, "--rev", rev] for rev in HOSTILE_REVS]
    lines += [[spec, lenet5, "--max-increase", percent] for percent in HOSTILE_PERCENTS]
    lines += [[spec, lenet5, "--set", "x" * 100_000], [spec, lenet5, "--input", "1," * 50_000 + "1"],
              [spec, lenet5, "--depth", "99999999999"], [spec, lenet5, "--batch", str(2**31)],
              [spec, str(tmp_path / "latin.yaml")], [spec, str(tmp_path)], [spec, "/dev/zero"],
              [str(tmp_path / "latin.yaml"), "--rev", "HEAD"], [spec, spec, "--format", "json", "--format", "markdown"],
              ["--", spec, "--rev"], [spec, "\x1b[2J.yaml"], ["x" * 100_000, "--rev", "HEAD"]]
    before, repo_before = snapshot(tmp_path), snapshot(ROOT / "specs")
    for args in lines:
        started = time.perf_counter()
        result = invoke_without_crash("diff", *args)
        assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
        assert time.perf_counter() - started < 5, args
        text = result.stdout + result.stderr
        assert "\x1b" not in text and "Traceback" not in text and max(map(len, text.splitlines() or [""])) < 20_000
        assert result.exit_code == 0 or text.strip(), args
    assert snapshot(tmp_path) == before and snapshot(ROOT / "specs") == repo_before


@settings(FAST, max_examples=60)
@given(case=diff_case(process_share=20))
def test_fuzz_cases(tmp_path_factory, case):
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"
    if case.command == "diff:json" and outcome.code in (0, 1):
        data = json.loads(outcome.stdout)
        assert all(type(value) is int for total in data["totals"].values() for key, value in total.items()
                   if key != "percent")


def test_diff_imports_neither_rich_nor_numpy():
    """Its output is plain text, like summary's: rich (and numpy) are for errors and verify."""
    heavy = "sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'torch', 'cupy', 'rich'})"
    script = (f"import atexit, runpy, sys; atexit.register(lambda: print('HEAVY', {heavy}, file=sys.stderr)); "
              f"sys.argv = ['cnncalc', 'diff', {str(SPECS / 'resnet18.yaml')!r}, {str(SPECS / 'resnet50.yaml')!r}]; "
              "runpy.run_module('cnncalc', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "HEAVY []" in result.stderr, result.stderr[-2000:]
    assert "Layers: 106 added, 0 removed, 39 changed (69 → 175 layers)" in result.stdout
