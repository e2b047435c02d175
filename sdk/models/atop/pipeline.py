"""Personalization (§4.2.5, Eq. 6) and inference (Eq. 5) of ATOP's motion model.

* ``make_scheduler()`` — ImageDream's noise schedule: ε-parameterization, scaled-linear betas 0.00085–0.012 over
  1000 steps (diffusers ``DDIMScheduler``).
* ``personalize(model, batches, steps)`` — freezes everything but the motion module and minimizes
  ``L_LDM = E‖ε − ε_θ(z_t; τ, I_r, B, C, t)‖²`` with Adam, lr 5e-4 (ATOP: 20,000 iterations on a V100, ~2 h).
* ``sample(model, cond, steps=50, cfg=5.0)`` — DDIM, 50 steps, classifier-free guidance 5.0; the unconditional
  branch drops the text and the image tokens (ours: ImageDream's convention), keeping camera and mask.

A conditioning is a ``MotionCondition``: text embeddings [B,T,Cc] (+ the unconditional [B,T,Cc]), image tokens
of the rest-state views [B,Nv,I,Cc] (or CLIP features through the Resampler), cameras [B,Nv,16] and the
first-frame part masks [B,Nv,1,H,W].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import Tensor


@dataclass
class MotionCondition:
    text: Tensor  # [B, T, Cc]
    camera: Tensor  # [B, Nv, camera_dim]
    mask: Tensor  # [B, Nv, 1, H, W] first-frame part masks
    image_tokens: Tensor | None = None  # [B, Nv, I, Cc]
    clip_features: Tensor | None = None  # [B, Nv, S, clip_dim] (through the Resampler instead)
    uncond_text: Tensor | None = None  # [B, T, Cc]; default zeros

    def kwargs(self, uncond: bool = False) -> dict:
        if uncond:
            text = self.uncond_text if self.uncond_text is not None else torch.zeros_like(self.text)
            img = None if self.image_tokens is None else torch.zeros_like(self.image_tokens)
            clip = None if self.clip_features is None else torch.zeros_like(self.clip_features)
            return dict(text=text, camera=self.camera, mask=self.mask, image_tokens=img, clip_features=clip)
        return dict(text=self.text, camera=self.camera, mask=self.mask, image_tokens=self.image_tokens,
                    clip_features=self.clip_features)


def make_scheduler(num_train_timesteps: int = 1000):
    from diffusers import DDIMScheduler
    return DDIMScheduler(num_train_timesteps=num_train_timesteps, beta_start=0.00085, beta_end=0.012,
                         beta_schedule="scaled_linear", prediction_type="epsilon", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")


def predict_eps(model, z_t: Tensor, t, cond: MotionCondition, guidance: float = 1.0) -> Tensor:
    """ε̂ with classifier-free guidance ``ε_u + s (ε_c − ε_u)`` (s = 1: conditional only)."""
    eps_c = model(z_t, t, **cond.kwargs())
    if guidance == 1.0:
        return eps_c
    eps_u = model(z_t, t, **cond.kwargs(uncond=True))
    return eps_u + guidance * (eps_c - eps_u)


def ldm_loss(model, z0: Tensor, cond: MotionCondition, scheduler, generator=None) -> Tensor:
    """Eq. 6: ‖ε − ε_θ(z_t, t, cond)‖² for a random t per sample; z0 [B,Nv,Nf,C,h,w] clean latents."""
    B = z0.shape[0]
    t = torch.randint(0, scheduler.config.num_train_timesteps, (B,), device=z0.device, generator=generator)
    eps = torch.randn(z0.shape, device=z0.device, generator=generator, dtype=z0.dtype)
    z_t = scheduler.add_noise(z0, eps, t)
    return torch.mean((model(z_t, t, **cond.kwargs()) - eps) ** 2)


def personalize(model, batches: Iterable[tuple[Tensor, MotionCondition]], steps: int, *, lr: float = 5e-4,
                scheduler=None, progress: Callable[[float, str], None] | None = None, seed: int = 0) -> list[float]:
    """§4.2.5: train only the motion module on (latents, condition) batches (cycled) with Adam; returns losses."""
    import itertools
    model.freeze_base()
    params = [p for p in model.motion_parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    scheduler = scheduler or make_scheduler()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    losses = []
    model.train()
    for i, (z0, cond) in zip(range(steps), itertools.cycle(batches)):
        loss = ldm_loss(model, z0, cond, scheduler, generator=gen if z0.device.type == "cpu" else None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if progress:
            progress((i + 1) / steps, f"loss {losses[-1]:.4f}")
    model.eval()
    return losses


@torch.no_grad()
def sample(model, cond: MotionCondition, shape: tuple, *, steps: int = 50, guidance: float = 5.0, scheduler=None,
           generator=None, device="cpu", dtype=torch.float32) -> Tensor:
    """Eq. 5: V̂ = ψ*(I_r, τ, B, C) — DDIM with ``steps`` steps (50) and CFG ``guidance`` (5.0). shape = latent
    shape [B,Nv,Nf,C,h,w]; returns clean latents."""
    scheduler = scheduler or make_scheduler()
    scheduler.set_timesteps(steps, device=device)
    z = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    for t in scheduler.timesteps:
        eps = predict_eps(model, z, t, cond, guidance)
        z = scheduler.step(eps, t, z).prev_sample
    return z
