"""Track4DGen's stage-1 objective (Sec. 3.2, supp. Sec. 6) on ``MVVDMUNet``:

    L1 = lambda1 L_diff + lambda2 L_corr + lambda3 L_pos,   lambda1, lambda2, lambda3 = 1.0, 0.1, 10

* noise (Eq. 1): frames 2..f get DDPM noise at t; the conditioning frame 1 (Eq. 2) gets z0 + beta_t eps' with
  beta_t growing with t (the paper follows Zhao et al. 2024 and gives no values: ``beta_t = cond_noise_max * t / T``
  is ours);
* L_diff (Eq. 3): epsilon MSE on the noised frames 2..f;
* features h: the output of the *second up block's temporal motion module* (``up_blocks[1].motion_modules[-1]``,
  diffusers naming), captured with ``sdk.tracking.FeatureHook``: [(b n f), C, h, w] -> per view [F, C, h, w];
* per step, ``points_per_view`` (8) tracks per view drawn among the frame-0-visible queries of a 15x15 grid inside
  the mask (``sdk.tracking.query_grid`` / ``gt_tracks``); occluded points are masked (the paper does not say);
* L_corr (Eq. 4) and L_pos (Eq. 5) from ``sdk.tracking.losses`` (soft-argmax temperature tau and Huber delta are
  unstated in the paper: SDK defaults there).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ...tracking.losses import (HUBER_DELTA, LAMBDA_CORR, LAMBDA_DIFF, LAMBDA_POS, TAU, FeatureHook, corr_loss,
                                pos_loss, sample_track_batch)


@dataclass
class TrackingLossConfig:
    lambda_diff: float = LAMBDA_DIFF    # lambda1 (supp. Sec. 6)
    lambda_corr: float = LAMBDA_CORR    # lambda2
    lambda_pos: float = LAMBDA_POS      # lambda3
    points_per_view: int = 8            # Sec. 3.2
    tau: float = TAU                    # soft-argmax temperature on cosines (ours: unstated)
    huber_delta: float = HUBER_DELTA    # feature cells (ours: unstated)
    cond_noise_max: float = 0.1         # Eq. 2 beta_t at t = T (ours: unstated)
    up_block: int = 1                   # "the second spatiotemporal up block"
    motion_module: int = -1             # its last temporal motion module


def feature_module_name(model, cfg: TrackingLossConfig) -> str:
    mods = model.up_blocks[cfg.up_block].motion_modules
    return f"up_blocks.{cfg.up_block}.motion_modules.{cfg.motion_module % len(mods)}"


def attach_feature_hook(model, cfg: TrackingLossConfig | None = None) -> FeatureHook:
    return FeatureHook.find(model, feature_module_name(model, cfg or TrackingLossConfig()))


def per_view_features(hooked: Tensor, b: int, n: int, f: int) -> Tensor:
    """[(b n f), C, h, w] -> [(b n), f, C, h, w]"""
    return hooked.reshape(b * n, f, *hooked.shape[1:])


def noised_inputs(schedule, z0: Tensor, t: Tensor, noise: Tensor, cond_noise: Tensor,
                  cond_noise_max: float) -> Tensor:
    """Eq. 1 on frames 2..f, Eq. 2 on frame 1. z0/noise/cond_noise [B, N, F, C, H, W], t [B] -> z_t."""
    zt = schedule.add_noise(z0, noise, t)
    beta = (cond_noise_max * t.float() / schedule.num_train_timesteps).reshape(-1, 1, 1, 1, 1)
    return torch.cat([z0[:, :, :1] + beta[:, :, None] * cond_noise[:, :, :1], zt[:, :, 1:]], 2)


def track4dgen_loss(model, schedule, z0: Tensor, text: Tensor, camera: Tensor | None, tracks: Tensor,
                    visible: Tensor, image_size: tuple[int, int], cfg: TrackingLossConfig | None = None,
                    hook: FeatureHook | None = None, generator: torch.Generator | None = None,
                    t: Tensor | None = None, image_embeds: Tensor | None = None) -> dict:
    """One training step's loss.

    z0 [B, N, F, C, H, W] clean latents; text [B, L, D]; camera [B, N, 4, 4]
    tracks [B, N, F, Q, 2] px of the ``image_size`` = (width, height) images; visible [B, N, F, Q] bool
    image_embeds [B, N, D]: the views' CLIP image embeddings (required by a model with an IP-Adapter)
    -> dict(total, diff, corr, pos) (corr/pos are 0 tensors when their lambda is 0 and no hook is given).
    """
    cfg = cfg or TrackingLossConfig()
    b, n, f = z0.shape[:3]
    if t is None:
        t = torch.randint(0, schedule.num_train_timesteps, (b,), generator=generator).to(z0.device)
    noise = torch.randn(z0.shape, generator=generator).to(z0)
    cond_noise = torch.randn(z0.shape, generator=generator).to(z0)
    zt = noised_inputs(schedule, z0, t, noise, cond_noise, cfg.cond_noise_max)
    use_tracks = cfg.lambda_corr > 0 or cfg.lambda_pos > 0
    own_hook = hook is None and use_tracks
    if own_hook:
        hook = attach_feature_hook(model, cfg)
    try:
        eps = model(zt, t, text, camera, image_embeds)
    finally:
        if own_hook:
            hook.remove()
    l_diff = F.mse_loss(eps[:, :, 1:], noise[:, :, 1:])
    zero = l_diff.new_zeros(())
    l_corr = l_pos = zero
    if use_tracks:
        feats = per_view_features(hook.output, b, n, f)                           # [(b n), F, C, h, w]
        tr, vis = sample_track_batch(tracks.reshape(b * n, f, *tracks.shape[3:]),
                                     visible.reshape(b * n, f, -1), cfg.points_per_view, generator)
        width, height = image_size
        l_corr = corr_loss(feats, tr.to(feats), vis, width, height)
        l_pos = pos_loss(feats, tr.to(feats), vis, width, height, cfg.tau, cfg.huber_delta)
    total = cfg.lambda_diff * l_diff + cfg.lambda_corr * l_corr + cfg.lambda_pos * l_pos
    return {"total": total, "diff": l_diff, "corr": l_corr, "pos": l_pos}
