"""TensorRT engines from ONNX, and a runtime wrapper with the torch module's call signature.

UNVERIFIED HERE: ``tensorrt`` cannot be installed in this project's build environment (its PyPI package
downloads the real wheels from NVIDIA's own index), so this module has never been imported against a real
TensorRT in our CI; its tests run when ``tensorrt`` is importable and skip, saying so, otherwise. It is written
against the TensorRT 10 Python API (``build_serialized_network``, named I/O tensors, ``execute_async_v3``).

What it does:

* :func:`build_engine` parses an ONNX file (external data included) and builds a serialized engine:
  - precision ``fp16`` / ``bf16`` set as builder flags on the fp32 graph (TensorRT picks per layer);
    ``fp8`` additionally needs SM >= 89 and a graph carrying Q/DQ (QuantizeLinear/DequantizeLinear) nodes, e.g.
    from NVIDIA ModelOpt — we do not quantize ourselves and refuse fp8 on an unquantized graph;
  - one optimization profile per :class:`~trt_engines.onnx_export.ShapeProfile` (static buckets, or a
    dynamic range as fallback);
  - a timing cache file shared across builds (loaded before, written back after);
  - ``refittable=True`` sets ``BuilderFlag.REFIT`` so weights can be swapped without a rebuild.
* :class:`TrtModule` loads an engine, binds torch tensors by name (``forward`` parameter names, as exported),
  runs on the current torch CUDA stream and, for static buckets, captures the enqueue in a CUDA graph.
  :meth:`TrtModule.refit_from_onnx` swaps weights from an ONNX file of the same architecture.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from sdk.errors import InvalidInputError, MissingDependencyError

from .onnx_export import ShapeProfile, bind_inputs

log = logging.getLogger(__name__)

INSTALL_HINT = ("pip install tensorrt --extra-index-url https://pypi.nvidia.com "
                "(NVIDIA's index; not installable in this project's build environment)")
ENGINE_FILE = "model.plan"


def import_tensorrt():
    """``tensorrt`` or a :class:`MissingDependencyError` that says how to get it."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise MissingDependencyError("tensorrt", "the TensorRT backend", INSTALL_HINT) from e
    return trt


def tensorrt_available() -> tuple[bool, str]:
    """(available, reason) — reason explains why not (for skips and fallback warnings)."""
    try:
        import tensorrt as trt  # noqa: F401
    except ImportError as e:
        return False, f"tensorrt not importable ({e}); {INSTALL_HINT}"
    if not torch.cuda.is_available():
        return False, "tensorrt is importable but no CUDA device is visible"
    return True, f"tensorrt {trt.__version__}"


def tensorrt_version() -> str:
    try:
        import tensorrt as trt
        return f"tensorrt-{trt.__version__}"
    except ImportError:
        return "tensorrt-absent"


@dataclass
class TrtBuildConfig:
    """How to build one engine.

    precision:      fp32 | fp16 | bf16 | fp8 (fp8 also enables fp16 for the layers left unquantized)
    profiles:       optimization profiles; each static profile is one bucket
    workspace_gib:  builder workspace limit
    timing_cache:   file to load/store the tactic timing cache (None: no cache)
    refittable:     build with REFIT so weights can be swapped later
    opt_level:      builder optimization level 0..5 (3 is TensorRT's default)
    """

    precision: str = "fp16"
    profiles: Sequence[ShapeProfile] = field(default_factory=list)
    workspace_gib: float = 8.0
    timing_cache: Path | None = None
    refittable: bool = False
    opt_level: int = 3


def _onnx_has_qdq(onnx_path: Path) -> bool:
    import onnx
    m = onnx.load(str(onnx_path), load_external_data=False)
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in m.graph.node)


