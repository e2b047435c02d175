"""``articulate compile MODEL``: build (or verify the cache of) a compiled engine for a diffusion network.

Examples::

    articulate compile sp4d-small --backend onnxruntime --precision fp32     # bundled weights, UNet
    articulate compile sp4d-small:vae --backend torch_compile --device cuda
    articulate compile sp4d --backend tensorrt --precision fp16               # $ARTICULATE_WEIGHTS_DIR/sp4d.safetensors
    articulate compile sp4d-unet --config tiny --random-weights --backend onnxruntime   # smoke test
    articulate compile --list                                                          # cached engines

Steps (shown as a progress bar): load the network, export/build through the engine cache
(``$ARTICULATE_CACHE_DIR/engines``; a cached entry is re-verified by hash and rebuilt when corrupted), then
check the compiled network against the torch module on fresh random inputs (``--no-verify`` skips it).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger(__name__)


def register(sub) -> None:
    from trt_engines.select import BACKENDS, PRECISIONS
    from sdk.models.targets import list_models
    p = sub.add_parser("compile", help="compile a diffusion network (ONNX / TensorRT / torch.compile) into the "
                       "engine cache", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help=f"NAME[:COMPONENT], one of: {', '.join(list_models())}")
    p.add_argument("--backend", choices=[b for b in BACKENDS if b != "eager"],
                   help="default: settings.backend if compiled, else torch_compile on GPU / onnxruntime on CPU")
    p.add_argument("--precision", choices=PRECISIONS, help="default: fp16 on GPU, fp32 on CPU; fp8 only with "
                   "--backend tensorrt on SM >= 89 (docs/compile.md)")
    p.add_argument("--config", default=None, choices=["tiny", "small", "full"],
                   help="architecture with --random-weights (default: the registry model's, full for shorthands)")
    p.add_argument("--checkpoint", help="SP4D checkpoint (.safetensors written by SP4DModel.save)")
    p.add_argument("--random-weights", action="store_true", help="compile random weights (tests, benchmarks)")
    p.add_argument("--batch", type=int, default=1, help="batch of the static shape bucket (2 = CFG)")
    p.add_argument("--dynamic-batch", type=int, default=0, metavar="MAX",
                   help="build a dynamic-batch profile 1..MAX instead of the static bucket")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: settings.device)")
    p.add_argument("--cache-dir", help="engine cache root (default: $ARTICULATE_CACHE_DIR/engines)")
    p.add_argument("--no-verify", action="store_true", help="skip the parity check against the torch module")
    p.add_argument("--tolerance", type=float, default=None,
                   help="max relative L2 error in the check (default 1e-4 fp32, 2e-2 fp16/bf16/fp8)")
    p.add_argument("--list", action="store_true", help="list cached engines and exit")
    p.set_defaults(func=run)


def _bar(total: int):
    from sdk.config import settings
    if not settings.progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="compile", leave=False, dynamic_ncols=True, file=sys.stderr)


def run(args) -> int:
    import torch

    from sdk.config import settings
    from sdk.errors import InvalidInputError
    from trt_engines.cache import EngineCache
    from trt_engines.onnx_export import parity
    from trt_engines.select import compile_module, default_precision
    from sdk.models.targets import resolve

    cache = EngineCache(args.cache_dir) if args.cache_dir else EngineCache()
    if args.list:
        for e in cache.entries():
            k = e["key"]
            size = sum(f["size"] for f in e["files"].values())
            print(f"{k['backend']:12s} {k['model']:18s} {k['precision']:5s} {k['bucket']:40s} {k['sm']:5s} "
                  f"{size / 2**20:9.1f} MiB  {e['path']}")
        return 0
    if not args.model:
        raise InvalidInputError("name a MODEL to compile (or pass --list)", field="model")
    device = torch.device(args.device) if args.device else settings.torch_device()
    backend = args.backend or (settings.backend if settings.backend != "eager" else
                               ("torch_compile" if device.type == "cuda" else "onnxruntime"))
    precision = args.precision or default_precision(device)

    bar = _bar(5)
    done = [0]

    def stage(msg: str) -> None:
        log.debug("%s", msg)
        if bar is not None:
            bar.set_description(msg[:60])
            bar.update(1)
            done[0] += 1

    from sdk.util.progress import end_bar
    try:
        t0 = time.perf_counter()
        stage(f"loading {args.model}")
        tgt = resolve(args.model, config=args.config, checkpoint=args.checkpoint, random_weights=args.random_weights,
                      batch=args.batch, dynamic_batch=args.dynamic_batch)
        module = tgt.module.to(device).eval()
        inputs = {k: v.to(device) for k, v in tgt.inputs.items()}
        import copy
        reference = None if args.no_verify else copy.deepcopy(module).float()
        run_fn = compile_module(module, inputs, model=tgt.name, backend=backend, precision=precision,
                                profiles=tgt.profiles, cache=cache, warmup=backend == "torch_compile", stage=stage,
                                regional=tgt.regional)
        report = {"model": tgt.name, "backend": backend, "precision": precision, "device": str(device),
                  "buckets": [p.bucket_id() for p in tgt.profiles], "cache": str(cache.root)}
        if reference is not None:
            stage("checking against the torch module")
            g = torch.Generator(device="cpu").manual_seed(1234)
            fresh = {k: (torch.randn(v.shape, generator=g).to(device, v.dtype) if v.is_floating_point() and v.dim() > 1
                         else v) for k, v in inputs.items()}
            rep = parity(reference, run_fn, fresh, ref_dtype=torch.float32, ref_device=device)
            tol = args.tolerance or (1e-4 if precision == "fp32" else 2e-2)
            report["rel_l2"] = rep.rel_l2
            report["max_abs"] = rep.max_abs
            if not rep.ok(tol):
                end_bar(bar)
                print(json.dumps(report, indent=1))
                print(f"error: compiled {tgt.name} differs from the torch module: relative L2 {rep.rel_l2} > {tol}",
                      file=sys.stderr)
                return 1
        if bar is not None:
            bar.update(max(bar.total - done[0], 0))
        end_bar(bar)
    finally:
        end_bar(bar)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(report, indent=1))
    return 0
