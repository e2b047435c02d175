"""Score distillation for a v-prediction video DiT (AKD §3.2, §4.3, App. B).

Forward process (standard symbols; ours where the paper's text lost them):
``z_t = α_t z + σ_t ε`` with ``α_t = √ᾱ_t``, ``σ_t = √(1−ᾱ_t)``; ``v = α_t ε − σ_t z``; the network predicts v̂;
``x̂ = α_t z_t − σ_t v̂``; ``ε̂ = σ_t z_t + α_t v̂``.

App. B: dropping the transformer Jacobian, ``∇_z L = w(t)·σ_t·(v̂ − v)``, which equals the x₀-form ``w(t)·(z − x̂)``;
``ε̂ − ε = α_t (v̂ − v)``, so all forms differ by a t-dependent scalar. Unlike the ε-form, the v/x₀-form does not
vanish at the zero-terminal-SNR end (α = 0 at t = T−1).

The gradient reaches z through ``loss = ½‖z − sg(z − g)‖² / B`` (threestudio), then the VAE encoder, the renderer,
LBS and FK to the joint angles.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch import Tensor

WEIGHTINGS = ("one", "sigma2", "one_minus_alpha_bar")  # w(t); the paper's Eq. 6/7 weighting is lost: ours, default 1


def _bc(x: Tensor, like: Tensor) -> Tensor:
    return x.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)


def alphas_sigmas(alphas_cumprod: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    a = alphas_cumprod.to(t.device)[t.long()]
    return a.sqrt(), (1 - a).clamp_min(0).sqrt()


def add_noise(z: Tensor, eps: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a, s = alphas_sigmas(alphas_cumprod, t)
    return _bc(a, z) * z + _bc(s, z) * eps


def velocity(z: Tensor, eps: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a, s = alphas_sigmas(alphas_cumprod, t)
    return _bc(a, z) * eps - _bc(s, z) * z


def x0_from_v(z_t: Tensor, v_hat: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a, s = alphas_sigmas(alphas_cumprod, t)
    return _bc(a, z_t) * z_t - _bc(s, z_t) * v_hat


def eps_from_v(z_t: Tensor, v_hat: Tensor, t: Tensor, alphas_cumprod: Tensor) -> Tensor:
    a, s = alphas_sigmas(alphas_cumprod, t)
    return _bc(s, z_t) * z_t + _bc(a, z_t) * v_hat


def weight(t: Tensor, alphas_cumprod: Tensor, kind: str = "one") -> Tensor:
    if kind == "one":
        return torch.ones_like(t, dtype=alphas_cumprod.dtype)
    a = alphas_cumprod.to(t.device)[t.long()]
    if kind in ("sigma2", "one_minus_alpha_bar"):  # σ_t² = 1 − ᾱ_t (threestudio's "sds" weighting)
        return 1 - a
    raise ValueError(f"unknown SDS weighting {kind!r}; use one of {WEIGHTINGS}")


def sds_grad_v(z: Tensor, eps: Tensor, v_hat: Tensor, t: Tensor, alphas_cumprod: Tensor,
               weighting: str = "one") -> Tensor:
    """App. B: ∇z = w(t)·σ_t·(v̂ − v)."""
    v = velocity(z, eps, t, alphas_cumprod)
    _, s = alphas_sigmas(alphas_cumprod, t)
    return _bc(weight(t, alphas_cumprod, weighting) * s, z) * (v_hat - v)


def sds_grad_x0(z: Tensor, z_t: Tensor, v_hat: Tensor, t: Tensor, alphas_cumprod: Tensor,
                weighting: str = "one") -> Tensor:
    """The same gradient in x₀-form: w(t)·(z − x̂)."""
    return _bc(weight(t, alphas_cumprod, weighting), z) * (z - x0_from_v(z_t, v_hat, t, alphas_cumprod))


def sds_loss(z: Tensor, grad: Tensor) -> Tensor:
    """Surrogate whose gradient w.r.t. z is ``grad`` (threestudio): ½‖z − sg(z − g)‖²_sum / B."""
    grad = torch.nan_to_num(grad)
    target = (z - grad).detach()
    return 0.5 * ((z - target) ** 2).sum() / z.shape[0]


def cfg_combine(v_uncond: Tensor, v_cond: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance v̂ = v̂_u + s(v̂_c − v̂_u)."""
    return v_uncond + scale * (v_cond - v_uncond)


