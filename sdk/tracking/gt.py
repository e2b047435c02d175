"""Exact ground-truth tracks of surface points of an animated mesh, with visibility.

Queries are pixels of the first frame (a 15x15 grid inside the object's mask, Sec. 3.2). Each query is bound to the
surface point under it (triangle + barycentrics from the rasteriser) and carried by the animation; at every frame it
is visible when the rasteriser's nearest triangle at its pixel is its own triangle or its depth agrees within
``depth_tol`` x the bbox diagonal (0.5 %, spec).
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidInputError
from ..render.camera import Camera, project
from ..render.raster import rasterize


def query_grid(mask: np.ndarray, n: int = 15) -> np.ndarray:
    """An n x n grid spanning the bounding box of ``mask`` [H, W] >= 0.5, kept inside the mask -> [M, 2] (x, y)
    pixel centres. (The paper's "15x15 grid inside the mask"; spanning the mask's box keeps small objects sampled.)"""
    ys_in, xs_in = np.nonzero(np.asarray(mask) >= 0.5)
    if len(xs_in) == 0:
        raise InvalidInputError("the query mask is empty (the object is not visible on the first frame)",
                                field="mask")
    x0, x1, y0, y1 = xs_in.min(), xs_in.max() + 1, ys_in.min(), ys_in.max() + 1
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    keep = mask[np.floor(pts[:, 1]).astype(int), np.floor(pts[:, 0]).astype(int)] >= 0.5
    return pts[keep]


def gt_tracks(vertices: np.ndarray, faces: np.ndarray, cameras: Camera, queries: list | None = None,
              grid: int = 15, depth_tol: float = 0.005) -> tuple[list, list, list]:
    """Ground-truth tracks for every camera.

    vertices: [T, V, 3] the animated mesh; faces: [F, 3]; cameras: C cameras
    queries: per camera [M_c, 2] pixel positions on frame 0 (default: ``query_grid`` of the frame-0 mask)
    returns (tracks: C x [T, M_c, 2], visible: C x [T, M_c] bool, queries: C x [M_c, 2]); queries that hit no
    surface are dropped.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 3 or len(v) < 2:
        raise InvalidInputError(f"vertices must be [T >= 2, V, 3], got {v.shape}", field="vertices")
    f = torch.as_tensor(np.asarray(faces), dtype=torch.int64)
    t_n = len(v)
    frags = [rasterize(torch.as_tensor(v[t], dtype=torch.float32), f, cameras) for t in range(t_n)]
    diag = float(np.linalg.norm(v.reshape(-1, 3).max(0) - v.reshape(-1, 3).min(0)))
    tracks, vis, qs = [], [], []
    for c in range(len(cameras)):
        fid0 = frags[0].face_id[c].numpy()
        q = query_grid((fid0 >= 0).astype(np.float32), grid) if queries is None else np.asarray(queries[c], float)
        px = np.clip(np.floor(q).astype(int), 0, [cameras.width - 1, cameras.height - 1])
        face = fid0[px[:, 1], px[:, 0]]
        ok = face >= 0
        q, px, face = q[ok], px[ok], face[ok]
        bary = frags[0].bary[c].numpy()[px[:, 1], px[:, 0]]  # perspective-correct barycentrics
        tri = f.numpy()[face]
        tr = np.zeros((t_n, len(q), 2))
        vs = np.zeros((t_n, len(q)), bool)
        cam = cameras[c]
        for t in range(t_n):
            p3 = np.einsum("mb,mbc->mc", bary, v[t][tri])
            uv, z = project(torch.as_tensor(p3, dtype=torch.float32), cam)
            uv, z = uv[0].numpy().astype(np.float64), z[0].numpy()
            tr[t] = uv
            inside = (uv[:, 0] >= 0) & (uv[:, 0] < cameras.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cameras.height)
            ix = np.clip(np.floor(uv).astype(int), 0, [cameras.width - 1, cameras.height - 1])
            fid = frags[t].face_id[c].numpy()[ix[:, 1], ix[:, 0]]
            dz = frags[t].depth[c].numpy()[ix[:, 1], ix[:, 0]]
            vs[t] = inside & (z > 0) & ((fid == face) | (np.abs(z - dz) < depth_tol * diag))
        tr[0] = q  # the query itself (exact pixel)
        tracks.append(tr)
        vis.append(vs)
        qs.append(q)
    return tracks, vis, qs
