"""Rectified flow (Step1X-3D convention, inherited by ShapeGen4D): x_t = (1 - sigma) x0 + sigma eps, target
v = eps - x0, unweighted MSE, logit-normal sigma density; shared noise across frames (§3.2); Euler sampler on the
diffusers ``FlowMatchEulerDiscreteScheduler`` sigma grid with the SD3 time shift sigma' = s sigma / (1 + (s - 1) sigma)
(§5.2, applied at inference only). Hunyuan3D-2's scheduler is reversed (t = 0 noise, t = 1 data): see ``to_hunyuan``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def sigma_grid(steps: int, shift: float = 1.0, num_train_timesteps: int = 1000) -> np.ndarray:
    """The sigmas of ``FlowMatchEulerDiscreteScheduler(num_train_timesteps, shift).set_timesteps(steps)`` ([steps + 1],
    ending with 0): timesteps linspace(N, N sigma_min, steps) with sigma_min the shifted 1/N of the training grid, then
    the shift applied to timesteps / N."""
    N = num_train_timesteps
    s_min = shift * (1.0 / N) / (1 + (shift - 1) * (1.0 / N))
    ts = np.linspace(1.0 * N, s_min * N, steps, dtype=np.float64)
    s = ts / N
    s = shift * s / (1 + (shift - 1) * s)
    return np.r_[s, 0.0].astype(np.float32)


def noise_like(x0: Tensor, shared: bool, generator: torch.Generator | None = None) -> Tensor:
    """eps [B, T, L, C]; with ``shared`` one draw per sequence replicated to all T frames (§3.2)."""
    B, T = x0.shape[:2]
    if shared:
        e = torch.randn((B, 1) + tuple(x0.shape[2:]), generator=generator, dtype=x0.dtype, device=x0.device)
        return e.expand_as(x0).contiguous()
    return torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)


def rf_loss(model, x0: Tensor, cond: Tensor, *, shared_noise: bool = True, generator=None, logit_mean: float = 0.0,
            logit_std: float = 1.0, num_train_timesteps: int = 1000) -> Tensor:
    """x0 [B, T, L, C]; one sigma per sequence (logit-normal), model timestep = 1000 sigma."""
    B = x0.shape[0]
    u = torch.sigmoid(logit_mean + logit_std * torch.randn(B, generator=generator, device=x0.device))
    sig = u.to(x0.dtype).view(B, *([1] * (x0.ndim - 1)))
    eps = noise_like(x0, shared_noise, generator)
    xt = (1 - sig) * x0 + sig * eps
    v = model(xt, u * num_train_timesteps, cond)
    return ((v - (eps - x0)) ** 2).mean()


@torch.no_grad()
def rf_sample(model, shape, cond: Tensor, *, steps: int = 30, shift: float = 1.0, shared_noise: bool = True,
              cfg_scale: float = 1.0, uncond: Tensor | None = None, generator=None, num_train_timesteps: int = 1000,
              noise: Tensor | None = None) -> Tensor:
    """Euler integration from sigma = 1 (noise) to 0 on :func:`sigma_grid`; shape (B, T, L, C)."""
    x = noise if noise is not None else noise_like(torch.zeros(shape, device=cond.device), shared_noise, generator)
    sig = sigma_grid(steps, shift, num_train_timesteps)
    B = shape[0]
    for i in range(steps):
        t = torch.full((B,), float(sig[i]) * num_train_timesteps, device=x.device)
        v = model(x, t, cond)
        if cfg_scale != 1.0 and uncond is not None:
            v = model(x, t, uncond) + cfg_scale * (v - model(x, t, uncond))
        x = x + float(sig[i + 1] - sig[i]) * v
    return x


def to_hunyuan(sigma: Tensor, v: Tensor):
    """Map our (sigma, v) onto Hunyuan3D-2's reversed convention: t_h = 1 - sigma, and its velocity points from
    noise to data, v_h = -v (x_{t_h + dt} = x + dt v_h)."""
    return 1.0 - sigma, -v
