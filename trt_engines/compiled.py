"""torch.compile (inductor) plus CUDA-graph capture per static shape bucket: the default compiled backend on GPU.

:class:`CompiledModule` wraps a network and is called exactly like it. Per call it

1. binds ``(*args, **kwargs)`` to the forward parameters and casts float inputs to the working precision;
2. looks up the *bucket* — the tuple of input shapes/dtypes. On CUDA, the first call in a bucket warms the
   compiled function up on a side stream (inductor compiles and autotunes there) and captures one CUDA graph
   of the whole forward into a memory pool shared by all buckets; later calls in the bucket copy the inputs
   into the graph's static buffers and replay it: one launch for the whole denoiser step instead of thousands;
3. returns the outputs cast back to the caller's float dtype (cloned out of the shared pool by default).

Without CUDA (or with ``cuda_graphs=False``) it runs the compiled function directly; with ``compile=False`` it
is eager + CUDA graphs. Shapes that are not in ``buckets`` are captured on first sight when
``capture_unseen=True`` (default); otherwise they run the compiled function without a graph.

The module is cast to the working precision in place: the wrapper owns it.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Callable, Iterable, Mapping, Sequence

import torch

from sdk.errors import InvalidInputError

from .onnx_export import bind_inputs, cast_inputs, forward_arg_names
from .optimize import OptimizeConfig, optimize_, sdpa_context

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, None: None}

_BucketKey = tuple


def bucket_key(inputs: Mapping[str, object]) -> _BucketKey:
    """Hashable key of a call: (name, shape, dtype, device) of each tensor input, repr of the others."""
    items = []
    for k in sorted(inputs):
        v = inputs[k]
        if isinstance(v, torch.Tensor):
            items.append((k, tuple(v.shape), str(v.dtype), str(v.device)))
        else:
            items.append((k, repr(v)))
    return tuple(items)


class CudaGraphRunner:
    """One CUDA graph of ``fn(**inputs)`` at fixed shapes, replayed with fresh input values.

    inputs: example tensors (their values are copied into static buffers, which the graph reads)
    pool:   memory pool handle shared with other graphs (``torch.cuda.graph_pool_handle()``)
    """

    def __init__(self, fn: Callable, inputs: Mapping[str, object], *, warmup: int = 2, pool=None):
        self.static_in = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(max(warmup, 1)):  # compile, autotune and allocate outside the capture
                fn(**self.static_in)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        self.graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(self.graph, pool=pool):
            self.static_out = fn(**self.static_in)

    def __call__(self, inputs: Mapping[str, object]):
        for k, v in inputs.items():
            dst = self.static_in[k]
            if isinstance(dst, torch.Tensor):
                dst.copy_(v, non_blocking=True)
            elif dst != v:
                raise InvalidInputError(f"non-tensor input '{k}' changed from {dst!r} to {v!r} "
                                        "inside a captured CUDA graph bucket", field=k)
        self.graph.replay()
        return self.static_out


@contextlib.contextmanager
def uncompiled(module: torch.nn.Module):
    """Run ``module`` eagerly inside the block, undoing regional ``nn.Module.compile`` for its duration."""
    saved = [(m, m._compiled_call_impl) for m in module.modules()
             if getattr(m, "_compiled_call_impl", None) is not None]
    for m, _ in saved:
        m._compiled_call_impl = None
    try:
        yield module
    finally:
        for m, impl in saved:
            m._compiled_call_impl = impl


def _map_out(out, f):
    if isinstance(out, torch.Tensor):
        return f(out)
    if isinstance(out, (tuple, list)):
        return type(out)(_map_out(o, f) for o in out)
    if isinstance(out, dict):
        return {k: _map_out(v, f) for k, v in out.items()}
    return out


class CompiledModule:
    """``module`` compiled with inductor, with one CUDA graph per static shape bucket.

    precision:      fp32 | fp16 | bf16 | None (keep the module's dtype)
    compile:        torch.compile the forward (False: eager, e.g. eager + CUDA graphs)
    cuda_graphs:    capture graphs (default: when the module is on CUDA)
    buckets:        input shapes to capture ahead with :meth:`warmup` (dicts name -> shape)
    mode:           torch.compile mode: "default" or "max-autotune-no-cudagraphs" (longer compile); never a mode
                    with inductor's own graphs ("reduce-overhead"): the graphs here are captured by this class
    capture_unseen: capture a graph for a shape seen for the first time (else: compiled, no graph)
    clone_outputs:  copy outputs out of the graphs' shared pool (needed when keeping outputs across calls)
    regional:       compile only submodules of these types (repeated blocks), in place, instead of the whole
                    forward; the CUDA graph still covers the whole forward
    optimize:       :class:`~trt_engines.optimize.OptimizeConfig` rewrites (channels-last convolutions, fused
                    q/k/v projections, SDPA kernel order, fp8 linears) applied to the owned module before
                    compiling; ``self.optimized`` reports what changed
    """

    def __init__(self, module: torch.nn.Module, *, precision: str | None = "fp16", compile: bool = True,
                 cuda_graphs: bool | None = None, buckets: Sequence[Mapping[str, Sequence[int]]] = (),
                 mode: str = "default", capture_unseen: bool = True,
                 clone_outputs: bool = True, fullgraph: bool = False,
                 regional: Sequence[type] | None = None, optimize: OptimizeConfig | None = None):
        if precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of fp32/fp16/bf16, got {precision!r}",
                                    field="precision")
        self.dtype = PRECISIONS[precision]
        self.module = module.eval()
        if self.dtype is not None:
            self.module.to(self.dtype)
        self.optimize = optimize
        self.optimized = optimize_(self.module, optimize) if optimize is not None else None
        self._sdpa = optimize.sdpa_backends if optimize is not None else None
        self._needs_calibration = bool(optimize is not None and optimize.fp8_linear
                                       and optimize.fp8_scaling == "static" and self.optimized.fp8_linears)
        self.names = forward_arg_names(self.module)
        p = next(iter(self.module.parameters()), None)
        self.device = p.device if p is not None else torch.device("cpu")
        self.cuda_graphs = (self.device.type == "cuda") if cuda_graphs is None else cuda_graphs
        if self.cuda_graphs and self.device.type != "cuda":
            raise InvalidInputError("CUDA graphs need the module on a CUDA device", field="cuda_graphs")
        if mode in ("reduce-overhead", "max-autotune"):
            raise InvalidInputError(f"mode {mode!r} adds inductor's own CUDA graphs; use 'default' or "
                                    "'max-autotune-no-cudagraphs' (graphs are captured per bucket here)",
                                    field="mode")
        self.regional = tuple(regional or ())
        if compile and self.regional:
            # compile each repeated block on its own: identical blocks (both UNet branches, equal levels) share
            # compiled code, so cold compile is several times faster than one whole-network graph
            from torch._dynamo import config as dynamo_config
            # one compiled variant per distinct block shape: far more than the default limit of 8 per code object
            dynamo_config.cache_size_limit = max(dynamo_config.cache_size_limit, 256)
            dynamo_config.accumulated_cache_size_limit = max(dynamo_config.accumulated_cache_size_limit, 4096)
            n = 0
            for sub in self.module.modules():
                if isinstance(sub, self.regional):
                    sub.compile(mode=mode, dynamic=False, fullgraph=fullgraph)
                    n += 1
            if n == 0:
                raise InvalidInputError(f"no submodule of types {[t.__name__ for t in self.regional]} to compile",
                                        field="regional")
            self.fn = self.module
        else:
            self.fn = torch.compile(self.module, mode=mode, dynamic=False, fullgraph=fullgraph) if compile \
                else self.module
        self.compiled = compile
        self.buckets = [dict(b) for b in buckets]
        self.capture_unseen = capture_unseen
        self.clone_outputs = clone_outputs
        self._graphs: dict[_BucketKey, CudaGraphRunner] = {}
        self._pool = torch.cuda.graph_pool_handle() if self.cuda_graphs else None

    def __repr__(self) -> str:
        return (f"CompiledModule({type(self.module).__name__}, dtype={self.dtype}, compiled={self.compiled}, "
                f"cuda_graphs={self.cuda_graphs}, graphs={len(self._graphs)})")

    @property
    def num_graphs(self) -> int:
        return len(self._graphs)

    def warmup(self, examples: Iterable[Mapping[str, torch.Tensor]] | None = None) -> None:
        """Compile (and capture) every bucket ahead of the first real call.

        examples: inputs per bucket; default random tensors at ``buckets``' shapes (float, on the module's device)
        """
        if examples is None:
            examples = [{k: torch.randn(tuple(s), device=self.device) for k, s in b.items()} for b in self.buckets]
        for ex in examples:
            self(**ex)

    def _prepare(self, args, kwargs):
        bound = bind_inputs(self.names, args, kwargs)
        caller_dtype = next((v.dtype for v in bound.values()  # dtype of the first float activation
                             if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() > 1), None)
        return cast_inputs(bound, self.dtype), caller_dtype

    def __call__(self, *args, **kwargs):
        with sdpa_context(self._sdpa):  # in force while inductor traces (the kernel is chosen then)
            return self._call(*args, **kwargs)

    def calibrate(self, *args, **kwargs) -> int:
        """Static fp8 scales (``OptimizeConfig(fp8_linear=True, fp8_scaling="static")``): run the network eagerly
        on these inputs recording activation ranges; call once per calibration batch (ranges accumulate) before
        the first real call, else the first call's inputs calibrate. Returns the number of layers calibrated."""
        from .fp8 import calibrate_fp8
        inputs, _ = self._prepare(args, kwargs)
        with sdpa_context(self._sdpa), uncompiled(self.module), torch.no_grad():
            n = calibrate_fp8(self.module, lambda: self.module(**inputs))
        self._needs_calibration = False
        return n

    def _call(self, *args, **kwargs):
        if self._needs_calibration:
            log.warning("static fp8 scales not calibrated: calibrating on the first call's inputs")
            self.calibrate(*args, **kwargs)
        inputs, caller_dtype = self._prepare(args, kwargs)
        out = None
        if self.cuda_graphs:
            key = bucket_key(inputs)
            g = self._graphs.get(key)
            if g is None and (self.capture_unseen or self._in_buckets(inputs)):
                log.info("capturing CUDA graph for bucket %s", key)
                g = self._graphs[key] = CudaGraphRunner(self.fn, inputs, pool=self._pool)
            if g is not None:
                out = g(inputs)
                if self.clone_outputs:
                    out = _map_out(out, torch.Tensor.clone)
        if out is None:
            with torch.no_grad():
                out = self.fn(**inputs)
        if caller_dtype is not None and caller_dtype != self.dtype:
            out = _map_out(out, lambda t: t.to(caller_dtype) if t.is_floating_point() else t)
        return out

    def _in_buckets(self, inputs) -> bool:
        for b in self.buckets:
            if all(isinstance(inputs.get(k), torch.Tensor) and tuple(inputs[k].shape) == tuple(s)
                   for k, s in b.items()):
                return True
        return False
