"""Painter's-algorithm triangle fill (PIL): the CPU fast path of ``sdk.render`` for flat-shaded previews of
low-poly scenes with large triangles (articulation sweeps).

Kept next to the z-buffer rasterizer (``raster.py``) because it is measured much faster there: the cabinet
sample's 9-pose PNG grid at 256 px takes ~10 s through ``render_mesh`` on this (loaded, 2-core) machine and ~0.5 s
here, since the z-buffer tests every pixel of every large triangle's bounding box. No depth buffer: triangles are
sorted back to front, which is exact enough for previews.
"""
from __future__ import annotations

import numpy as np


def view_basis(up: str = "y", azimuth_deg: float = 35.0, elevation_deg: float = 25.0) -> np.ndarray:
    """Rows: screen x, screen y, towards the viewer (world frame with the given up axis)."""
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    if up.lower() == "z":
        fwd = np.array([np.cos(el) * np.sin(az), -np.cos(el) * np.cos(az), np.sin(el)])
        upv = np.array([0, 0, 1.0])
    else:
        fwd = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        upv = np.array([0, 1.0, 0])
    right = np.cross(upv, fwd)
    right /= np.linalg.norm(right)
    upc = np.cross(fwd, right)
    return np.stack([right, upc, fwd])


def screen_bounds(points: np.ndarray, view: np.ndarray, pad: float = 0.35):
    """(lo, hi) screen-space box of ``points`` [N, 3] under ``view``, padded by ``pad`` of its size."""
    s = points @ view.T
    lo, hi = s[:, :2].min(0), s[:, :2].max(0)
    p = pad * (hi - lo).max()
    return lo - p, hi + p


def to_pixels(points: np.ndarray, view: np.ndarray, size: int, bounds) -> np.ndarray:
    """points [..., 3] world -> pixel positions [..., 2] of :func:`paint`'s image with the same view and bounds."""
    s = np.asarray(points, dtype=np.float64) @ view.T
    lo, hi = bounds
    scale = 0.9 * size / max(float(np.max(hi - lo)), 1e-12)
    xy = (s[..., :2] - (lo + hi) / 2) * scale
    xy[..., 1] *= -1
    return xy + size / 2


def paint(triangles: np.ndarray, colors: np.ndarray, view: np.ndarray, size: int = 256, bounds=None,
          background=(250, 250, 250), cull: bool = False):
    """triangles [T, 3, 3] world, colors [T, 3] in [0, 1] -> PIL image (Lambert shading by facing).

    cull: skip triangles wound clockwise as seen (their back faces; closed, consistently wound meshes only)."""
    from PIL import Image, ImageDraw
    s = triangles @ view.T  # screen coords
    if bounds is None:
        bounds = s[..., :2].reshape(-1, 2).min(0), s[..., :2].reshape(-1, 2).max(0)
    xy = to_pixels(triangles, view, size, bounds)
    n = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    shade = 0.35 + 0.65 * np.abs(n @ view[2])
    order = np.argsort(s[..., 2].mean(1))  # far first (smaller towards-viewer coordinate)
    if cull:
        order = order[(n @ view[2])[order] > 0]
    img = Image.new("RGB", (size, size), background)
    d = ImageDraw.Draw(img)
    c = np.asarray(colors, dtype=np.float64) * 255.0
    for i in order:
        col = tuple(int(x) for x in np.clip(c[i] * shade[i], 0, 255))
        d.polygon([tuple(p) for p in xy[i].tolist()], fill=col)
    return img
