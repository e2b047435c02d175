"""Compiled inference for the diffusion networks: ONNX export, ONNX Runtime, TensorRT, torch.compile + CUDA graphs.

Entry points:

* :func:`trt_engines.select.select_backend` — what pipelines call: the network compiled for
  ``settings.backend``, or eager with a warning when that backend cannot run here;
* :func:`trt_engines.select.compile_module` — build one backend explicitly (``articulate compile``);
* :class:`trt_engines.cache.EngineCache` — hash-verified engine cache under ``settings.engine_cache_dir``;
* :class:`trt_engines.optimize.OptimizeConfig` — inference rewrites for ``torch_compile`` (channels-last, fused
  q/k/v, SDPA kernel order, fp8 linears from :mod:`trt_engines.fp8`).

TensorRT is optional (``pip install tensorrt --extra-index-url https://pypi.nvidia.com``) and imported lazily.
"""
from __future__ import annotations

__all__ = ["select_backend", "compile_module", "LazyBackend", "EngineCache", "EngineKey", "ShapeProfile", "export_onnx",
           "OrtModule", "CompiledModule", "BACKENDS", "OptimizeConfig", "optimize_", "Fp8Linear"]


def __getattr__(name):
    if name in ("select_backend", "compile_module", "LazyBackend", "BACKENDS"):
        from . import select
        return getattr(select, name)
    if name in ("EngineCache", "EngineKey"):
        from . import cache
        return getattr(cache, name)
    if name in ("ShapeProfile", "export_onnx"):
        from . import onnx_export
        return getattr(onnx_export, name)
    if name == "OrtModule":
        from .ort import OrtModule
        return OrtModule
    if name in ("OptimizeConfig", "optimize_"):
        from . import optimize
        return getattr(optimize, name)
    if name == "Fp8Linear":
        from .fp8 import Fp8Linear
        return Fp8Linear
    if name == "CompiledModule":
        from .compiled import CompiledModule
        return CompiledModule
    raise AttributeError(name)
