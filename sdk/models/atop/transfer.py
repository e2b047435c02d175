"""ATOP §4.3.1 for a batch of parts at once: per-frame Gaussians distilled with SDS (Eq. 7) from the personalized
model, giving articulated point clouds per frame for the §4.3.2 OBB search (``sdk.articulation.axis_search``).

Same recipe as ``sds.sds_optimize`` (one object, the ``MotionPrior`` back end), batched over B parts that share
one model, with two choices of ours made explicit in ``TransferConfig``:

* frame 1 is the rest state and stays fixed (the model's first frame *is* the rest state, §4.2.3);
* ``motion="free"`` (ATOP: every dynamic Gaussian moves per frame) or ``"rigid"`` (ours: one rigid transform of
  the dynamic part per frame, 6 numbers instead of 3·N_d; a better-conditioned variant reported beside it).

Gaussian features start from the part/body colours in the small model's pixel latent (premultiplied RGBA in
[-1, 1], ``dataset.py``; shade factor ``shade``, ours) and are optimized with the positions, as in ATOP.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .pipeline import MotionCondition, predict_eps
from .sds import _spacing, render_features, sds_step


@dataclass
class TransferConfig:
    iters: int = 200  # ours (not given in the paper)
    lr: float = 5e-3  # §4.4.3
    lr_rigid: float = 1e-2  # ours: rotation-vector / translation step of motion="rigid"
    t_min: float = 0.02  # ours
    t_max: float = 0.98  # ours
    anneal: bool = True  # ours: t_max decays linearly to 0.5 over the run (DreamTime-style)
    guidance: float = 5.0  # as at inference (§4.4.3)
    weighting: str = "sds"  # w(t) = 1 - alpha_bar (DreamFusion's)
    motion: str = "free"  # "free" (ATOP) | "rigid" (ours)
    latent_size: int = 32
    fov_deg: float = 40.0
    radius: float = 2.2  # camera distance of the views (depth normalization range = radius ± 0.8)
    shade: float = 0.7  # ours: mean Lambert shade of the training renders, for the colour init
    learn_features: bool = True
    calibrate_iters: int = 0  # ours: fit the features to the known rest-state latent first (0 = off, ATOP's)
    calibrate_lr: float = 5e-2  # ours
    seed: int = 0


def _rodrigues(r: Tensor) -> Tensor:
    """Rotation vectors [..., 3] -> matrices [..., 3, 3] (differentiable, safe at 0)."""
    th = r.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    k = r / th
    K = torch.zeros(*r.shape[:-1], 3, 3, dtype=r.dtype, device=r.device)
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - K.transpose(-1, -2)
    s, c = torch.sin(th)[..., None], torch.cos(th)[..., None]
    eye = torch.eye(3, dtype=r.dtype, device=r.device).expand(K.shape)
    return eye + s * K + (1 - c) * (K @ K)


class BatchGaussians(torch.nn.Module):
    """Per-frame centres of B objects: static [B, Ns, 3] fixed, dynamic per frame (frame 1 = rest)."""

    def __init__(self, static: Tensor, dynamic: Tensor, feats: Tensor, num_frames: int, motion: str = "free"):
        super().__init__()
        self.register_buffer("static", static)
        self.register_buffer("rest", dynamic)
        self.motion, self.nf = motion, num_frames
        B = static.shape[0]
        if motion == "free":
            self.dyn = torch.nn.Parameter(dynamic[:, None].repeat(1, num_frames - 1, 1, 1).clone())
        elif motion == "rigid":
            self.rot = torch.nn.Parameter(torch.zeros(B, num_frames - 1, 3, device=static.device))
            self.trans = torch.nn.Parameter(torch.zeros(B, num_frames - 1, 3, device=static.device))
            self.register_buffer("centroid", dynamic.mean(1, keepdim=True))
        else:
            raise ValueError(f"motion must be 'free' or 'rigid', got {motion!r}")
        self.feats = torch.nn.Parameter(feats.clone())

    def dynamic(self) -> Tensor:  # [B, Nf, Nd, 3]
        if self.motion == "free":
            moved = self.dyn
        else:
            R = _rodrigues(self.rot)  # [B, Nf-1, 3, 3]
            p = (self.rest - self.centroid)[:, None]  # [B, 1, Nd, 3]
            moved = torch.einsum("bfij,bfnj->bfni", R, p.expand(-1, self.nf - 1, -1, -1)) \
                + self.centroid[:, None] + self.trans[:, :, None]
        return torch.cat([self.rest[:, None], moved], 1)

    def means(self) -> Tensor:  # [B, Nf, N, 3]
        d = self.dynamic()
        return torch.cat([self.static[:, None].expand(-1, self.nf, -1, -1), d], 2)


def colour_features(colors: np.ndarray, shade: float) -> np.ndarray:
    """Per-point RGB [.., N, 3] in [0, 1] -> pixel-latent features [.., N, 4] (premultiplied RGBA, alpha 1)."""
    c = np.asarray(colors, np.float32) * shade
    return np.concatenate([c, np.ones_like(c[..., :1])], -1) * 2.0 - 1.0


def sds_transfer(model, cond: MotionCondition, static: np.ndarray, dynamic: np.ndarray, c2w: np.ndarray,
                 scheduler, cfg: TransferConfig, *, static_color=None, dynamic_color=None, device="cpu",
                 progress=None, rest_latent=None) -> tuple[np.ndarray, list[float]]:
    """Eq. 7 for B parts. static [B, Ns, 3], dynamic [B, Nd, 3] (normalized object frame), cond for the B parts,
    c2w [Nv, 4, 4]; rest_latent [B, Nv, C, h, w] (the true first frame, known: the rest state) for
    ``cfg.calibrate_iters``. Returns (clouds [B, Nf, Ns + Nd, 3] numpy, loss-proxy history)."""
    from .train import _autocast
    dev = torch.device(device)
    B = len(static)
    nf = model.cfg.num_frames
    st = torch.as_tensor(np.asarray(static), dtype=torch.float32, device=dev)
    dy = torch.as_tensor(np.asarray(dynamic), dtype=torch.float32, device=dev)
    grey = lambda x: np.full(np.shape(x), 0.7, np.float32)  # noqa: E731
    cols = np.concatenate([static_color if static_color is not None else grey(static),
                           dynamic_color if dynamic_color is not None else grey(dynamic)], 1)
    feats = torch.as_tensor(colour_features(cols, cfg.shade), device=dev)
    gs = BatchGaussians(st, dy, feats, nf, cfg.motion).to(dev)
    gs.feats.requires_grad_(cfg.learn_features)
    sigma = float(np.median([_spacing(np.vstack([s, d])) for s, d in zip(static, dynamic)]))
    groups = [{"params": [gs.feats], "lr": cfg.lr}] if cfg.learn_features else []
    if cfg.motion == "free":
        groups.append({"params": [gs.dyn], "lr": cfg.lr})
    else:
        groups.append({"params": [gs.rot, gs.trans], "lr": cfg.lr_rigid})
    opt = torch.optim.Adam(groups)
    cams = torch.as_tensor(np.asarray(c2w), dtype=torch.float32, device=dev)
    bg = torch.full((4,), -1.0, device=dev)
    ac = scheduler.alphas_cumprod.to(dev, torch.float32)
    T = scheduler.config.num_train_timesteps
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    hist = []
    dr = (cfg.radius - 0.8, cfg.radius + 0.8)
    if cfg.calibrate_iters and rest_latent is not None:  # the renderer gap: features explain the rest views first
        rl = torch.as_tensor(np.asarray(rest_latent), dtype=torch.float32, device=dev)
        copt = torch.optim.Adam([gs.feats], lr=cfg.calibrate_lr)
        rest_means = gs.means()[:, :1].detach()
        for _ in range(cfg.calibrate_iters):
            img, _ = render_features(rest_means, gs.feats, sigma, cams, size=cfg.latent_size, fov_deg=cfg.fov_deg,
                                     background=bg, depth_range=dr)  # [B, 1, Nv, C, h, w]
            closs = ((img[:, 0] - rl) ** 2).mean()
            copt.zero_grad(set_to_none=True)
            closs.backward()
            copt.step()
    for it in range(cfg.iters):
        feats_img, _ = render_features(gs.means(), gs.feats, sigma, cams, size=cfg.latent_size, fov_deg=cfg.fov_deg,
                                       background=bg, depth_range=dr)  # [B, Nf, Nv, C, h, w]
        z = feats_img.permute(0, 2, 1, 3, 4, 5)  # [B, Nv, Nf, C, h, w]
        tmax = cfg.t_max - (cfg.t_max - 0.5) * it / max(cfg.iters - 1, 1) if cfg.anneal else cfg.t_max
        t = torch.randint(int(cfg.t_min * T), max(int(tmax * T), int(cfg.t_min * T) + 1) + 1, (1,), device=dev,
                          generator=gen).expand(B)
        eps = torch.randn(z.shape, device=dev, generator=gen)
        a = ac[t].view(-1, 1, 1, 1, 1, 1)
        z_t = a.sqrt() * z.detach() + (1 - a).sqrt() * eps
        with torch.no_grad(), _autocast(dev):
            eps_hat = predict_eps(model, z_t, t, cond, cfg.guidance).float()
        hist.append(sds_step(opt, z, z_t, eps, eps_hat, a, cfg.weighting, batch=B))
        if progress:
            progress((it + 1) / cfg.iters, f"SDS {hist[-1]:.4f}")
    with torch.no_grad():
        clouds = gs.means().float().cpu().numpy()
    return clouds, hist


def to_object_frame(cloud: np.ndarray, center, scale, rotation=None) -> np.ndarray:
    """Normalized-frame points [..., 3] back to the object's frame (inverse of ``dataset.condition_pack``)."""
    R = np.eye(3) if rotation is None else np.asarray(rotation)
    return (np.asarray(cloud, float) @ R) * float(scale) + np.asarray(center, float)


class OracleDenoiser(torch.nn.Module):
    """A weight-free stand-in for the personalized model: the ε-prediction of a denoiser whose data distribution
    is one given latent video per object, ``ε̂ = (z_t − √ᾱ z*) / √(1 − ᾱ)``. With the true videos as z*, SDS
    transfer + search measure the 3D half of ATOP alone (an upper bound for a perfect motion model)."""

    def __init__(self, target: Tensor, scheduler, num_frames: int):  # target [B, Nv, Nf, C, h, w]
        super().__init__()
        self.register_buffer("target", target)
        self.register_buffer("ac", scheduler.alphas_cumprod.float())
        self.cfg = type("OracleConfig", (), {"num_frames": num_frames})()

    def forward(self, z_t: Tensor, t: Tensor, **_) -> Tensor:
        a = self.ac[t].view(-1, 1, 1, 1, 1, 1)
        return (z_t - a.sqrt() * self.target) / (1 - a).sqrt()
