"""Inference-time rewrites of a network that a backend owns: layouts, fused projections, attention kernel, fp8.

Each rewrite computes the same function (fp8 up to its quantization error) and leaves the *source* checkpoint
layout alone: :class:`~trt_engines.compiled.CompiledModule` applies :func:`optimize_` to the module it owns
(after the precision cast, before compiling), so ``state_dict`` of the eager network and its weights hash are
untouched.

* ``channels_last``  Conv2d weights to ``channels_last`` and Conv3d weights to ``channels_last_3d``: cuDNN's
  Hopper convolutions are NHWC kernels (NCHW costs a transpose around each), and the transformer's
  ``[N, C, h, w] -> [N, h*w, C]`` token view becomes a free reshape.
* ``fuse_qkv``       diffusers ``Attention.fuse_projections``: one [C, 3C] GEMM for self-attention q/k/v and one
  [D, 2C] for the cross-attention k/v (``FusedAttnProcessor2_0``), instead of three / two thin GEMMs.
* ``sdpa_backends``  order in which ``F.scaled_dot_product_attention`` tries its kernels (names of
  ``torch.nn.attention.SDPBackend``: CUDNN_ATTENTION, FLASH_ATTENTION, EFFICIENT_ATTENTION, MATH); ``None`` keeps
  PyTorch's choice. Applied around every call (:func:`sdpa_context`), so it is in force when inductor traces.
* ``fp8_linear``     :func:`trt_engines.fp8.quantize_linears_` on the linear layers inside ``fp8_within`` blocks
  (default: every eligible linear).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from sdk.errors import InvalidInputError

SDPA_BACKENDS = ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH")


@dataclass(frozen=True)
class OptimizeConfig:
    """Which rewrites :func:`optimize_` applies (each independently; all values here are ours, not a paper's)."""

    channels_last: bool = True
    fuse_qkv: bool = True
    sdpa_backends: tuple[str, ...] | None = None   # None: PyTorch's default order
    fp8_linear: bool = False
    fp8_min_features: int = 256                    # smaller linears stay in fp16 (thin GEMMs, no fp8 gain)
    fp8_min_rows: int = 1024                       # calls with fewer rows use the dequantized reference
    fp8_within: tuple[type, ...] = ()              # only linears inside these module types (() = anywhere)
    fp8_skip: tuple[str, ...] = ()                 # ... and not those whose qualified name contains one of these
    fp8_scaling: str = "static"                    # "static" (calibrated per-tensor) or "dynamic" (per row/channel)
    fp8_calib_margin: float = 2.0                  # static: headroom over the calibration amax

    def __post_init__(self):
        if self.sdpa_backends is not None:
            bad = [b for b in self.sdpa_backends if b not in SDPA_BACKENDS]
            if bad or not self.sdpa_backends:
                raise InvalidInputError(f"sdpa_backends must be a non-empty tuple of {SDPA_BACKENDS}, got "
                                        f"{self.sdpa_backends!r}", field="sdpa_backends")
        if self.fp8_scaling not in ("static", "dynamic"):
            raise InvalidInputError(f"fp8_scaling must be static or dynamic, got {self.fp8_scaling!r}",
                                    field="fp8_scaling")


@dataclass(frozen=True)
class OptimizeReport:
    convs_channels_last: int
    fused_attention: int
    fp8_linears: tuple[str, ...]


@torch.no_grad()
def optimize_(module: nn.Module, cfg: OptimizeConfig) -> OptimizeReport:
    """Apply ``cfg``'s rewrites to ``module`` in place (call after the dtype cast); returns what changed."""
    n_conv = 0
    if cfg.channels_last:
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last)
                n_conv += 1
            elif isinstance(m, nn.Conv3d):
                m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last_3d)
                n_conv += 1
    n_attn = 0
    if cfg.fuse_qkv:
        n_attn = fuse_attention_projections_(module)
    fp8: list[str] = []
    if cfg.fp8_linear:
        from .fp8 import quantize_linears_
        skip = (lambda name: any(s in name for s in cfg.fp8_skip)) if cfg.fp8_skip else None
        fp8 = quantize_linears_(module, within=cfg.fp8_within, min_features=cfg.fp8_min_features,
                                min_rows=cfg.fp8_min_rows, skip=skip, scaling=cfg.fp8_scaling,
                                calib_margin=cfg.fp8_calib_margin)
    return OptimizeReport(n_conv, n_attn, tuple(fp8))


def fuse_attention_projections_(module: nn.Module) -> int:
    """Fused q/k/v (self) and k/v (cross) projections on every plain diffusers ``Attention``; returns the count."""
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0, FusedAttnProcessor2_0
    n = 0
    for m in module.modules():
        if not isinstance(m, Attention) or type(m.processor) is not AttnProcessor2_0:
            continue  # only the default processor is known to be equivalent to the fused one
        if getattr(m, "fused_projections", False):
            continue
        m.fuse_projections()
        if not m.is_cross_attention:  # the fused processor never reads these again: free them
            del m.to_q, m.to_k, m.to_v
        else:
            del m.to_k, m.to_v
        m.set_processor(FusedAttnProcessor2_0())
        n += 1
    return n


def sdpa_context(backends: tuple[str, ...] | None):
    """Context manager putting ``backends`` first for ``F.scaled_dot_product_attention`` (no-op for None)."""
    if backends is None:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel([getattr(SDPBackend, b) for b in backends], set_priority=True)


def sdpa_choice(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backends: tuple[str, ...] | None = None) -> str:
    """Name of the kernel ``F.scaled_dot_product_attention(q, k, v)`` would run under ``backends``."""
    from torch.nn.attention import SDPBackend
    with sdpa_context(backends):
        idx = torch._fused_sdp_choice(q, k, v)
    for name, b in SDPBackend.__members__.items():
        if int(b.value) == int(idx):
            return name
    return str(idx)


def best_sdpa_order(timings: dict, backends: tuple[str, ...] = SDPA_BACKENDS[:3]) -> list[str]:
    """The priority order (``OptimizeConfig.sdpa_backends``) with the least summed time over measured calls.

    timings: call name -> {"calls": n per forward, BACKEND: {"ms": t} for a backend that ran the shape, anything
             else (e.g. {"error": ...}) for one that declined it}
    Simulates PyTorch's dispatch: each call runs the first backend in the order that accepts its shape. MATH
    is appended last as the fallback for shapes no measured backend took.
    """
    import itertools
    best, best_t = None, float("inf")
    for order in itertools.permutations(backends):
        t = 0.0
        for row in timings.values():
            first = next((row[b] for b in order if "ms" in row.get(b, {})), None)
            t += float("inf") if first is None else first["ms"] * row["calls"]
        if t < best_t:
            best, best_t = list(order), t
    return (best or list(backends)) + (["MATH"] if "MATH" not in backends else [])


__all__ = ["OptimizeConfig", "best_sdpa_order", "OptimizeReport", "optimize_", "fuse_attention_projections_", "sdpa_context",
           "sdpa_choice", "SDPA_BACKENDS"]
