"""Render a motion: FK → LBS Gaussians (Σ' = AΣAᵀ) → splat (``sdk.render.gaussians``) over the checkerboard ground."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..render.gaussians import render_gaussians
from .gaussians import covariances, deform_gaussians, gaussians_from_mesh, opacity_above_ground, transfer_skin_weights
from .kinematics import KinematicRig, MotionParams
from .scene import CameraConfig, GroundConfig, composite, follow_camera, ground_layer


@dataclass
class SkinnedGaussians:
    means: Tensor  # [N, 3] bind pose
    covs: Tensor  # [N, 3, 3]
    opacities: Tensor  # [N]
    colors: Tensor  # [N, 3]
    idx: Tensor  # [N, k]
    w: Tensor  # [N, k]

    @staticmethod
    def from_rig(kin: KinematicRig, n: int = 3000, seed: int = 0, dtype=torch.float32) -> "SkinnedGaussians":
        rig = kin.rig
        from ..render.preview import palette
        top = rig.skin.indices[np.arange(rig.skin.n_vertices), rig.skin.weights.argmax(1)]
        face_top = top[rig.mesh.faces[:, 0]]
        pal = palette(rig.skeleton.n_joints)
        pal = pal / 255.0 if pal.max() > 1 else pal
        col = 0.55 * np.asarray(pal)[face_top, :3] + 0.45 * np.array([0.9, 0.6, 0.35])  # ours: tinted by bone
        cloud, face, bary = gaussians_from_mesh(rig.mesh, n, seed=seed, face_colors=col)
        sw = transfer_skin_weights(cloud.means.astype(np.float64), rig.mesh, rig.skin, rig.skeleton.n_joints)
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)
        return SkinnedGaussians(t(cloud.means), covariances(t(cloud.quats), t(cloud.scales)), t(cloud.opacities),
                                t(cloud.colors), torch.as_tensor(sw.indices), t(sw.weights))


def camera_path(kin: KinematicRig, sg: SkinnedGaussians, params: MotionParams, smoothing: float) -> Tensor:
    """Exponentially smoothed bbox centres [F, 3] of the deformed Gaussians (the follow camera's targets)."""
    with torch.no_grad():
        mu, _ = deform_gaussians(sg.means, sg.covs, kin.skinning(kin.fk(params).to(sg.means.dtype)), sg.idx, sg.w)
        c = 0.5 * (mu.amax(1) + mu.amin(1))
    out = [c[0]]
    for i in range(1, len(c)):
        out.append(smoothing * out[-1] + (1 - smoothing) * c[i])
    return torch.stack(out)


def render_motion(kin: KinematicRig, sg: SkinnedGaussians, params: MotionParams, *, size: tuple[int, int] = (64, 64),
                  camera: CameraConfig | None = None, ground: GroundConfig | None = None, show_ground: bool = True,
                  backend: str = "auto", centers: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Video [F, H, W, 3] in [0, 1] and alpha [F, H, W]; differentiable in ``params``.
    ``show_ground=False`` renders on white (the VideoPhy setting of the paper). ``centers [F, 3]``: camera targets
    to use instead of the bbox centres (e.g. a whole clip's path smoothed once, when rendering it in pieces)."""
    camera = camera or CameraConfig()
    ground = ground or GroundConfig()
    world = kin.fk(params).to(sg.means.dtype)
    mu, sig = deform_gaussians(sg.means, sg.covs, kin.skinning(world), sg.idx, sg.w)
    g = float(kin.rig.mesh.vertices[:, 1].min())
    H = float(np.ptp(kin.rig.mesh.vertices[:, 1]))
    op = opacity_above_ground(sg.opacities, mu, g) if show_ground else sg.opacities.expand(mu.shape[0], -1)
    if centers is None:
        centers = 0.5 * (mu.amax(1) + mu.amin(1))
    W, Hh = size
    cam = follow_camera(centers, H, camera, W, Hh)
    rgb, alpha, _ = render_gaussians(mu, covars=sig, opacities=op, colors=sg.colors.expand(mu.shape[0], -1, -1),
                                     camera=cam, background=0.0, backend=backend)
    bg = ground_layer(cam, g, H, ground, mu.detach() if ground.shadow else None) if show_ground \
        else torch.ones_like(rgb)
    return composite(rgb, alpha, bg.to(rgb.dtype)), alpha
