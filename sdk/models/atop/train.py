"""Training the small ATOP model here (issue 15 part 3): a base multi-view video model on many categories (our
stand-in for ImageDream, which cannot be downloaded), then §4.2.5's few-shot personalization per category (only
the motion module trains; ε-loss; Adam 5e-4).

Data are ``dataset.py`` samples; the conditioning comes from ``prior.WeightFreeEncoders`` (the small model's
text/view encoders; OpenCLIP ViT-H for the public model: ``openclip.py``). Both loops run for a number of steps
or a wall-clock budget (the GPU lease), whichever ends first, in bf16 autocast on CUDA.

* ``TrainData`` — a dataset dict moved to tensors once (uint8 latents decoded per batch), with its conditioning.
* ``train(model, data, indices, ...)`` — ε-loss (Eq. 6) on random batches; ``params="all"`` (the base) or
  ``"motion"`` (personalization: ``model.freeze_base()``). The condition is dropped with probability
  ``p_uncond`` (text and image tokens zeroed; ImageDream's convention, ours here) so CFG 5 has an unconditional
  branch.
* ``heldout_loss`` — the ε-loss on given samples at fixed timesteps and noise (a held-out figure that does not
  depend on a sampler).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .dataset import decode_latents
from .pipeline import MotionCondition, make_scheduler


@dataclass
class TrainData:
    latents: Tensor  # uint8 [S, Nv, Nf, 4, h, w]
    text: Tensor  # [S, T, Cc]
    clip: Tensor  # [S, Nv, 16, clip_dim]
    camera: Tensor  # [S, Nv, 16]
    mask: Tensor  # [S, Nv, 1, H, W] float
    category: np.ndarray  # [S] str

    @classmethod
    def from_dataset(cls, data: dict, encoders, device="cpu") -> "TrainData":
        text = torch.cat([encoders.encode_text(str(p)) for p in data["prompt"]])
        views = torch.as_tensor(data["views"]).float() / 255.0  # [S, Nv, 3, H, W]
        clip = torch.cat([encoders.encode_views(v) for v in views])
        return cls(torch.as_tensor(data["latents"]).to(device), text.to(device), clip.to(device),
                   torch.as_tensor(data["camera"]).float().to(device),
                   torch.as_tensor(data["mask"]).float().to(device), np.asarray(data["category"]))

    def __len__(self) -> int:
        return len(self.latents)

    def batch(self, idx, uncond: Tensor | None = None) -> tuple[Tensor, MotionCondition]:
        idx = torch.as_tensor(np.asarray(idx), device=self.latents.device)
        z0 = decode_latents(self.latents[idx].float())
        text, clip = self.text[idx], self.clip[idx]
        if uncond is not None:  # [B] bool: drop the condition (classifier-free guidance training)
            keep = (~uncond).float()
            text = text * keep[:, None, None]
            clip = clip * keep[:, None, None, None]
        return z0, MotionCondition(text=text, camera=self.camera[idx], mask=self.mask[idx], clip_features=clip)

    def condition(self, idx) -> MotionCondition:
        return self.batch(idx)[1]


def _autocast(device):
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib
    return contextlib.nullcontext()


def train(model, data: TrainData, indices, *, steps: int, batch_size: int = 8, lr: float = 5e-4,
          params: str = "motion", seconds: float | None = None, p_uncond: float = 0.1, seed: int = 0,
          scheduler=None, log_every: int = 50, log=None) -> dict:
    """ε-loss training on ``data[indices]``; params "all" (base) or "motion" (§4.2.5). Returns {losses, steps,
    seconds}."""
    scheduler = scheduler or make_scheduler()
    dev = data.latents.device
    if params == "motion":
        model.freeze_base()
        ps = [p for p in model.motion_parameters()]
    else:
        for p in model.parameters():
            p.requires_grad_(True)
        ps = list(model.parameters())
    opt = torch.optim.Adam(ps, lr=lr)
    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)
    ac = scheduler.alphas_cumprod.to(dev, torch.float32)
    indices = np.asarray(indices)
    losses, t0, i = [], time.time(), 0
    model.train()
    while i < steps and (seconds is None or time.time() - t0 < seconds):
        idx = rng.choice(indices, batch_size, replace=len(indices) < batch_size)
        uncond = torch.as_tensor(rng.random(batch_size) < p_uncond, device=dev)
        z0, cond = data.batch(idx, uncond)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), device=dev, generator=gen)
        eps = torch.randn(z0.shape, device=dev, generator=gen)
        a = ac[t].view(-1, 1, 1, 1, 1, 1)
        z_t = a.sqrt() * z0 + (1 - a).sqrt() * eps
        with _autocast(dev):
            pred = model(z_t, t, **cond.kwargs())
        loss = torch.mean((pred.float() - eps) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        i += 1
        if i % 10 == 0 or i == 1:
            losses.append(float(loss.detach()))
        if log and i % log_every == 0:
            log(f"  step {i} loss {np.mean(losses[-5:]):.4f} ({time.time() - t0:.0f}s)")
    model.eval()
    return {"losses": losses, "steps": i, "seconds": time.time() - t0}


@torch.no_grad()
def heldout_loss(model, data: TrainData, indices, *, timesteps=(100, 300, 500, 700, 900), seed: int = 1234,
                 batch_size: int = 8, scheduler=None) -> float:
    """Mean ε-MSE over ``indices`` x ``timesteps`` with fixed noise (comparable between models)."""
    scheduler = scheduler or make_scheduler()
    dev = data.latents.device
    ac = scheduler.alphas_cumprod.to(dev, torch.float32)
    gen = torch.Generator(device=dev).manual_seed(seed)
    tot, n = 0.0, 0
    indices = np.asarray(indices)
    for s in range(0, len(indices), batch_size):
        idx = indices[s: s + batch_size]
        z0, cond = data.batch(idx)
        for tv in timesteps:
            t = torch.full((len(idx),), tv, device=dev, dtype=torch.long)
            eps = torch.randn(z0.shape, device=dev, generator=gen)
            a = ac[t].view(-1, 1, 1, 1, 1, 1)
            with _autocast(dev):
                pred = model(a.sqrt() * z0 + (1 - a).sqrt() * eps, t, **cond.kwargs())
            tot += float(((pred.float() - eps) ** 2).mean()) * len(idx)
            n += len(idx)
    return tot / max(n, 1)


def moving_psnr(pred: Tensor, target: Tensor, mask_any: Tensor) -> float:
    """PSNR (in the [-1, 1] latent range, peak 2) over the pixels where the part is in any GT frame.
    pred, target: [Nv, Nf, C, h, w]; mask_any: [Nv, h, w] bool."""
    m = mask_any[:, None, None].expand_as(pred)
    mse = float(((pred - target) ** 2)[m].mean()) if bool(m.any()) else float("nan")
    return float(10 * np.log10(4.0 / max(mse, 1e-12)))
