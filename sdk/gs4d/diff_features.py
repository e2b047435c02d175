"""Diffusion-feature planes D (Track4DGen Eq. 6) as machinery: project Gaussian centres into each view's stage-1 feature
map at frame f, drop projections hidden behind the surface (a z-buffer / ray-cast visibility test against a depth map),
sample the maps bilinearly and aggregate over the views that see the point (mean; the paper does not say how views are
aggregated). The features come from the MV-VDM's second up block; without its weights any [V, C, h, w] map works.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..render.camera import Camera, project


def sample_feature_map(fmap: Tensor, uv: Tensor, width: int, height: int) -> Tensor:
    """fmap [C, h, w] covering an image of width x height pixels; uv [P, 2] pixel coords (centres at +0.5)
    -> [P, C]. Feature cell (i, j) covers pixels [i W/w, (i+1) W/w): align_corners=False."""
    g = torch.stack([uv[:, 0] / width * 2 - 1, uv[:, 1] / height * 2 - 1], -1)
    out = F.grid_sample(fmap[None], g[None, :, None, :], mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, :, 0].T


def visible_in_views(points: Tensor, cameras: Camera, depth_maps: Tensor, tol: float) -> tuple[Tensor, Tensor]:
    """points [P, 3]; depth_maps [V, H, W] (inf on background) -> (visible [V, P] bool, uv [V, P, 2])"""
    uv, z = project(points, cameras)
    h, w = cameras.height, cameras.width
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h) & (z > 0)
    px = uv[..., 0].clamp(0, w - 1).long()
    py = uv[..., 1].clamp(0, h - 1).long()
    surf = torch.gather(depth_maps.reshape(len(cameras), -1), 1, py * w + px)
    return inside & (z <= surf + tol), uv


def diffusion_features(points: Tensor, cameras: Camera, feature_maps: Tensor, depth_maps: Tensor,
                       tol: float = 0.01) -> tuple[Tensor, Tensor]:
    """Per-point features [P, C] averaged over the views that see the point (zeros if none) and visibility [V, P].
    feature_maps: [V, C, h, w]; depth_maps: [V, H, W] at the cameras' image size."""
    vis, uv = visible_in_views(points, cameras, depth_maps, tol)
    feats = torch.stack([sample_feature_map(feature_maps[v], uv[v], cameras.width, cameras.height)
                         for v in range(len(cameras))])  # [V, P, C]
    w = vis.to(feats.dtype)[..., None]
    return (feats * w).sum(0) / w.sum(0).clamp_min(1.0), vis
