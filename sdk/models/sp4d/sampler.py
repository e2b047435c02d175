"""EDM parameterization (Karras et al. 2022) and the EDM sampler used for SP4D inference.

``parameterization="edm"``: D = c_skip x + c_out F(c_in x, c_noise) with the EDM scalings
(sigma_data=1). ``"v"`` is sgm's ``VScalingWithEDMcNoise`` used by SV4D 2.0 (same scalings, c_out
negated), so SV4D/SP4D checkpoints plug in unchanged.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def edm_scalings(sigma: Tensor, sigma_data: float = 1.0, parameterization: str = "edm"):
    """sigma: any shape (e.g. [B]) -> (c_skip, c_out, c_in, c_noise), each of that shape"""
    s2 = sigma ** 2 + sigma_data ** 2
    c_skip = sigma_data ** 2 / s2
    c_out = sigma * sigma_data / s2.sqrt()
    if parameterization == "v":
        c_out = -c_out
    elif parameterization != "edm":
        raise ValueError(f"unknown parameterization {parameterization!r}")
    c_in = 1.0 / s2.sqrt()
    c_noise = 0.25 * sigma.clamp_min(1e-20).log()
    return c_skip, c_out, c_in, c_noise


def precondition(net: Callable, x: Tensor, sigma: Tensor, *cond, sigma_data: float = 1.0,
                 parameterization: str = "edm", sigma_x: Tensor | None = None) -> Tensor:
    """Denoised estimate D(x; sigma). x: [B, ...], sigma: [B]; ``net(c_in x, c_noise, *cond)`` returns F.

    sigma_x: optional per-element noise levels, broadcastable to x (e.g. [B, 1, 1, 2*Cl, 1, 1] with the RGB
        half given clean, 0, and the part half at ``sigma``). c_in, c_skip and c_out then follow each element's
        own level (an element at 0 passes through unchanged, c_in = 1); c_noise still comes from ``sigma``.
    """
    shape = (-1,) + (1,) * (x.ndim - 1)
    _, _, _, c_noise = edm_scalings(sigma, sigma_data, parameterization)
    sx = sigma.view(shape) if sigma_x is None else sigma_x
    c_skip, c_out, c_in, _ = edm_scalings(sx, sigma_data, parameterization)
    f = net((c_in * x).to(x.dtype), c_noise.to(x.dtype), *cond)
    return c_skip * x + c_out * f.to(x.dtype)


def karras_sigmas(num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
                  device="cpu") -> Tensor:
    """Noise levels sigma_0 > ... > sigma_{n-1} > 0 (appended). -> [num_steps + 1]"""
    i = torch.arange(num_steps, dtype=torch.float64, device=device)
    s = (sigma_max ** (1 / rho) + i / max(num_steps - 1, 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1, dtype=s.dtype, device=device)]).float()


def sample_edm(denoise: Callable[[Tensor, Tensor], Tensor], noise: Tensor, sigmas: Tensor, heun: bool = True,
               known: Tensor | None = None, known_mask: Tensor | None = None,
               generator: torch.Generator | None = None, progress=None, init: Tensor | None = None,
               known_noise: bool = True) -> Tensor:
    """Deterministic EDM sampler (Euler, or Heun's 2nd order; Karras et al. Alg. 1).

    denoise(x, sigma) -> D: x [B, ...], sigma [B]
    noise: [B, ...] unit Gaussian; sigmas: [S + 1] decreasing to 0
    known, known_mask: optional clean values and a {0,1} mask of the same shape as noise; masked entries
        are replaced by ``known + sigma * eps`` after every step (conditioning on given RGB, inpainting);
        with ``known_noise=False`` by ``known`` itself (the denoiser must then treat them as clean, see
        ``precondition(sigma_x=...)``: the RGB branch sees the clean views at every step)
    init: optional clean starting point (SDEdit): start from ``init + sigmas[0] * noise`` instead of pure noise
    """
    x = noise * sigmas[0] if init is None else init + noise * sigmas[0]
    b = x.shape[0]

    def clamp(x, s):
        if known is None:
            return x
        if not known_noise:
            return known_mask * known + (1 - known_mask) * x
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) if generator is not None \
            else torch.randn_like(x)
        return known_mask * (known + s * eps) + (1 - known_mask) * x

    x = clamp(x, float(sigmas[0]))
    steps = range(len(sigmas) - 1)
    if progress is not None:
        steps = progress(steps)
    for i in steps:
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        d = (x - denoise(x, torch.full((b,), s, device=x.device, dtype=x.dtype))) / s
        x_next = x + (s_next - s) * d
        if heun and s_next > 0:
            d2 = (x_next - denoise(x_next, torch.full((b,), s_next, device=x.device, dtype=x.dtype))) / s_next
            x_next = x + (s_next - s) * 0.5 * (d + d2)
        x = clamp(x_next, s_next)
    return x


def sample_training_sigmas(n: int, p_mean: float = -0.4, p_std: float = 1.2, device="cpu",
                           generator=None) -> Tensor:
    """Log-normal training noise levels (EDM). -> [n]"""
    z = torch.randn(n, device=device, generator=generator)
    return (p_mean + p_std * z).exp()


__all__ = ["edm_scalings", "precondition", "karras_sigmas", "sample_edm", "sample_training_sigmas"]
