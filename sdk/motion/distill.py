"""The AKD distillation loop (§4.4, Eq. 8): ``L = L_SDS + λ_smooth·L_smooth + λ_ground·L_ground`` on Θ with Adam.

Root initialisation (§4.4): ``d_i = i·v·Δt`` along the forward axis (v ours: 0.5 body lengths/s for walking).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .kinematics import KinematicRig, MotionParams
from .losses import cuboid_corners, ground_loss, smoothness_loss
from .render import SkinnedGaussians, render_motion
from .scene import CameraConfig, GroundConfig
from .sds import VideoGuidance


@dataclass
class DistillConfig:
    iterations: int = 10000  # paper (App. D / §5)
    frames: int = 49  # ours: CogVideoX-5B's native clip (4k+1)
    width: int = 720  # CogVideoX-5B native size
    height: int = 480
    fps: float = 8.0  # CogVideoX-5B frame rate
    lr_angles: float = 1e-2  # ours (not stated in the paper)
    lr_root: float = 1e-3  # ours, in rig heights
    lambda_smooth: float = 1e2  # ours (blank in App. D)
    lambda_ground: float = 1e3  # ours (blank in App. D), on height-normalised depth
    root_speed: float = 0.5  # ours: initial forward speed in body lengths per second
    n_gaussians: int = 20000  # ours
    show_ground: bool = True
    backend: str = "auto"
    camera: CameraConfig = field(default_factory=CameraConfig)
    ground: GroundConfig = field(default_factory=GroundConfig)


def bone_cuboids(kin: KinematicRig, min_frac: float = 0.02) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Eq. 10's bone cuboids (ours: box of the vertices whose dominant weight is the bone, in the bind frame).
    Returns (centres [B, 3], half-extents [B, 3], joints [B]) in rig units."""
    rig = kin.rig
    v = rig.mesh.vertices
    top = rig.skin.indices[np.arange(len(v)), rig.skin.weights.argmax(1)]
    H = float(np.ptp(v[:, 1]))
    cs, hs, js = [], [], []
    for j in range(kin.J):
        pts = v[top == j]
        if len(pts) < 4:
            continue
        inv = np.linalg.inv(rig.skeleton.bind_world[j])
        loc = pts @ inv[:3, :3].T + inv[:3, 3]
        lo, hi = loc.min(0), loc.max(0)
        cs.append((lo + hi) / 2)
        hs.append(np.maximum((hi - lo) / 2, min_frac * H / np.linalg.norm(rig.skeleton.bind_world[j][:3, :3], axis=0)))
        js.append(j)
    t = lambda a: torch.as_tensor(np.array(a), dtype=kin.dtype)
    return t(cs), t(hs), js


def initial_params(kin: KinematicRig, cfg: DistillConfig, forward=(0.0, 0.0, 1.0)) -> MotionParams:
    p = kin.rest_params(cfg.frames)
    v = kin.rig.mesh.vertices
    length = float(np.ptp(v @ np.asarray(forward)))
    i = torch.arange(cfg.frames, dtype=kin.dtype)
    p.root[:, :3] = (i * cfg.root_speed * length / cfg.fps)[:, None] * torch.as_tensor(forward, dtype=kin.dtype)
    return p


def distill(kin: KinematicRig, guidance: VideoGuidance, cfg: DistillConfig | None = None,
            init: MotionParams | None = None, progress=None, gaussians: SkinnedGaussians | None = None
            ) -> tuple[MotionParams, list[dict]]:
    """Optimise Θ against ``guidance`` (CogVideoX or any VideoGuidance). Returns (Θ, per-iteration log)."""
    cfg = cfg or DistillConfig()
    sg = gaussians or SkinnedGaussians.from_rig(kin, cfg.n_gaussians)
    p0 = init or initial_params(kin, cfg)
    ang = p0.angles.clone().requires_grad_(True)
    root = p0.root.clone().requires_grad_(True)
    opt = torch.optim.Adam([{"params": [ang], "lr": cfg.lr_angles}, {"params": [root], "lr": cfg.lr_root}])
    centers, half, joints = bone_cuboids(kin)
    g = float(kin.rig.mesh.vertices[:, 1].min())
    H = float(np.ptp(kin.rig.mesh.vertices[:, 1]))
    log = []
    for it in range(cfg.iterations):
        opt.zero_grad()
        p = MotionParams(ang, root)
        video, _ = render_motion(kin, sg, p, size=(cfg.width, cfg.height), camera=cfg.camera, ground=cfg.ground,
                                 show_ground=cfg.show_ground, backend=cfg.backend)
        v = video.permute(3, 0, 1, 2)[None]  # [1, 3, F, H, W]
        l_sds = guidance.loss(v, it)
        l_smooth = smoothness_loss(ang) + smoothness_loss(root)
        world = kin.fk(p)
        l_ground = ground_loss(cuboid_corners(world[:, joints], centers, half), g, H)
        loss = l_sds + cfg.lambda_smooth * l_smooth + cfg.lambda_ground * l_ground
        loss.backward()
        opt.step()
        log.append({"it": it, "sds": float(l_sds.detach()), "smooth": float(l_smooth.detach()),
                    "ground": float(l_ground.detach())})
        if progress:
            progress((it + 1) / cfg.iterations, f"SDS {it + 1}/{cfg.iterations}")
    return MotionParams(ang.detach(), root.detach()), log
