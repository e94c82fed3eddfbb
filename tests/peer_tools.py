"""The peers themselves, run on the zoo's torch twins, for tests/test_conventions.py: in a
process of its own (`python tests/peer_tools.py < jobs.json`), so that the test process never
holds torch models (a process the fuzz tests fork from it would start with their pages).

A job is {"twin": "export" | "independent", "spec": path, "load": cnncalc.load options,
"tool": torchinfo | fvcore | ptflops | thop, "batch": n}; its result is {"totals": {...},
"layers": {spec layer: {...}}} as the tool prints them (layers only for the export twin, whose
modules are named after the spec's layers, and only from tools that report per layer).
Pinned: torchinfo 1.8.0, fvcore 0.1.5.post20221221, ptflops 0.7.5, thop 0.1.1.post2209072238.
"""
from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from contextlib import redirect_stdout

import torch

import torchvision_models  # noqa: F401  (torchvision imported with its stubs, before ptflops imports it)
import cnncalc
from cnncalc.export.pytorch import export
from test_export_pytorch import module_of

import fvcore.nn
import ptflops
import torchinfo

with warnings.catch_warnings():  # thop 0.1.1 compares versions with distutils
    warnings.simplefilter("ignore", DeprecationWarning)
    import thop


# torchinfo's and thop's hooks read shapes only, so they run on the meta device (no arithmetic:
# the suite stays fast); fvcore traces and ptflops patches functionals, which count otherwise there.
ON_META = {"torchinfo", "thop"}


def device(tool: str) -> str:
    return "meta" if tool in ON_META else "cpu"


def twin(network, tool: str, batch: int = 1):
    """The exported model in eval mode, its input, and {spec layer: module path}."""
    exported = module_of(export(network))
    tokens = any(node.layer.token_range() for node in network.nodes)
    with torch.device(device(tool)):
        model = exported.Model().eval()
        x = torch.zeros((batch, *network.input_shape), dtype=torch.long if tokens else torch.float32)
    return model, x, exported.SPEC_NAMES


def run_torchinfo(model, x, paths) -> tuple[dict, dict]:
    stats = torchinfo.summary(model, input_data=x, verbose=0)
    by_module = {id(info.module): info for info in stats.summary_list}
    printed = {key: info.macs if info.is_leaf_layer else 0 for key, info in by_module.items()}  # "--" off leaves
    layers = {name: {"mult_adds": printed[id(model.get_submodule(path))]} for name, path in paths.items()}
    return ({"params": stats.total_params, "trainable": stats.trainable_params,
             "mult_adds": stats.total_mult_adds}, layers)


def run_fvcore(model, x, paths) -> tuple[dict, dict]:
    logging.disable(logging.WARNING)  # fvcore logs every operator it skips
    try:
        analysis = fvcore.nn.FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        by_module = analysis.by_module()
        total = analysis.total()
    finally:
        logging.disable(logging.NOTSET)
    layers = {name: {"flops": by_module[path]} for name, path in paths.items()}
    return {"flops": total, "params": fvcore.nn.parameter_count(model)[""]}, layers


def run_ptflops(model, x, paths) -> tuple[dict, dict]:
    with redirect_stdout(io.StringIO()):
        macs, params = ptflops.get_model_complexity_info(model, tuple(x.shape[1:]), as_strings=False,
                                                         print_per_layer_stat=False,
                                                         input_constructor=lambda _: x[:1])
    return {"macs": macs, "params": params}, {}


def run_thop(model, x, paths) -> tuple[dict, dict]:
    ops, params, tree = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    layers = {}
    for name, path in paths.items():
        node = (ops, params, tree)
        for part in path.split("."):
            node = node[2][part]
        layers[name] = {"ops": int(node[0])}
    return {"ops": int(ops), "params": int(params)}, layers


RUNNERS = {"torchinfo": run_torchinfo, "fvcore": run_fvcore, "ptflops": run_ptflops, "thop": run_thop}


def independent_twin(stem: str, network, tool: str):
    from torch_zoo import TORCH_ZOO
    from torchvision_models import TORCHVISION_ZOO

    builder, _shape, dtype = {**TORCH_ZOO, **TORCHVISION_ZOO}[stem]
    model = builder().eval().to(device(tool))  # built on the CPU: RegNet's builder computes with tensors
    return model, torch.zeros((1, *network.input_shape), dtype=dtype, device=device(tool)), {}


def measure(job: dict) -> dict:
    network = cnncalc.load(job["spec"], **job["load"])
    if job["twin"] == "export":
        model, x, paths = twin(network, job["tool"], job["batch"])
    else:
        model, x, paths = independent_twin(job["spec"].rsplit("/", 1)[-1].removesuffix(".yaml"), network, job["tool"])
    totals, layers = RUNNERS[job["tool"]](model, x, paths)
    return {"totals": totals, "layers": layers}


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    json.dump([measure(job) for job in json.load(sys.stdin)], sys.stdout)
