"""FP8 (e4m3) linear layers for Hopper.

``Fp8Linear`` replaces an ``nn.Linear`` at inference time (same call, same output shape and dtype):

    y = (q(x) @ q(W).T) * s_x * s_w + b        q(v) = round_e4m3(v / s), saturated at +-448

with two scalings (see :class:`Fp8Linear`): ``dynamic`` (s_x = amax of each row, every call; s_w per output
channel) and ``static`` (one calibrated s_x per layer, one s_w per layer: the quantization is a pointwise cast).
On CUDA with compute capability >= 8.9 the product is one ``torch._scaled_mm`` (fp32 accumulation in the tensor
cores) and the activation quantization is plain tensor code, which inductor fuses into the producer of ``x``
(LayerNorm, GEGLU) when the block is compiled. Everywhere else —
CPU, older GPUs, or a call with fewer than ``min_rows`` rows (the context projections: a handful of tokens,
launch-bound) — ``_reference`` computes the same quantized function in the activation dtype (dequantized weight
and activation, ordinary matmul): it is the emulation the CPU tests compare against the eager network.

The weight layout of the *source* module is not changed: :func:`quantize_linears_` swaps modules of a network
that a backend owns (``CompiledModule(optimize=...)``); the checkpoint and the eager network keep fp16/fp32.
"""
from __future__ import annotations

import logging
from typing import Callable

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

E4M3 = torch.float8_e4m3fn
E4M3_MAX = 448.0  # largest finite float8_e4m3fn


def fp8_supported(device: torch.device | str) -> bool:
    """True where ``torch._scaled_mm`` runs e4m3 tensor-core GEMMs (CUDA, SM >= 8.9)."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return torch.cuda.get_device_capability(device) >= (8, 9)


def quantize_rowwise(x: Tensor) -> tuple[Tensor, Tensor]:
    """x: [M, K] float -> (q [M, K] float8_e4m3fn, scale [M, 1] float32) with x ~= q * scale."""
    amax = x.abs().amax(dim=-1, keepdim=True).float()
    scale = amax.clamp_min(1e-12) / E4M3_MAX
    q = (x.float() / scale).clamp(-E4M3_MAX, E4M3_MAX).to(E4M3)  # e4m3fn has no inf: clamp, never NaN
    return q, scale


def quantize_tensorwise(x: Tensor, scale: Tensor) -> Tensor:
    """x: any float, scale: [] float32 -> float8_e4m3fn of x / scale, saturated at +-448 (pure pointwise)."""
    return (x.float() / scale).clamp(-E4M3_MAX, E4M3_MAX).to(E4M3)


SCALINGS = ("static", "dynamic")


class Fp8Linear(nn.Module):
    """Inference-only e4m3 replacement for ``nn.Linear`` (see the module docstring).

    scaling "dynamic": weight scale per output channel [N], activation scale per row computed every call
        (``_scaled_mm`` row-wise, bf16 out); the amax is a row reduction in front of every GEMM.
    scaling "static":  one weight scale [] and one activation scale [] fixed by :meth:`calibrate` runs (the
        activation amax over the calibration calls times ``calib_margin``; values beyond saturate at 448); the
        quantization is then a pointwise cast that fuses into the producer, and the GEMM is ``_scaled_mm``
        tensor-wise with the bias in its epilogue and the activation dtype out.

    weight_fp8: [N, K] float8_e4m3fn (row-major, so ``.t()`` is the column-major B that ``_scaled_mm`` wants)
    """

    def __init__(self, weight_fp8: Tensor, weight_scale: Tensor, bias: Tensor | None, *, scaling: str = "dynamic",
                 min_rows: int = 1024, calib_margin: float = 2.0, use_scaled_mm: bool | None = None):
        super().__init__()
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
        self.out_features, self.in_features = weight_fp8.shape
        self.scaling = scaling
        self.register_buffer("weight_fp8", weight_fp8)
        self.register_buffer("weight_scale", weight_scale.float().reshape(-1 if scaling == "dynamic" else ()))
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.register_buffer("input_amax", torch.zeros((), device=weight_fp8.device))     # static: calibrated
        self.register_buffer("input_scale", torch.ones((), device=weight_fp8.device))
        self.calibrating = False
        self.calibrated = scaling == "dynamic"  # a Python flag (not the amax tensor): compiled code guards on it
        self.calib_margin = calib_margin  # ours: headroom over the calibration amax before saturating
        self.min_rows = min_rows  # below this many rows: the dequantized reference (not worth a quantize pass)
        # default: where the weights live supports e4m3 GEMMs; True forces torch._scaled_mm (CPU tests)
        self.use_scaled_mm = fp8_supported(weight_fp8.device) if use_scaled_mm is None else use_scaled_mm

    @classmethod
    @torch.no_grad()
    def from_linear(cls, lin: nn.Linear, *, scaling: str = "dynamic", **kw) -> "Fp8Linear":
        w = lin.weight.detach()
        if scaling == "dynamic":
            wq, ws = quantize_rowwise(w)
        else:
            ws = w.abs().amax().float().clamp_min(1e-12) / E4M3_MAX
            wq = quantize_tensorwise(w, ws)
        return cls(wq, ws, lin.bias, scaling=scaling, **kw)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"scaling={self.scaling}, scaled_mm={self.use_scaled_mm}")

    def dequantized_weight(self, dtype: torch.dtype) -> Tensor:
        """[N, K] in ``dtype``: q(W) * s_w"""
        s = self.weight_scale[:, None] if self.scaling == "dynamic" else self.weight_scale
        return (self.weight_fp8.float() * s).to(dtype)

    def _quantize_input(self, x2: Tensor) -> tuple[Tensor, Tensor]:
        if self.scaling == "dynamic":
            return quantize_rowwise(x2)
        return quantize_tensorwise(x2, self.input_scale), self.input_scale

    def _reference(self, x2: Tensor, quantize_input: bool = True) -> Tensor:
        """x2: [M, K] -> [M, N]; the quantized function computed with dequantized operands in x2's dtype."""
        if quantize_input:
            q, s = self._quantize_input(x2)
            x2 = (q.float() * s).to(x2.dtype)
        y = x2 @ self.dequantized_weight(x2.dtype).t()
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def _torch_impl(self, x2: Tensor) -> Tensor:
        """x2: [M, K] fp16/bf16 (CUDA) -> [M, N] in x2's dtype through one scaled e4m3 GEMM."""
        q, s = self._quantize_input(x2)
        if self.scaling == "dynamic":
            y = torch._scaled_mm(q, self.weight_fp8.t(), scale_a=s, scale_b=self.weight_scale[None, :],
                                 out_dtype=torch.bfloat16)
            if self.bias is not None:
                y = y + self.bias.to(y.dtype)
            return y.to(x2.dtype)
        out = x2.dtype if x2.dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
        bias = None if self.bias is None else self.bias.to(out)
        return torch._scaled_mm(q, self.weight_fp8.t(), scale_a=s, scale_b=self.weight_scale, bias=bias,
                                out_dtype=out).to(x2.dtype)

    @torch.no_grad()
    def _observe(self, x2: Tensor) -> None:
        self.input_amax.copy_(torch.maximum(self.input_amax, x2.abs().amax().float()))
        self.input_scale.copy_((self.input_amax * self.calib_margin).clamp_min(1e-12) / E4M3_MAX)

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        big = x2.shape[0] >= self.min_rows
        if self.scaling == "static" and big and (self.calibrating or not self.calibrated):
            if not self.calibrating:
                raise RuntimeError("static fp8 scales are not calibrated: run calibrate_fp8(module, fn) first")
            self._observe(x2)
            y = x2 @ self.dequantized_weight(x2.dtype).t()   # calibration pass: weight-quantized, input exact
            y = y if self.bias is None else y + self.bias.to(y.dtype)
        elif self.use_scaled_mm and big:
            y = self._torch_impl(x2)
        else:
            y = self._reference(x2, quantize_input=big)
        return y.reshape(*lead, self.out_features)


