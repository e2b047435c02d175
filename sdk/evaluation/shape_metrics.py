"""Shape metrics with ShapeGen4D's definitions (§5.2, "following Zhang et al. 2023", 3DShape2VecSet ``eval.py``).

* Chamfer = mean(gt -> pred) + mean(pred -> gt) of **unsquared** nearest-neighbour distances between surface samples
  (pytorch3d's ``chamfer_distance`` is squared: not this);
* F-score at tau: harmonic mean of precision (pred samples within tau of gt) and recall (gt samples within tau of
  pred); the paper's tau = 0.02 assumes the [-1, 1] normalisation;
* volume IoU of occupancy on a 128^3 grid over the union of the two bounding boxes (inside by winding number);
* :func:`align_sequence`: the §5.2 alignment protocol (first frame: grid search over azimuth and scale + translation
  by truncated Chamfer, then ICP; that transform applied to every frame, plus per-frame translations).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..core import Mesh


def sample_points(m: Mesh, n: int = 100_000, seed: int = 0) -> np.ndarray:
    from ..registration.kernels import sample_surface
    return sample_surface(m.vertices, m.faces, n, np.random.default_rng(seed))[0]


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of the two unsquared mean nearest-neighbour distances between point sets a [N, 3] and b [M, 3]."""
    return float(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def fscore(pred: np.ndarray, gt: np.ndarray, tau: float) -> float:
    dp = cKDTree(gt).query(pred)[0]
    dg = cKDTree(pred).query(gt)[0]
    p, r = float((dp < tau).mean()), float((dg < tau).mean())
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def occupancy(m: Mesh, lo: np.ndarray, hi: np.ndarray, res: int = 128) -> np.ndarray:
    """Inside (generalised winding number > 0.5) at the centres of a res^3 grid over [lo, hi] -> bool [res]*3."""
    import igl
    g = [lo[i] + (np.arange(res) + 0.5) * (hi[i] - lo[i]) / res for i in range(3)]
    q = np.stack(np.meshgrid(*g, indexing="ij"), -1).reshape(-1, 3)
    w = igl.fast_winding_number(np.ascontiguousarray(m.vertices, np.float64), np.ascontiguousarray(m.faces, np.int64), q)
    return (w > 0.5).reshape(res, res, res)


def volume_iou(pred: Mesh, gt: Mesh, res: int = 128) -> float:
    lo = np.minimum(pred.vertices.min(0), gt.vertices.min(0))
    hi = np.maximum(pred.vertices.max(0), gt.vertices.max(0))
    a, b = occupancy(pred, lo, hi, res), occupancy(gt, lo, hi, res)
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


def align_sequence(pred: list[Mesh], gt: list[Mesh], *, azimuths: int = 24, scales=(0.8, 0.9, 1.0, 1.1, 1.25),
                   trunc: float = 0.1, n: int = 5000, seed: int = 0) -> list[Mesh]:
    """§5.2 protocol: on frame 0, grid search over azimuth (about Y) and scale, translation by centroids, scored by
    truncated Chamfer (distances clipped at ``trunc`` x gt diagonal); then ICP (similarity). Apply that transform to
    every predicted frame, plus a per-frame translation matching each frame's centroid to the gt's."""
    from ..registration.rigid import Similarity, _rot, icp_similarity
    rng = np.random.default_rng(seed)
    p0, g0 = sample_points(pred[0], n, seed), sample_points(gt[0], n, seed + 1)
    diag = gt[0].bbox_diagonal
    tg = cKDTree(g0)
    best, best_s = None, np.inf
    cp, cg = p0.mean(0), g0.mean(0)
    for k in range(azimuths):
        R = _rot(1, 2 * np.pi * k / azimuths)
        for s in scales:
            T = Similarity(s, R, cg - s * R @ cp)
            x = T.apply(p0)
            d1 = np.minimum(tg.query(x)[0], trunc * diag).mean()
            d2 = np.minimum(cKDTree(x).query(g0)[0], trunc * diag).mean()
            if d1 + d2 < best_s:
                best, best_s = T, d1 + d2
    T = icp_similarity(p0, g0, best, iters=30)
    out = []
    for pm, gm in zip(pred, gt):
        v = T.apply(pm.vertices)
        ps = sample_points(Mesh(v, pm.faces), 2000, int(rng.integers(1 << 30)))
        gs = sample_points(gm, 2000, int(rng.integers(1 << 30)))
        v = v + (gs.mean(0) - ps.mean(0))
        out.append(Mesh(v, pm.faces, pm.name, uvs=pm.uvs))
    return out
