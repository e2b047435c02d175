"""AKD rendering (§4.2, App. C): skinned Gaussians over a ray-cast checkerboard ground with an overhead-light
shadow term, seen by a camera that smoothly follows the character.

* Ground: every pixel ray is intersected with the plane ``y = ground``; the hit is coloured by checker parity;
  rays that miss (pointing up) take ``sky``. Composite ``C = C_gs + (1 − A_gs)·C_ground`` (the splatter's colour
  is already alpha-premultiplied over a black background). Kernels below the ground get opacity 0.
* Shadow (App. C; the formula is lost, **ours**): ground colour × (1 − s_max·exp(−k·h/H)), h = height of the
  asset above the hit point (a distant light straight overhead plus ambient), from a top-down min-height map of
  the Gaussian centres.
* Camera: exponential smoothing of the bbox centre (ours), fixed offset; equivalent to moving the scene.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..render.camera import Camera, look_at


@dataclass
class GroundConfig:
    tile: float = 0.25  # ours: checker tile size as a fraction of the rig height
    color_a: tuple = (0.85, 0.85, 0.85)  # ours
    color_b: tuple = (0.45, 0.45, 0.45)  # ours
    sky: tuple = (1.0, 1.0, 1.0)  # ours: the preset colour of rays that miss the ground
    fade_start: float = 4.0  # ours: distance (rig heights) where the checker starts fading to its mean colour
    shadow: bool = True
    shadow_max: float = 0.6  # ours: s_max, the darkest shadow
    shadow_decay: float = 8.0  # ours: k, per rig height
    shadow_cell: float = 0.03  # ours: cell size of the top-down height map, × rig height


@dataclass
class CameraConfig:
    distance: float = 2.6  # ours: in rig heights
    elevation_deg: float = 15.0  # ours
    azimuth_deg: float = 60.0  # ours: seen from the side-front
    fov_deg: float = 40.0
    smoothing: float = 0.8  # ours: exponential smoothing of the bbox centre (0 = no smoothing)


def follow_camera(centers: Tensor, height: float, cfg: CameraConfig, width: int, image_height: int) -> Camera:
    """centers [F, 3] (bbox centres per frame) -> F cameras following their exponentially smoothed path."""
    c = centers.detach().to(torch.float32)
    sm = [c[0]]
    for i in range(1, len(c)):
        sm.append(cfg.smoothing * sm[-1] + (1 - cfg.smoothing) * c[i])
    target = torch.stack(sm)
    az, el = math.radians(cfg.azimuth_deg), math.radians(cfg.elevation_deg)
    off = torch.tensor([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)],
                       device=c.device) * cfg.distance * height
    eye = target + off
    w2c = look_at(eye, target)
    focal = torch.full((len(c),), 0.5 * image_height / math.tan(math.radians(cfg.fov_deg) / 2), device=c.device)
    F = len(c)
    return Camera(w2c, focal, width, image_height, torch.full((F,), az, device=c.device),
                  torch.full((F,), el, device=c.device))


def pixel_rays(camera: Camera) -> tuple[Tensor, Tensor]:
    """World ray origins [C, 3] and unit directions [C, H, W, 3] through pixel centres (OpenGL camera)."""
    W, H = camera.width, camera.height
    dev = camera.world_to_cam.device
    u = torch.arange(W, device=dev, dtype=torch.float32) + 0.5
    v = torch.arange(H, device=dev, dtype=torch.float32) + 0.5
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    f = camera.focal.to(torch.float32)[:, None, None]
    d_cam = torch.stack([(uu - W / 2) / f, -(vv - H / 2) / f, -torch.ones_like(uu).expand_as((uu - W / 2) / f)], -1)
    R = camera.world_to_cam[:, :3, :3].to(torch.float32)  # rows = camera axes in world
    d = torch.einsum("cij,chwi->chwj", R, d_cam)  # R^T d
    d = d / d.norm(dim=-1, keepdim=True)
    o = -torch.einsum("cij,ci->cj", R, camera.world_to_cam[:, :3, 3].to(torch.float32))
    return o, d


def ground_layer(camera: Camera, ground: float, height: float, cfg: GroundConfig,
                 means: Tensor | None = None) -> Tensor:
    """Checkerboard ground colour [C, H, W, 3] (with the App. C shadow when ``means [C, N, 3]`` is given)."""
    o, d = pixel_rays(camera)
    dy = d[..., 1]
    t = (ground - o[:, None, None, 1]) / torch.where(dy.abs() < 1e-8, torch.full_like(dy, -1e-8), dy)
    hit = (t > 0) & (dy < 0)
    p = o[:, None, None] + t[..., None].clamp_min(0) * d  # [C, H, W, 3]
    tile = cfg.tile * height
    parity = (torch.floor(p[..., 0] / tile) + torch.floor(p[..., 2] / tile)).remainder(2)
    ca = torch.tensor(cfg.color_a, device=p.device)
    cb = torch.tensor(cfg.color_b, device=p.device)
    col = torch.where(parity[..., None] < 0.5, ca, cb)
    # ours: fade the checker to its mean colour far away (anti-aliasing without supersampling)
    fade = ((t / height - cfg.fade_start) / cfg.fade_start).clamp(0, 1)[..., None]
    col = (1 - fade) * col + fade * 0.5 * (ca + cb)
    if cfg.shadow and means is not None:
        col = col * shadow_factor(p, means, ground, height, cfg)[..., None]
    sky = torch.tensor(cfg.sky, device=p.device)
    return torch.where(hit[..., None], col, sky)


def shadow_factor(points: Tensor, means: Tensor, ground: float, height: float, cfg: GroundConfig) -> Tensor:
    """1 − s_max·exp(−k·h/H) at ground points [C, H, W, 3]; h from a top-down min-height map of ``means``
    (cells of ``shadow_cell``·H, min-filtered over 3×3 cells so the map has no holes between centres)."""
    import torch.nn.functional as Fn
    C = points.shape[0]
    cell = cfg.shadow_cell * height
    out = []
    for c in range(C):
        m = means[c]
        lo = m[:, [0, 2]].min(0).values.detach() - 2 * cell
        hi = m[:, [0, 2]].max(0).values.detach() + 2 * cell
        G = ((hi - lo) / cell).ceil().long().clamp(1, 512)
        gx, gz = int(G[0]), int(G[1])
        ij = ((m[:, [0, 2]] - lo) / cell).floor().long()
        ij = torch.stack([ij[:, 0].clamp(0, gx - 1), ij[:, 1].clamp(0, gz - 1)], 1)
        big = torch.tensor(1e6, dtype=m.dtype, device=m.device)
        hmap = torch.full((gx * gz,), float(big), dtype=m.dtype, device=m.device)
        hmap = hmap.scatter_reduce(0, ij[:, 0] * gz + ij[:, 1], (m[:, 1] - ground).clamp_min(0), reduce="amin",
                                   include_self=True)
        hmap = -Fn.max_pool2d(-hmap.reshape(1, 1, gx, gz), 3, stride=1, padding=1).reshape(-1)
        q = ((points[c][..., [0, 2]] - lo) / cell).floor().long()
        inside = (q[..., 0] >= 0) & (q[..., 0] < gx) & (q[..., 1] >= 0) & (q[..., 1] < gz)
        h = hmap[q[..., 0].clamp(0, gx - 1) * gz + q[..., 1].clamp(0, gz - 1)]
        s = cfg.shadow_max * torch.exp(-cfg.shadow_decay * h / height)
        s = torch.where(inside & (h < big / 2), s, torch.zeros_like(s))
        out.append(1 - s)
    return torch.stack(out)


def composite(rgb: Tensor, alpha: Tensor, ground_rgb: Tensor) -> Tensor:
    """C = C_gs + (1 − A_gs)·C_ground. rgb [C, H, W, 3] (premultiplied), alpha [C, H, W]."""
    return rgb + (1 - alpha[..., None]) * ground_rgb