@torch.no_grad()
def calibrate_fp8(module: nn.Module, fn: Callable[[], object]) -> int:
    """Run ``fn()`` (forwards of ``module`` on calibration inputs) recording each static :class:`Fp8Linear`'s
    input amax; may be called repeatedly (the amax accumulates). Returns the number of layers calibrated."""
    layers = [m for m in module.modules() if isinstance(m, Fp8Linear) and m.scaling == "static"]
    for m in layers:
        m.calibrating = True
    try:
        fn()
    finally:
        for m in layers:
            m.calibrating = False
    unseen = [m for m in layers if not bool(m.input_amax > 0)]
    if unseen:  # only small calls reached them (reference path); a later large call would use scale 1
        log.warning("%d static fp8 layers saw no call of >= min_rows rows during calibration; they keep "
                    "input scale 1.0", len(unseen))
    for m in layers:
        m.calibrated = True
    return len(layers)


def needs_calibration(module: nn.Module) -> bool:
    return any(isinstance(m, Fp8Linear) and not m.calibrated for m in module.modules())


def eligible_linear(lin: nn.Module, min_features: int = 256) -> bool:
    """A linear layer worth an e4m3 GEMM: both sides >= ``min_features`` and multiples of 16 (``_scaled_mm``)."""
    return (isinstance(lin, nn.Linear) and lin.in_features >= min_features and lin.out_features >= min_features
            and lin.in_features % 16 == 0 and lin.out_features % 16 == 0)


def quantize_linears_(module: nn.Module, *, within: tuple[type, ...] = (), min_features: int = 256,
                      skip: Callable[[str], bool] | None = None, **kw) -> list[str]:
    """Swap eligible ``nn.Linear`` submodules of ``module`` for :class:`Fp8Linear` in place.

    within: only linears inside submodules of these types (default: anywhere in ``module``)
    skip:   predicate on the qualified name (e.g. small embedding MLPs); returns the swapped names
    """
    roots = [(n, m) for n, m in module.named_modules() if isinstance(m, within)] if within else [("", module)]
    swapped: list[str] = []
    seen: set[int] = set()
    for root_name, root in roots:
        for name, sub in list(root.named_modules()):
            for child_name, child in list(sub.named_children()):
                full = ".".join(p for p in (root_name, name, child_name) if p)
                if id(child) in seen or not eligible_linear(child, min_features) or (skip and skip(full)):
                    continue
                seen.add(id(child))
                setattr(sub, child_name, Fp8Linear.from_linear(child, **kw))
                swapped.append(full)
    return swapped


__all__ = ["Fp8Linear", "quantize_rowwise", "quantize_tensorwise", "quantize_linears_", "calibrate_fp8",
           "needs_calibration", "fp8_supported", "eligible_linear", "E4M3_MAX", "SCALINGS"]