@dataclass
class TimestepSchedule:
    """t ~ U[t_min, t_max] with both bounds decreasing linearly over the first ``decay_iters`` iterations (App. D).

    Endpoints are blank in our copy of App. D; ours (TC4D's schedule made to satisfy 'both decrease'):
    t_max 0.98 → 0.5 and t_min 0.5 → 0.02 over 5,000 of 10,000 iterations, as fractions of ``num_train_timesteps``."""
    num_train_timesteps: int = 1000
    t_max_start: float = 0.98  # ours
    t_max_end: float = 0.5  # ours
    t_min_start: float = 0.5  # ours
    t_min_end: float = 0.02  # ours
    decay_iters: int = 5000  # paper: the first half of 10,000 iterations

    def bounds(self, it: int) -> tuple[int, int]:
        a = min(max(it / max(self.decay_iters, 1), 0.0), 1.0)
        lo = (1 - a) * self.t_min_start + a * self.t_min_end
        hi = (1 - a) * self.t_max_start + a * self.t_max_end
        T = self.num_train_timesteps
        return int(lo * T), max(int(hi * T), int(lo * T) + 1)

    def sample(self, it: int, n: int = 1, generator=None, device="cpu") -> Tensor:
        lo, hi = self.bounds(it)
        return torch.randint(lo, hi, (n,), generator=generator, device=device)


class VideoGuidance(Protocol):
    """A video prior for SDS: ``loss(video, it) -> scalar`` whose gradient w.r.t. ``video`` is the SDS gradient.
    video: [B, 3, F, H, W] in [0, 1]."""

    def loss(self, video: Tensor, it: int) -> Tensor: ...


class LatentSDS:
    """SDS in a latent space given an encoder and a v-predictor; used by the CogVideoX guidance and the oracle test.

    encode: video [B, 3, F, H, W] in [−1, 1] -> latents z (any layout the predictor takes)
    predict_v: (z_t, t) -> (v̂_uncond, v̂_cond)   (CFG is combined here)
    """

    def __init__(self, encode: Callable[[Tensor], Tensor], predict_v: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
                 alphas_cumprod: Tensor, schedule: TimestepSchedule | None = None, guidance_scale: float = 7.5,
                 weighting: str = "one", generator: torch.Generator | None = None):
        self.encode, self.predict_v = encode, predict_v
        self.alphas_cumprod = alphas_cumprod
        self.schedule = schedule or TimestepSchedule(num_train_timesteps=len(alphas_cumprod))
        self.guidance_scale = guidance_scale  # ours: 7.5 (the paper's ω is blank; CogVideoX's pipeline uses 6)
        self.weighting = weighting
        self.generator = generator

    def grad(self, z: Tensor, it: int) -> Tensor:
        t = self.schedule.sample(it, z.shape[0], self.generator).to(z.device)
        eps = torch.randn(z.shape, generator=self.generator, dtype=z.dtype).to(z.device)
        with torch.no_grad():
            z_t = add_noise(z.detach(), eps, t, self.alphas_cumprod)
            vu, vc = self.predict_v(z_t, t)
            v_hat = cfg_combine(vu, vc, self.guidance_scale)
            return sds_grad_v(z.detach(), eps, v_hat, t, self.alphas_cumprod, self.weighting)

    def loss(self, video: Tensor, it: int) -> Tensor:
        z = self.encode(video * 2 - 1)
        return sds_loss(z, self.grad(z, it))
