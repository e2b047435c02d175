"""Benchmark: SP4D dual-branch UNet (SV4D 2.0 scale, random weights) eager vs compiled vs compiled + CUDA graphs.

Full size (default): ``SP4DConfig.full()`` — two SV4D 2.0 branches + BiDiFuse, 4 views x 12 frames at 576^2
(72^2 latents), batch 1 and classifier-free-guidance batch 2. Per mode and batch it measures

* latency of one denoising step (one UNet forward; median of ``--iters`` timed calls after warm-up, CUDA
  events around each call),
* a whole 50-step sample, EXTRAPOLATED as 50 x the per-step median (the sampler's own work is negligible
  next to the UNet and is not timed),
* peak GPU memory (``torch.cuda.max_memory_allocated`` since the mode started: weights of that precision, the
  activations, and CUDA-graph pools held),
* FLOPs of one step, counted with ``torch.utils.flop_counter.FlopCounterMode`` on one eager forward
  (matmuls, convolutions and attention; elementwise ops not counted), and the achieved TFLOP/s against the
  GPU's dense fp16/bf16 tensor-core peak (datasheet) and against a measured 8192^3 fp16 matmul,
* the relative L2 difference of each mode's output to eager fp16 on the same inputs (correctness check).

Modes (``--modes``, comma list): ``eager_{fp32,fp16,bf16}``, ``eager_fp16_graphs`` (eager + CUDA graphs),
``eager_fp16_cudnnattn`` (cuDNN attention first), ``compiled_fp16[_graphs]`` (inductor, regional: each repeated
block compiled, see trt_engines.compiled), ``compiled_fp16_opt[_graphs]`` (plus trt_engines.optimize rewrites:
channels-last convolutions, fused q/k/v, the SDPA kernel order of ``--sdpa``) and ``compiled_fp8_opt[_graphs]``
(plus e4m3 transformer linears, ``--fp8-scaling`` static (calibrated on another input draw) or dynamic).
``--micro`` first times the SDPA kernels, fp16 vs e4m3 GEMMs and conv layouts at the network's own shapes
(bench/micro_unet.py) and ``--sdpa auto`` takes the order that minimises their summed time. Modes in
``--profile`` get one more forward (without the graph) under torch.profiler: GPU kernel time per op class
(attention / conv / linear / other) and the TFLOP/s of each class.

GPU runs (what docs/compile.md reports; diffusers carried as a wheel in .whl/, see there)::

    PYTHONUNBUFFERED=1 python3 bench/bench_unet_compile.py --micro --batches 2 --out $OUT
    PYTHONUNBUFFERED=1 python3 bench/bench_unet_compile.py --batches 2 \
        --modes eager_fp16,compiled_fp16_opt_graphs,compiled_fp8_opt_graphs \
        --sdpa CUDNN_ATTENTION,EFFICIENT_ATTENTION,FLASH_ATTENTION,MATH --out $OUT

Re-print a saved table: ``python bench/bench_unet_compile.py --from-json bench/results/unet_compile_h200_run2.json``.

CPU smoke test of the script itself (tiny config)::

    python bench/bench_unet_compile.py --tiny --device cpu --iters 2 --modes eager_fp16,eager_fp16_opt,eager_fp8_opt

``--budget-s`` stops starting new measurements once exceeded; the table marks what was skipped.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from trt_engines.compiled import CompiledModule, uncompiled  # noqa: E402
from trt_engines.onnx_export import cast_inputs, forward_arg_names  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}  # fp8 modes: fp16 + e4m3 linears
# dense (no sparsity) fp16/bf16 tensor-core peaks from NVIDIA datasheets, TFLOP/s
PEAKS = {"H100 80GB HBM3": 989.4, "H100 SXM": 989.4, "H100 PCIe": 756.0, "H100 NVL": 835.0,
         "H200": 989.4, "A100": 312.0}


def peak_tflops(name: str) -> float | None:
    for k, v in PEAKS.items():
        if k in name:
            return v
    return None


class Timer:
    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def __call__(self, fn, iters: int) -> list[float]:
        """Seconds per call of ``fn``, one sample per call."""
        out = []
        for _ in range(iters):
            if self.cuda:
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                out.append(a.elapsed_time(b) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
        return out


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(cfg, dtype, device):
    from sdk.models.sp4d.unet import SP4DUNet
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the GPU: seconds instead of minutes for ~2.6B parameters
        net = SP4DUNet(cfg)
    # .to(device) too: diffusers' AlphaBlender makes its mix_factor with the legacy torch.Tensor([...])
    # constructor, which ignores the default-device context and lands on the CPU
    return net.to(device=device, dtype=dtype).eval()


def make_inputs(net, batch, device, dtype, seed: int | None = None):
    """The timed inputs (seed None) or another draw of the same distribution (fp8 calibration)."""
    names = forward_arg_names(net)
    ex = net.example_inputs(batch=batch, device=device, dtype=torch.float32)
    g = torch.Generator(device="cpu").manual_seed(100 + batch if seed is None else seed)
    ex = list(ex)
    ex[0] = torch.randn(ex[0].shape, generator=g).to(device)  # noisy latent
    if seed is not None:
        ex[1] = torch.randn(ex[1].shape, generator=g).to(device) * 0.5   # c_noise
        ex[2] = torch.randn(ex[2].shape, generator=g).to(device)         # cond latent
        ex[3] = torch.randn(ex[3].shape, generator=g).to(device)         # context
    ex[5] = torch.full_like(ex[5], 0.02)                       # cond_aug: non-zero
    return cast_inputs(dict(zip(names, ex)), dtype)


def count_flops(net, inputs) -> tuple[int, dict]:
    """FLOPs of one eager forward: total and per op class (attention / conv / linear)."""
    from torch.utils.flop_counter import FlopCounterMode
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc:
        net(**inputs)
    per: dict[str, int] = {}
    for op, f in fc.get_flop_counts().get("Global", {}).items():
        c = op_class(str(op))
        per[c] = per.get(c, 0) + int(f)
    return int(fc.get_total_flops()), per


def rel_err(a, b) -> float:
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def matmul_tflops(device) -> float | None:
    if device.type != "cuda":
        return None
    a = torch.randn(8192, 8192, device=device, dtype=torch.float16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.float16)
    for _ in range(3):
        a @ b
    ts = Timer(device)(lambda: a @ b, 10)
    return 2 * 8192 ** 3 / statistics.median(ts) / 1e12


def sp4d_optimize(fp8: bool, sdpa: tuple[str, ...] | None, fp8_scaling: str = "static"):
    """The rewrites for the SP4D UNet (trt_engines.optimize): channels-last convolutions, fused q/k/v, the SDPA
    kernel order, and with ``fp8`` the transformer linears (q/k/v/out, GEGLU FF, proj_in/out) in e4m3."""
    from sdk.models.sp4d.unet import SpatialVideoTransformer3D
    from trt_engines.optimize import OptimizeConfig
    return OptimizeConfig(channels_last=True, fuse_qkv=True, sdpa_backends=sdpa, fp8_linear=fp8,
                          fp8_within=(SpatialVideoTransformer3D,), fp8_skip=("_embed",), fp8_scaling=fp8_scaling)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="SP4DConfig.tiny() (CPU smoke test of this script)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", default="2,1", help="comma list; 2 = classifier-free guidance batch")
    ap.add_argument("--modes", default="eager_fp16,compiled_fp16_opt_graphs,compiled_fp8_opt_graphs,"
                                       "compiled_fp16_graphs,eager_fp16_graphs,eager_bf16,eager_fp32")
    ap.add_argument("--iters", type=int, default=5, help="timed calls per mode (median reported)")
    ap.add_argument("--iters-fp32", type=int, default=3, help="timed calls for the slow fp32 mode")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50, help="sampling steps for the extrapolated sample time")
    ap.add_argument("--compile", choices=["regional", "whole"], default="regional",
                    help="regional: compile each repeated block (fast cold start); whole: one graph")
    ap.add_argument("--sdpa", default="auto",
                    help="SDPA kernel order for the *_opt modes: auto (fastest in the attention micro-benchmark at "
                         "this network's shapes), default (PyTorch's), or a comma list of SDPBackend names")
    ap.add_argument("--fp8-scaling", choices=["static", "dynamic"], default="static",
                    help="fp8 modes: calibrated per-tensor scales (pointwise quantization) or per-row amax every call")
    ap.add_argument("--micro", action="store_true", help="micro-benchmarks at the network's shapes first "
                                                         "(SDPA kernels, fp8 vs fp16 GEMM, conv layouts)")
    ap.add_argument("--profile", default="eager_fp16,compiled_fp16_opt_graphs,compiled_fp8_opt_graphs",
                    help="modes to profile (one forward, no graph) for device time per op class")
    ap.add_argument("--budget-s", type=float, default=1e9, help="start no new measurement after this many s")
    ap.add_argument("--out", default=os.environ.get("OUT", "bench_out"), help="directory for table + json")
    ap.add_argument("--from-json", help="only re-print the table of a saved bench_unet_compile.json")
    args = ap.parse_args(argv)
    if args.from_json:
        d = json.loads(Path(args.from_json).read_text())
        print(format_table(d["rows"], d["env"], {int(k): v for k, v in d.get("flops", {}).items()}, args.steps))
        print(format_profiles(d.get("profiles", [])))
        return 0

    t_start = time.perf_counter()
    device = torch.device(args.device)
    from sdk.models.sp4d.unet import SP4DConfig, SpatialVideoTransformer3D
    from diffusers.models.resnet import SpatioTemporalResBlock
    from sdk.models.sp4d.unet import BiDiFuse
    from trt_engines.optimize import sdpa_context
    cfg = SP4DConfig.tiny() if args.tiny else SP4DConfig.full()
    batches = [int(b) for b in args.batches.split(",")]
    modes = args.modes.split(",")
    prof_modes = set(filter(None, args.profile.split(",")))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # every mode: pick conv algorithms per shape
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = peak_tflops(gpu)
    env = {"gpu": gpu, "torch": torch.__version__, "config": "tiny" if args.tiny else "full",
           "cfg": cfg.to_dict(), "cudnn_benchmark": torch.backends.cudnn.benchmark,
           "matmul_tf32": torch.backends.cuda.matmul.allow_tf32, "cudnn_tf32": torch.backends.cudnn.allow_tf32,
           "cudnn_version": torch.backends.cudnn.version() if device.type == "cuda" else None,
           "compile": args.compile, "iters": args.iters, "warmup": args.warmup}
    print(f"# {env}", flush=True)
    mm = matmul_tflops(device)
    env["matmul_fp16_tflops_measured"] = mm
    print(f"# 8192^3 fp16 matmul: {mm} TFLOP/s", flush=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    rows: list[dict] = []
    profiles: list[dict] = []
    refs: dict[int, torch.Tensor] = {}
    flops: dict[int, int] = {}
    flops_by_class: dict[int, dict] = {}
    regional = (SpatioTemporalResBlock, SpatialVideoTransformer3D, BiDiFuse)

    def save():
        (out_dir / "bench_unet_compile.json").write_text(json.dumps(
            {"env": env, "rows": rows, "flops": flops, "flops_by_class": flops_by_class, "profiles": profiles},
            indent=1))

    micro = {}
    if args.micro and device.type == "cuda":
        from micro_unet import run_micro  # bench/micro_unet.py
        micro = run_micro(device, cfg, log=lambda m: print(m, flush=True))
        env["micro"] = micro
        save()
    if args.sdpa == "auto":  # without --micro: PyTorch's order
        sdpa = tuple(micro["sdpa_order"]) if micro.get("sdpa_order") else None
    elif args.sdpa == "default":
        sdpa = None
    else:
        sdpa = tuple(args.sdpa.split(","))
    env["sdpa_opt"] = list(sdpa) if sdpa else "pytorch default"
    print(f"# SDPA order for *_opt modes: {env['sdpa_opt']}", flush=True)

    def over_budget():
        return time.perf_counter() - t_start > args.budget_s

    def record(row):
        rows.append(row)
        save()
        print("ROW " + json.dumps(row), flush=True)

    # group: (precision of the weights, fp8 linears, rewrites, compiled) -> modes; "fp8" = fp16 network with e4m3
    # transformer linears. Groups run in the order of --modes, except that eager fp16 (every mode's reference)
    # comes first.
    def group_of(m):
        prec = m.split("_")[1]
        return ("fp16" if prec == "fp8" else prec, prec == "fp8", "_opt" in m, m.startswith("compiled"))

    by_group: dict[tuple, list[str]] = {}
    for m in modes:
        by_group.setdefault(group_of(m), []).append(m)
    # batch-major (CFG batch first): the rows that matter most come first if the time budget runs out. The
    # network is rebuilt (same seed, same weights) per group, since the optimized groups rewrite it in place.
    order = sorted(by_group, key=lambda gk: 0 if gk == ("fp16", False, False, False) else 1)  # stable
    groups = [(b, gk) for b in batches for gk in order]
    for b, gk in groups:
        prec, fp8, opt, _ = gk
        if over_budget():
            for m in by_group[gk]:
                record({"mode": m, "batch": b, "skipped": "time budget"})
            continue
        dtype = DTYPES[prec]
        t0 = time.perf_counter()
        net = build(cfg, dtype, device)
        params = sum(p.numel() for p in net.parameters())
        env["params"] = params
        print(f"# built {prec} net: {params / 1e9:.3f} B parameters in {time.perf_counter() - t0:.1f}s", flush=True)
        wrappers: dict[str, CompiledModule] = {}
        inputs = make_inputs(net, b, device, dtype)
        if b not in flops:
            with uncompiled(net):
                flops[b], flops_by_class[b] = count_flops(net, inputs)
            print(f"# batch {b}: {flops[b] / 1e12:.1f} TFLOP per step {flops_by_class[b]}", flush=True)
        for m in by_group[gk]:
            if over_budget():
                record({"mode": m, "batch": b, "skipped": "time budget"})
                continue
            compiled = m.startswith("compiled")
            graphs = m.endswith("graphs")
            if graphs and device.type != "cuda":
                record({"mode": m, "batch": b, "skipped": "CUDA graphs need a GPU"})
                continue
            ctx = (lambda: sdpa_context(sdpa)) if opt else contextlib.nullcontext
            extra = {}
            if compiled or graphs or opt:
                # one wrapper per kind (compiled / eager); "compiled" without graphs times the same
                # compiled blocks that the graph wrapper captured
                kind = "compiled" if compiled else "eager"
                if kind not in wrappers:
                    t0 = time.perf_counter()
                    wrappers[kind] = CompiledModule(
                        net, precision=None, compile=compiled, cuda_graphs=graphs and device.type == "cuda",
                        regional=regional if (compiled and args.compile == "regional") else None,
                        optimize=sp4d_optimize(fp8, sdpa, args.fp8_scaling) if opt else None)
                    w = wrappers[kind]
                    if fp8 and w._needs_calibration:  # static scales from another input draw than the timed one
                        w.calibrate(**make_inputs(net, b, device, dtype, seed=7))
                    if w.optimized is not None:
                        extra = {"convs_channels_last": w.optimized.convs_channels_last,
                                 "fused_attention": w.optimized.fused_attention,
                                 "fp8_linears": len(w.optimized.fp8_linears),
                                 "optimize_s": time.perf_counter() - t0}
                        print(f"# {m}: {extra}", flush=True)
                w = wrappers[kind]
                direct = lambda w=w: _with(ctx(), lambda: _nograd(w.fn, inputs))  # noqa: E731
                fn = (lambda w=w: w(**inputs)) if graphs else direct
            else:
                direct = fn = lambda: _nograd(net, inputs)  # noqa: E731
            if not compiled:  # regional compilation is in place: eager modes must not use those blocks
                fn = (lambda f=fn: _with(uncompiled(net), f))
                direct = (lambda f=direct: _with(uncompiled(net), f))
            if "cudnnattn" in m:  # same network, attention through cuDNN's fused kernel first
                fn = (lambda f=fn: _with(_cudnn_attention(), f))
                direct = (lambda f=direct: _with(_cudnn_attention(), f))
            try:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
                out = fn()  # compile / capture / cudnn autotune; its output is the one checked
                sync(device)
                first_s = time.perf_counter() - t0
                warm = 1 if prec == "fp32" else args.warmup
                for _ in range(max(warm - 1, 0)):
                    fn()
                sync(device)
                n = args.iters_fp32 if prec == "fp32" else args.iters
                ts = Timer(device)(fn, n)
                peak_mem = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None
            except torch.OutOfMemoryError as e:
                record({"mode": m, "batch": b, "skipped": f"out of memory: {str(e)[:120]}"})
                torch.cuda.empty_cache()
                continue
            except Exception as e:  # noqa: BLE001 - one broken mode must not lose the others' numbers
                import traceback
                traceback.print_exc()
                record({"mode": m, "batch": b, "skipped": f"error: {type(e).__name__}: {str(e)[:160]}"})
                continue
            if m == "eager_fp16":
                refs[b] = out.detach().float().clone()
            med = statistics.median(ts)
            tflops = flops[b] / med / 1e12
            row = {"mode": m, "batch": b, "step_ms": med * 1e3, "step_ms_min": min(ts) * 1e3,
                   "step_ms_max": max(ts) * 1e3, "n": len(ts), "sample_s": args.steps * med,
                   "first_call_s": first_s, "peak_gib": peak_mem, "tflops": tflops,
                   "pct_peak": (100 * tflops / peak) if peak else None,
                   "pct_matmul": (100 * tflops / mm) if mm else None,
                   "finite": bool(torch.isfinite(out).all()),
                   "rel_err_vs_eager_fp16": rel_err(out, refs[b]) if b in refs else None, **extra}
            record(row)
            if m in prof_modes and device.type == "cuda":  # ~2 forwards: always, budget or not
                try:
                    pr = profile_classes(direct, flops_by_class[b])
                    pr.update(mode=m, batch=b, graph_step_ms=med * 1e3)
                    profiles.append(pr)
                    save()
                    print(format_profiles([pr]), flush=True)
                except Exception as e:  # noqa: BLE001
                    import traceback
                    traceback.print_exc()
                    print(f"# profile of {m} failed: {e}", flush=True)
        del net, wrappers, inputs
        if device.type == "cuda":
            torch.cuda.empty_cache()

    table = format_table(rows, env, flops, args.steps)
    print(table, flush=True)
    print(format_profiles(profiles), flush=True)
    (out_dir / "bench_unet_compile.md").write_text(table + "\n" + format_profiles(profiles))
    return 0


OP_CLASSES = ("attention", "conv", "linear")
_DEVICE_TIME = "self_device_time_total"  # profiler attribute (torch >= 2.4)


def op_class(name: str) -> str:
    """attention | conv | linear | other, from an aten op name (FLOP counter keys and profiler event names)."""
    n = name.lower()
    if "attention" in n or "sdpa" in n or "flash" in n:
        return "attention"
    if "conv" in n:
        return "conv"
    if n.split("::")[-1].split(".")[-1] in ("mm", "addmm", "bmm", "baddbmm", "_scaled_mm", "matmul", "linear") \
            or n.endswith("aten.mm") or "scaled_mm" in n:
        return "linear"
    return "other"


def kernel_class(name: str) -> str:
    """attention | conv | linear | other, from a GPU kernel name (cuDNN / cuBLAS / flash / inductor Triton)."""
    n = name.lower()
    if n.startswith("triton_tem"):  # inductor GEMM templates (max-autotune)
        return "linear"
    if n.startswith("triton_"):     # inductor's fused pointwise / reduction kernels (names list the fused ops)
        return "other"
    if any(k in n for k in ("flash_fwd", "fmha", "sdpa", "attention")):
        return "attention"
    if any(k in n for k in ("fprop", "conv", "implicit_gemm", "dgrad", "wgrad")):
        return "conv"
    if any(k in n for k in ("nvjet", "gemm", "cutlass", "scaled_mm", "gemv")):
        return "linear"
    return "other"


def profile_classes(fn, class_flops: dict) -> dict:
    """One forward under torch.profiler: device time of every GPU kernel, classed by kernel name (attention /
    conv / linear; inductor's fused Triton kernels, norms, copies = other), and the TFLOP/s each class achieved
    (FLOPs per class from the eager FLOP counter)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    per = {c: 0.0 for c in OP_CLASSES + ("other",)}
    attn_ops: dict[str, list] = {}
    top: dict[str, float] = {}
    for e in prof.key_averages():
        if getattr(e, "device_type", None) != DeviceType.CUDA:
            continue  # CPU ops: their kernels are listed themselves
        t = float(getattr(e, _DEVICE_TIME, 0.0)) / 1e3  # ms
        if t <= 0:
            continue
        c = kernel_class(e.key)
        per[c] += t
        top[e.key] = top.get(e.key, 0.0) + t
        if c == "attention":
            attn_ops[e.key] = [e.count, t]
    total = sum(per.values())
    out = {"total_device_ms": total, "ms": per, "attention_ops": attn_ops,
           "top_ops_ms": dict(sorted(top.items(), key=lambda kv: -kv[1])[:40])}
    out["tflops"] = {c: (class_flops.get(c, 0) / (per[c] / 1e3) / 1e12 if per[c] > 0 else None) for c in OP_CLASSES}
    return out


def _short(kernel: str) -> str:
    n = kernel.lower()
    if "cudnn" in n and "sdpa" in n:
        return "cuDNN sdpa"
    if "flash_fwd" in n:
        return "flash"
    if "fmha" in n:
        return "mem-efficient"
    return kernel[:40]


def format_profiles(profiles) -> str:
    if not profiles:
        return ""
    lines = ["Device time per op class (torch.profiler, one forward without the CUDA graph; FLOPs per class from "
             "the eager FLOP counter):", "",
             "| mode | batch | total ms | attention ms (TFLOP/s) | conv ms (TFLOP/s) | linear ms (TFLOP/s) | "
             "other ms | attention kernels |", "|---|---|---|---|---|---|---|---|"]
    for p in profiles:
        ms, tf = p["ms"], p["tflops"]
        cell = lambda c: f"{ms[c]:.0f} ({tf[c]:.0f})" if tf.get(c) else f"{ms[c]:.0f}"  # noqa: E731
        ops = ", ".join(f"{_short(k)} x{v[0]} {v[1]:.0f} ms" for k, v in p["attention_ops"].items())
        lines.append(f"| {p['mode']} | {p['batch']} | {p['total_device_ms']:.0f} | {cell('attention')} | "
                     f"{cell('conv')} | {cell('linear')} | {ms['other']:.0f} | {ops} |")
    return "\n".join(lines) + "\n"


def _cudnn_attention():
    """SDPA backends with cuDNN's fused attention first (flash / memory-efficient where cuDNN declines)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    order = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]
    try:
        return sdpa_kernel(order, set_priority=True)
    except TypeError:  # older torch: no priority; cuDNN only
        return sdpa_kernel(order[:1])


def _with(ctx, f):
    with ctx:
        return f()


def _nograd(fn, inputs):
    with torch.no_grad():
        return fn(**inputs)


def format_table(rows, env, flops, steps) -> str:
    base = {r["batch"]: r["step_ms"] for r in rows if r["mode"] == "eager_fp16" and "step_ms" in r}
    lines = [f"SP4D dual-branch UNet ({env['config']} config, {env.get('params', 0) / 1e9:.2f} B params, random "
             f"weights), {env['gpu']}, torch {env['torch']}",
             f"FLOPs per step: " + ", ".join(f"batch {b}: {f / 1e12:.1f} TFLOP" for b, f in sorted(flops.items()))
             + f"; peak ref: dense fp16 datasheet {peak_tflops(env['gpu']) or 'n/a'} TFLOP/s, measured fp16 "
             f"matmul {env['matmul_fp16_tflops_measured'] or float('nan'):.0f} TFLOP/s",
             f"{steps}-step sample = {steps} x median step (extrapolated). speedup = eager fp16 step / this step.",
             "",
             "| mode | batch | step ms (median) | min..max | 50-step s | first call s | peak GiB | TFLOP/s "
             "| % dense peak | % matmul | speedup vs eager fp16 | rel err vs eager fp16 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['mode']} | {r['batch']} | skipped: {r['skipped']} |||||||||||")
            continue
        sp = base.get(r["batch"])
        f = lambda v, p=1: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{p}f}"  # noqa
        lines.append(
            f"| {r['mode']} | {r['batch']} | {f(r['step_ms'])} | {f(r['step_ms_min'])}..{f(r['step_ms_max'])} | "
            f"{f(r['sample_s'], 2)} | {f(r['first_call_s'])} | {f(r['peak_gib'], 1)} | {f(r['tflops'])} | "
            f"{f(r['pct_peak'])} | {f(r['pct_matmul'])} | {f(sp / r['step_ms'] if sp else None, 2)} | "
            f"{'NaN/inf!' if not r['finite'] else f(r['rel_err_vs_eager_fp16'], 4)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
