"""Pick the compiled backend for a network by configuration, with an eager fallback that warns.

``settings.backend`` (env ``ARTICULATE_BACKEND``) is one of:

* ``eager``          the torch module itself (cast to the working precision)
* ``torch_compile``  :class:`~trt_engines.compiled.CompiledModule`: inductor + CUDA graphs per bucket
* ``onnxruntime``    ONNX export (cached) run by :class:`~trt_engines.ort.OrtModule`
* ``tensorrt``       ONNX export -> TensorRT engine (both cached) run by
                     :class:`~trt_engines.tensorrt_backend.TrtModule`

Pipelines call :func:`select_backend`; when the configured backend cannot run here (tensorrt not installed, no
CUDA device, a compile error at the first call) they get the eager module and a :class:`BackendFallbackWarning`
that says why. A misspelt backend or precision is a configuration error and raises.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch

from sdk.errors import ArticulateError, InvalidInputError, MissingDependencyError

from .cache import EngineCache, EngineKey, gpu_sm, weights_hash
from .compiled import CompiledModule
from .optimize import OptimizeConfig
from .onnx_export import DEFAULT_OPSET, ONNX_FILE, ShapeProfile, export_onnx

log = logging.getLogger(__name__)

BACKENDS = ("eager", "torch_compile", "onnxruntime", "tensorrt")
PRECISIONS = ("fp32", "fp16", "bf16", "fp8")


class BackendUnavailableError(ArticulateError, RuntimeError):
    """The configured backend cannot run in this environment (reason in the message)."""


class BackendFallbackWarning(UserWarning):
    """A compiled backend was configured but eager is used; the message says why."""


def default_precision(device: torch.device) -> str:
    return "fp16" if device.type == "cuda" else "fp32"


def _module_device(module: torch.nn.Module) -> torch.device:
    p = next(iter(module.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _check(backend: str, precision: str) -> None:
    if backend not in BACKENDS:
        raise InvalidInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}",
                                field="backend")
    if precision not in PRECISIONS:
        raise InvalidInputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}",
                                field="precision")
    if precision == "fp8" and backend != "tensorrt":
        raise InvalidInputError("fp8 is only offered by the tensorrt backend", field="precision")


def onnx_entry(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor], *, model: str, precision: str,
               profile: ShapeProfile | None, cache: EngineCache, whash: str | None = None) -> Path:
    """Cached ONNX export; returns the path of ``model.onnx`` in its cache entry."""
    import onnx
    profile = profile or ShapeProfile.from_inputs(inputs)
    key = EngineKey(model=model, weights_hash=whash or weights_hash(module), precision=precision,
                    bucket=profile.bucket_id(), backend="onnx",
                    backend_version=f"onnx{onnx.__version__}-opset{DEFAULT_OPSET}-torch{torch.__version__}",
                    sm="any")

    def build(tmp: Path):
        export_onnx(module, inputs, tmp, profile=profile, precision=precision)

    return cache.get_or_build(key, build, extra={"inputs": {k: list(v.shape) for k, v in inputs.items()}}) \
        / ONNX_FILE


def compile_module(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor], *, model: str,
                   backend: str, precision: str | None = None, profiles: Sequence[ShapeProfile] = (),
                   cache: EngineCache | None = None, warmup: bool = False,
                   stage: Callable[[str], None] | None = None, regional: Sequence[type] = (),
                   optimize: OptimizeConfig | None = None):
    """Build (or load from cache) ``module`` for ``backend``; returns a callable with the module's signature.

    inputs:   example inputs by forward parameter name (define the default static bucket)
    profiles: shape profiles (static buckets and/or one dynamic range); default: the inputs' shapes
    warmup:   run once after building (compiles inductor kernels, captures the CUDA graph)
    stage:    progress callback, called with a short description of each step
    regional: torch_compile only: compile these repeated block types instead of the whole forward
    optimize: torch_compile only: :class:`~trt_engines.optimize.OptimizeConfig` rewrites (channels-last, fused
              q/k/v, SDPA kernel order, fp8 linears; static fp8 scales calibrate on the first call's inputs
              unless the caller runs ``.calibrate(...)`` on the returned module first)
    Raises :class:`BackendUnavailableError` / :class:`MissingDependencyError` when the backend cannot run here.
    """
    device = _module_device(module)
    precision = precision or default_precision(device)
    _check(backend, precision)
    cache = cache or EngineCache()
    stage = stage or (lambda msg: log.info("%s", msg))
    profiles = list(profiles) or [ShapeProfile.from_inputs(inputs)]

    if backend == "eager":
        return CompiledModule(module, precision=precision, compile=False, cuda_graphs=False)

    if backend == "torch_compile":
        # inductor's kernel cache next to our engines, so a second process reuses the compiled kernels
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache.root / "inductor"))
        buckets = [{k: v[1] for k, v in p.shapes.items()} for p in profiles if p.is_static]
        stage(f"torch.compile ({precision}, CUDA graphs: {device.type == 'cuda'})")
        cm = CompiledModule(module, precision=precision, buckets=buckets, regional=regional or None,
                            optimize=optimize)
        if warmup:
            stage("compiling and capturing")
            cm(**inputs)
        return cm

    if backend == "onnxruntime":
        from .ort import OrtModule
        if precision not in ("fp32", "fp16"):
            raise InvalidInputError(f"onnxruntime backend runs fp32 or fp16 graphs, not {precision}",
                                    field="precision")
        stage(f"ONNX export ({precision})")
        path = onnx_entry(module, inputs, model=model, precision=precision,
                          profile=profiles[0] if len(profiles) == 1 else _union(profiles), cache=cache)
        stage("ONNX Runtime session")
        return OrtModule(path)

    # tensorrt
    from . import tensorrt_backend as trtb
    ok, why = trtb.tensorrt_available()
    if not ok:
        if "not importable" in why:
            raise MissingDependencyError("tensorrt", "the TensorRT backend", trtb.INSTALL_HINT)
        raise BackendUnavailableError(why)
    whash = weights_hash(module)
    stage("ONNX export (fp32 graph; TensorRT lowers precision with builder flags)")
    onnx_profile = profiles[0] if len(profiles) == 1 else _union(profiles)
    onnx_path = onnx_entry(module, inputs, model=model, precision="fp32", profile=onnx_profile, cache=cache,
                           whash=whash)
    bucket = "+".join(p.bucket_id() for p in profiles)
    key = EngineKey(model=model, weights_hash=whash, precision=precision, bucket=bucket, backend="tensorrt",
                    backend_version=trtb.tensorrt_version(), sm=gpu_sm(device))
    cfg = trtb.TrtBuildConfig(precision=precision, profiles=profiles, refittable=True,
                              timing_cache=cache.root / "tensorrt" / f"timing-{gpu_sm(device)}.cache")
    stage(f"TensorRT engine build ({precision}, {len(profiles)} profile(s))")
    d = cache.get_or_build(key, lambda tmp: trtb.build_engine(onnx_path, tmp / trtb.ENGINE_FILE, cfg))
    return trtb.TrtModule(d / trtb.ENGINE_FILE, cuda_graphs=True, device=str(device))


def _union(profiles: Sequence[ShapeProfile]) -> ShapeProfile:
    """One dynamic profile covering several (for the single ONNX graph behind several engine profiles)."""
    names = profiles[0].shapes.keys()
    shapes = {}
    for n in names:
        los = [p.shapes[n][0] for p in profiles]
        his = [p.shapes[n][2] for p in profiles]
        lo = tuple(min(s[i] for s in los) for i in range(len(los[0])))
        hi = tuple(max(s[i] for s in his) for i in range(len(his[0])))
        shapes[n] = (lo, profiles[0].shapes[n][1], hi)
    return ShapeProfile(shapes)


class _EagerOnError:
    """Runs the compiled callable; on its first failure warns once and continues eagerly for good."""

    def __init__(self, compiled, make_eager: Callable[[], Callable], backend: str):
        self.compiled, self.make_eager, self.backend = compiled, make_eager, backend
        self.eager = None
        self.failed: str | None = None

    def __call__(self, *args, **kwargs):
        if self.failed is None:
            try:
                return self.compiled(*args, **kwargs)
            except (InvalidInputError, TypeError):
                raise  # the caller's mistake, not the backend's
            except Exception as e:  # noqa: BLE001 - any backend failure falls back, loudly
                self.failed = f"{type(e).__name__}: {e}"
                warnings.warn(f"backend {self.backend!r} failed at run time ({self.failed}); "
                              "falling back to eager", BackendFallbackWarning, stacklevel=2)
                self.eager = self.make_eager()
        return self.eager(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.compiled, name)


def select_backend(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor], *, model: str,
                   backend: str | None = None, precision: str | None = None,
                   profiles: Sequence[ShapeProfile] = (), cache: EngineCache | None = None, warmup: bool = False,
                   regional: Sequence[type] = (), optimize: OptimizeConfig | None = None):
    """The network as configured (``backend`` default ``settings.backend``), or eager with a warning.

    Returns a callable with the module's call signature. ``model`` names the network in cache keys.
    """
    from sdk.config import settings
    backend = backend or settings.backend
    device = _module_device(module)
    precision = precision or default_precision(device)
    _check(backend, precision)
    eager_precision = precision if precision in ("fp32", "fp16", "bf16") else "fp16"
    if backend == "eager":
        return compile_module(module, inputs, model=model, backend="eager", precision=eager_precision)
    try:
        compiled = compile_module(module, inputs, model=model, backend=backend, precision=precision,
                                  profiles=profiles, cache=cache, warmup=warmup, regional=regional,
                                  optimize=optimize)
    except (MissingDependencyError, BackendUnavailableError, ImportError) as e:
        warnings.warn(f"backend {backend!r} unavailable ({e}); falling back to eager", BackendFallbackWarning,
                      stacklevel=2)
        return compile_module(module, inputs, model=model, backend="eager", precision=eager_precision)
    def make_eager():
        if backend == "torch_compile":  # undo regional compilation done in place on the blocks
            for sub in module.modules():
                if getattr(sub, "_compiled_call_impl", None) is not None:
                    sub._compiled_call_impl = None
        return compile_module(module, inputs, model=model, backend="eager", precision=eager_precision)

    return _EagerOnError(compiled, make_eager, backend)


class LazyBackend:
    """What a pipeline holds instead of the network: builds the configured backend at the first call.

    ``net = LazyBackend(model.unet, model="sp4d-small")`` is called exactly like ``model.unet``. The backend
    (``backend`` or, read at call time, ``settings.backend``) is built from the first call's inputs — per input
    shape bucket for the ONNX Runtime / TensorRT engines, once for ``torch_compile`` (which captures a CUDA graph
    per bucket itself) — through the engine cache, with the eager fallback and warning of
    :func:`select_backend`. With ``eager`` and no ``precision`` the module runs untouched.
    """

    def __init__(self, module: torch.nn.Module, *, model: str, backend: str | None = None,
                 precision: str | None = None, cache: EngineCache | None = None, regional: Sequence[type] = ()):
        from .onnx_export import forward_arg_names
        self.module, self.model, self.backend, self.precision = module, model, backend, precision
        self.cache, self.regional = cache, tuple(regional)
        self.names = forward_arg_names(module)
        self._built: dict = {}

    def __call__(self, *args, **kwargs):
        from sdk.config import settings

        from .compiled import bucket_key
        from .onnx_export import bind_inputs
        backend = self.backend or settings.backend
        if backend == "eager" and self.precision is None:
            return self.module(*args, **kwargs)
        bound = bind_inputs(self.names, args, kwargs)
        key = backend if backend in ("eager", "torch_compile") else (backend, bucket_key(bound))
        fn = self._built.get(key)
        if fn is None:
            fn = self._built[key] = select_backend(self.module, bound, model=self.model, backend=backend,
                                                   precision=self.precision, cache=self.cache,
                                                   regional=self.regional)
        return fn(**bound)

    @property
    def num_built(self) -> int:
        return len(self._built)
