"""ATOP §4.3.1: per-frame Gaussians distilled with SDS (Eq. 7) through a differentiable renderer into the
motion model's latent space, giving a sparse articulated point cloud per frame for the §4.3.2 OBB search.

* **Gaussians.** N_g per frame, centres initialized from 2,048 points of the static part + 2,048 of the dynamic
  part (§4.4.3); each Gaussian carries a learned 4-channel feature (the latent's channels), shared by the
  frames; isotropic scale from the point spacing (ours). Only the dynamic part's per-frame centres move by default
  (``move_static=False``, ours; ATOP does not say).
* **Renderer.** Fuzzy-metaballs-style blending (Keselman & Hebert [22, 23], checked against
  ``fm_render.py``): per pixel ray, ``w_i ∝ 1[z_i > 0] exp(−β1 ẑ_i + β2 log ρ_i)`` with ATOP's β1 = 21.4,
  β2 = 2.66, softmax-normalized against a background term; ẑ is the depth normalized to [0, 1] over the
  object's depth range and ρ_i the Gaussian's density at the pixel (its projected peak along the ray: ours, a
  simplification of fm_render's ray integral). Features are rendered at the latent resolution (32x32), so
  no VAE is involved (§4.4.3).
* **SDS (Eq. 7).** ``∇θ = E[w(t) (ε_φ(z_t; t, τ, I_r, B, C) − ε) ∂z/∂θ]``, t ~ U[t_min, t_max] (0.02–0.98, ours),
  w(t) = 1 − ᾱ_t (DreamFusion's; ours), CFG as at inference, backpropagated the threestudio way
  ``loss = ½‖z − sg(z − grad)‖²``; Adam lr 5e-3 (§4.4.3); the iteration count is not in the paper (ours:
  ``SDSConfig.iters``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

BETA1, BETA2 = 21.4, 2.66  # ATOP §4.4.3


# ----------------------------------------------------------------------------------------------- cameras
def orbit_cameras(num_views: int = 4, elevation_deg: float = 30.0, radius: float = 2.2, azimuth0: float = 45.0,
                  center=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Camera-to-world [Nv, 4, 4] (OpenGL: the camera looks down −Z, +Y up; world +Y up) on a circle at ATOP's
    azimuths 45/135/225/315 deg (§5.1) and the given elevation, looking at ``center``."""
    out = []
    c = np.asarray(center, float)
    for k in range(num_views):
        az, el = np.deg2rad(azimuth0 + 360.0 * k / num_views), np.deg2rad(elevation_deg)
        eye = c + radius * np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        fwd = (c - eye) / np.linalg.norm(c - eye)
        right = np.cross(fwd, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, up, -fwd, eye
        out.append(m)
    return np.stack(out)


def camera_condition(c2w: np.ndarray) -> Tensor:
    """ImageDream's camera input: the flattened 4x4 camera-to-world matrix per view, [Nv, 16]."""
    return torch.as_tensor(np.asarray(c2w, np.float32).reshape(len(c2w), 16))


# ----------------------------------------------------------------------------------------------- renderer
def render_features(means: Tensor, feats: Tensor, sigma: Tensor | float, c2w: Tensor, *, size: int = 32,
                    fov_deg: float = 40.0, background: Tensor | None = None, depth_range: tuple | None = None,
                    beta1: float = BETA1, beta2: float = BETA2, bg_logit: float = -6.0) -> tuple[Tensor, Tensor]:
    """Differentiable fuzzy-metaball rendering.

    means: [..., N, 3] (leading dims e.g. frames); feats: [N, C], or [B, N, C] with means [B, ..., N, 3] (one
    feature set per object of a batch); sigma: scalar or [N] world std; c2w: [Nv, 4, 4].
    Returns (features [..., Nv, C, size, size], alpha [..., Nv, size, size]).
    """
    lead = means.shape[:-2]
    N = means.shape[-2]
    m = means.reshape(-1, N, 3)  # [L, N, 3]
    w2c = torch.linalg.inv(c2w.to(m.dtype))  # [Nv, 4, 4]
    pc = torch.einsum("vij,lnj->lvni", w2c[:, :3, :3], m) + w2c[None, :, None, :3, 3]  # [L, Nv, N, 3]
    z = -pc[..., 2]  # depth along the view direction (OpenGL: forward is -Z)
    f = 0.5 * size / np.tan(np.deg2rad(fov_deg) / 2)
    zc = z.clamp_min(1e-4)
    u = f * pc[..., 0] / zc + 0.5 * size  # [L, Nv, N] pixel x (right)
    v = -f * pc[..., 1] / zc + 0.5 * size  # pixel y (down)
    sig = torch.as_tensor(sigma, dtype=m.dtype, device=m.device)
    s2 = (f * sig / zc) ** 2 + 0.25  # projected variance (+ a quarter pixel: ours, anti-aliasing)
    if depth_range is None:
        lo, hi = z.detach().min(), z.detach().max()
    else:
        lo, hi = (torch.as_tensor(x, dtype=m.dtype) for x in depth_range)
    zn = (z - lo) / (hi - lo + 1e-6)  # [L, Nv, N] in [0, 1]
    pix = torch.arange(size, dtype=m.dtype, device=m.device) + 0.5
    dx2 = (pix[None, None, None, :] - u[..., None]) ** 2  # [L, Nv, N, W]
    dy2 = (pix[None, None, None, :] - v[..., None]) ** 2  # [L, Nv, N, H]
    logrho = -(dy2[..., :, None] + dx2[..., None, :]) / (2 * s2[..., None, None])  # [L, Nv, N, H, W]
    logw = -beta1 * zn[..., None, None] + beta2 * logrho
    logw = torch.where((z > 0)[..., None, None], logw, torch.full_like(logw, -1e4))
    bg = torch.full_like(logw[:, :, :1], -beta1 + beta2 * bg_logit)  # [L, Nv, 1, H, W]
    wts = torch.softmax(torch.cat([logw, bg], 2), dim=2)  # [L, Nv, N+1, H, W]
    C = feats.shape[-1]
    bgf = torch.zeros(C, dtype=m.dtype, device=m.device) if background is None else background.to(m.dtype)
    if feats.dim() == 2:  # one feature per Gaussian, shared by every leading index
        out = torch.einsum("lvnhw,nc->lvchw", wts[:, :, :N], feats.to(m.dtype))
    else:  # feats [..., N, C] per leading index (a batch of objects)
        fl = feats.to(m.dtype).reshape(-1, N, feats.shape[-1])
        fl = fl.repeat_interleave(m.shape[0] // fl.shape[0], 0)
        out = torch.einsum("lvnhw,lnc->lvchw", wts[:, :, :N], fl)
    out = out + wts[:, :, N:] * bgf[None, None, :, None, None]
    alpha = 1.0 - wts[:, :, N]
    Nv = c2w.shape[0]
    return out.reshape(*lead, Nv, C, size, size), alpha.reshape(*lead, Nv, size, size)


# ----------------------------------------------------------------------------------------------- Gaussians
@dataclass
class SDSConfig:
    n_static: int = 2048  # §4.4.3
    n_dynamic: int = 2048  # §4.4.3
    lr: float = 5e-3  # §4.4.3
    iters: int = 300  # ours (not given)
    t_min: float = 0.02  # ours
    t_max: float = 0.98  # ours
    guidance: float = 5.0  # as at inference (§4.4.3)
    move_static: bool = False  # ours
    weighting: str = "sds"  # w(t) = 1 - alpha_bar (ours; "uniform": 1)
    latent_size: int = 32
    fov_deg: float = 40.0
    seed: int = 0


class FrameGaussians(torch.nn.Module):
    """Per-frame Gaussian centres [Nf, N, 3] (static first, then dynamic), shared learned features [N, C]."""

    def __init__(self, static: np.ndarray, dynamic: np.ndarray, num_frames: int, channels: int = 4,
                 feats: np.ndarray | None = None, move_static: bool = False, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.n_static = len(static)
        pts = torch.as_tensor(np.vstack([static, dynamic]), dtype=torch.float32)
        self.register_buffer("rest", pts.clone())
        self.dynamic = torch.nn.Parameter(pts[self.n_static:][None].repeat(num_frames, 1, 1).clone())
        if move_static:
            self.static = torch.nn.Parameter(pts[: self.n_static][None].repeat(num_frames, 1, 1).clone())
        else:
            self.register_buffer("static", pts[: self.n_static][None].repeat(num_frames, 1, 1).clone())
        f = torch.randn(len(pts), channels, generator=g) * 0.5 if feats is None else torch.as_tensor(feats, dtype=torch.float32)
        self.feats = torch.nn.Parameter(f)
        spacing = _spacing(pts.numpy())
        self.register_buffer("sigma", torch.tensor(spacing, dtype=torch.float32))

    def means(self) -> Tensor:  # [Nf, N, 3]
        return torch.cat([self.static, self.dynamic], 1)

    def clouds(self) -> list[np.ndarray]:
        """The articulated point cloud of every frame, [N, 3] each."""
        return [m.detach().cpu().numpy().astype(np.float64) for m in self.means()]


def _spacing(pts: np.ndarray) -> float:
    from scipy.spatial import cKDTree
    d, _ = cKDTree(pts).query(pts[:: max(1, len(pts) // 512)], k=2)
    return float(np.median(d[:, 1])) * 1.5


def sds_step(opt, z: Tensor, z_t: Tensor, eps: Tensor, eps_hat: Tensor, a: Tensor, weighting: str,
             batch: int = 1) -> float:
    """One Eq. 7 update: the gradient w(t)(ε̂ − ε) pushed into the rendered latents z (shape of z_t, eps, eps_hat;
    a: ᾱ_t broadcastable to them; weighting "sds" = 1 − ᾱ_t, else 1), averaged over ``batch`` objects.
    Returns the monitoring proxy ‖z − x̂₀‖² (ours)."""
    w = (1 - a) if weighting == "sds" else torch.ones_like(a)
    grad = torch.nan_to_num(w * (eps_hat - eps))
    loss = 0.5 * ((z - (z - grad).detach()) ** 2).sum() / batch
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        x0 = (z_t - (1 - a).sqrt() * eps_hat) / a.sqrt()
        return float(((z - x0) ** 2).mean())


def sds_optimize(gs: FrameGaussians, eps_fn: Callable[[Tensor, Tensor], Tensor], c2w: Tensor, scheduler,
                 cfg: SDSConfig, *, progress: Callable[[float, str], None] | None = None,
                 depth_range: tuple | None = None) -> list[float]:
    """Eq. 7 on the Gaussians. eps_fn(z_t [1,Nv,Nf,C,h,w], t [1]) -> ε̂ (guided) of the frozen personalized model.
    Returns the per-iteration SDS loss proxy ‖z − x̂‖² (ours, for monitoring)."""
    params = [p for p in gs.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    ac = scheduler.alphas_cumprod.to(torch.float32)
    T = scheduler.config.num_train_timesteps
    hist = []
    for it in range(cfg.iters):
        feats, _ = render_features(gs.means(), gs.feats, gs.sigma, c2w, size=cfg.latent_size, fov_deg=cfg.fov_deg,
                                   depth_range=depth_range)  # [Nf, Nv, C, h, w]
        z = feats.permute(1, 0, 2, 3, 4)[None]  # [1, Nv, Nf, C, h, w]
        t = torch.randint(int(cfg.t_min * T), int(cfg.t_max * T) + 1, (1,), generator=gen)
        eps = torch.randn(z.shape, generator=gen)
        a = ac[t].view(1, 1, 1, 1, 1, 1)
        z_t = a.sqrt() * z.detach() + (1 - a).sqrt() * eps
        with torch.no_grad():
            eps_hat = eps_fn(z_t, t)
        hist.append(sds_step(opt, z, z_t, eps, eps_hat, a, cfg.weighting))
        if progress:
            progress((it + 1) / cfg.iters, f"SDS {hist[-1]:.4f}")
    return hist


def oracle_eps(target: Tensor, scheduler) -> Callable[[Tensor, Tensor], Tensor]:
    """The ε-prediction of a denoiser whose data distribution is the single latent ``target``:
    ε̂ = (z_t − √ᾱ z*) / √(1 − ᾱ) (a weight-free test double of the personalized model)."""
    ac = scheduler.alphas_cumprod.to(torch.float32)

    def fn(z_t, t):
        a = ac[t].view(1, 1, 1, 1, 1, 1)
        return (z_t - a.sqrt() * target) / (1 - a).sqrt()
    return fn
