"""Hierarchical grid decode of a TSDF field + marching cubes (skimage, level 0, "lewiner"), as Step1X-3D's
``HierarchicalVolumeDecoder``: a coarse grid everywhere, then the fine grid only in cells near the surface."""
from __future__ import annotations

import numpy as np
import torch

from ...core import Mesh


@torch.no_grad()
def extract_mesh(field, *, bounds: float = 1.05, resolution: int = 256, coarse: int = 64, band: float = 2.0,
                 batch: int = 65536, device=None) -> Mesh:
    """``field(xyz [P, 3] tensor) -> sdf [P]`` (negative inside) -> Mesh. Fine values are computed only within
    ``band`` coarse cells of a sign change; elsewhere the coarse value (trilinearly upsampled) stands in."""
    from scipy import ndimage
    from skimage.measure import marching_cubes

    def evaluate(pts: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(pts), batch):
            p = torch.as_tensor(pts[i:i + batch], dtype=torch.float32, device=device)
            out.append(field(p).float().cpu().numpy().reshape(-1))
        return np.concatenate(out) if out else np.zeros(0)

    gc = np.linspace(-bounds, bounds, coarse)
    qc = np.stack(np.meshgrid(gc, gc, gc, indexing="ij"), -1).reshape(-1, 3)
    vc = evaluate(qc).reshape(coarse, coarse, coarse)
    sign = vc < 0
    edge = sign ^ ndimage.binary_erosion(sign) | (~sign ^ ndimage.binary_erosion(~sign))
    near_c = ndimage.binary_dilation(edge, iterations=int(np.ceil(band)))
    zoom = (resolution - 1) / (coarse - 1)
    vf = ndimage.zoom(vc, zoom, order=1)[:resolution, :resolution, :resolution]
    near = ndimage.zoom(near_c.astype(np.uint8), zoom, order=0)[:resolution, :resolution, :resolution].astype(bool)
    g = np.linspace(-bounds, bounds, resolution)
    idx = np.argwhere(near)
    vf[near] = evaluate(g[idx])
    if vf.min() >= 0 or vf.max() <= 0:
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
    v, f, _, _ = marching_cubes(vf, 0.0, spacing=(g[1] - g[0],) * 3, method="lewiner")
    return Mesh(v - bounds, f[:, ::-1].astype(np.int64))