def build_engine(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, cfg: TrtBuildConfig) -> Path:
    """Build a serialized TensorRT engine from ``onnx_path`` into ``engine_path``; returns ``engine_path``."""
    trt = import_tensorrt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if cfg.precision not in ("fp32", "fp16", "bf16", "fp8"):
        raise InvalidInputError(f"TensorRT precision must be fp32/fp16/bf16/fp8, got {cfg.precision!r}",
                                field="precision")
    if cfg.precision == "fp8":
        major, minor = torch.cuda.get_device_capability()
        if (major, minor) < (8, 9):
            raise InvalidInputError(f"fp8 engines need SM >= 89 (Ada/Hopper); this GPU is sm{major}{minor}",
                                    field="precision")
        if not _onnx_has_qdq(onnx_path):
            raise InvalidInputError("fp8 needs an ONNX graph with Q/DQ nodes (quantize it first, e.g. with NVIDIA "
                                    "ModelOpt); this graph has none", field="precision")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise InvalidInputError(f"TensorRT could not parse {onnx_path}: {errs}", field="onnx")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(cfg.workspace_gib * (1 << 30)))
    config.builder_optimization_level = cfg.opt_level
    if cfg.precision in ("fp16", "fp8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if cfg.precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    if cfg.precision == "fp8":
        config.set_flag(trt.BuilderFlag.FP8)
    if cfg.refittable:
        config.set_flag(trt.BuilderFlag.REFIT)
    inputs = {network.get_input(i).name: tuple(network.get_input(i).shape) for i in range(network.num_inputs)}
    dynamic = {n for n, shape in inputs.items() if any(d < 0 for d in shape)}
    for prof in cfg.profiles if dynamic else ():  # a fully static graph needs (and takes) no profile
        p = builder.create_optimization_profile()
        for name, (lo, opt, hi) in prof.shapes.items():
            if name not in inputs:
                raise InvalidInputError(f"profile input '{name}' is not a network input {sorted(inputs)}",
                                        field="profiles")
            if name in dynamic:
                p.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(p)
    cache_bytes = b""
    if cfg.timing_cache is not None and Path(cfg.timing_cache).is_file():
        cache_bytes = Path(cfg.timing_cache).read_bytes()
    timing_cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(timing_cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    from sdk.util.atomic import atomic_write_bytes
    atomic_write_bytes(engine_path, bytes(plan))
    if cfg.timing_cache is not None:
        atomic_write_bytes(cfg.timing_cache, bytes(config.get_timing_cache().serialize()))
    return engine_path


def _torch_dtype(trt, dt):
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
             trt.int64: torch.int64, trt.bool: torch.bool, trt.bfloat16: torch.bfloat16}
    return table[dt]


class TrtModule:
    """A TensorRT engine called like the torch module it came from.

    engine_path: serialized engine (from :func:`build_engine`)
    cuda_graphs: capture ``execute_async_v3`` in a CUDA graph per static bucket (a profile with min == max);
                 inputs that only fit a dynamic profile run without a graph
    """

    def __init__(self, engine_path: str | os.PathLike, *, cuda_graphs: bool = True, device: str = "cuda"):
        trt = self.trt = import_tensorrt()
        self.device = torch.device(device)
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self.engine is None:
            raise InvalidInputError(f"could not deserialize TensorRT engine {engine_path}", field="engine")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        # (min, max) shape per input per optimization profile: static buckets first, a dynamic range as fallback
        self.profiles = [{n: self._profile_range(n, i) for n in self.input_names}
                         for i in range(self.engine.num_optimization_profiles)]
        self._profile = 0
        self.cuda_graphs = cuda_graphs
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, dict, list]] = {}

    def _profile_range(self, name: str, index: int) -> tuple[tuple, tuple]:
        """(min, max) shape of an input in a profile; a static input's own shape for both."""
        static = tuple(self.engine.get_tensor_shape(name))
        if all(d >= 0 for d in static):
            return static, static
        lo, _, hi = self.engine.get_tensor_profile_shape(name, index)
        return tuple(lo), tuple(hi)

    def _select_profile(self, feeds: dict[str, torch.Tensor]) -> bool:
        """Activate the first profile that contains the input shapes; returns whether it is static."""
        for i, prof in enumerate(self.profiles):
            if all(len(lo) == feeds[n].dim() and all(a <= x <= b for a, x, b in zip(lo, feeds[n].shape, hi))
                   for n, (lo, hi) in prof.items()):
                if i != self._profile:
                    stream = torch.cuda.current_stream(self.device)
                    self.context.set_optimization_profile_async(i, stream.cuda_stream)
                    self._profile = i
                return all(lo == hi for lo, hi in prof.values())
        shapes = {n: tuple(t.shape) for n, t in feeds.items()}
        raise InvalidInputError(f"input shapes {shapes} are outside every optimization profile of this engine "
                                f"{self.profiles}", field="inputs")

    def _enqueue(self, feeds: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        for n in self.input_names:
            self.context.set_input_shape(n, tuple(feeds[n].shape))
            self.context.set_tensor_address(n, feeds[n].data_ptr())
        outs = []
        for n in self.output_names:
            shape = tuple(self.context.get_tensor_shape(n))
            o = torch.empty(shape, dtype=self.dtypes[n], device=self.device)
            self.context.set_tensor_address(n, o.data_ptr())
            outs.append(o)
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        return outs

    def __call__(self, *args, **kwargs):
        bound = bind_inputs(self.input_names, args, kwargs)
        missing = [n for n in self.input_names if n not in bound]
        if missing:
            raise InvalidInputError(f"engine takes {self.input_names}; missing {missing}", field="inputs")
        caller = next((v.dtype for v in bound.values() if v.is_floating_point()), torch.float32)
        feeds = {n: bound[n].to(self.device, self.dtypes[n]).contiguous() for n in self.input_names}
        static = self._select_profile(feeds)
        if self.cuda_graphs and static:  # graphs for static buckets; the dynamic fallback runs directly
            key = (self._profile,) + tuple((n, tuple(feeds[n].shape)) for n in self.input_names)
            if key not in self._graphs:
                static_in = {n: t.clone() for n, t in feeds.items()}
                self._enqueue(static_in)  # first run: lets TensorRT finish lazy initialisation
                torch.cuda.synchronize(self.device)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    static_out = self._enqueue(static_in)
                self._graphs[key] = (g, static_in, static_out)
            g, static_in, static_out = self._graphs[key]
            for n, t in feeds.items():
                static_in[n].copy_(t)
            g.replay()
            outs = [o.clone() for o in static_out]
        else:
            outs = self._enqueue(feeds)
        outs = [o.to(caller) if o.is_floating_point() else o for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def refit_from_onnx(self, onnx_path: str | os.PathLike) -> None:
        """Swap in the weights of another ONNX export of the same network (engine built refittable)."""
        trt = self.trt
        if not self.engine.refittable:
            raise InvalidInputError("engine was not built with refittable=True", field="engine")
        refitter = trt.Refitter(self.engine, self.logger)
        parser_refitter = trt.OnnxParserRefitter(refitter, self.logger)
        if not parser_refitter.refit_from_file(str(onnx_path)):
            raise RuntimeError(f"TensorRT could not read refit weights from {onnx_path}")
        if not refitter.refit_cuda_engine():
            raise RuntimeError("TensorRT refit failed: weights missing or of another shape")
        self._graphs.clear()  # graphs captured before the refit may bake in old weight pointers
