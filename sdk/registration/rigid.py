"""Global similarity registration (rotation, translation, uniform scale) of two point sets: a yaw/pitch grid of
initial rotations scored by Chamfer distance, then trimmed ICP with Umeyama's closed-form similarity per step.

ShapeGen4D A.2 aligns M_t to M_{t+1} "using a combination of Chamfer distance and differentiable rendering loss";
for mesh-to-mesh registration we use 3-D terms only (Chamfer + ICP), as the spec note prescribes. The grid is the
§5.2 evaluation protocol's azimuth search extended by pitch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass
class Similarity:
    s: float
    R: np.ndarray  # [3, 3]
    t: np.ndarray  # [3]

    def apply(self, x: np.ndarray) -> np.ndarray:  # [N, 3]
        return self.s * x @ self.R.T + self.t

    def compose(self, other: "Similarity") -> "Similarity":  # self after other
        return Similarity(self.s * other.s, self.R @ other.R, self.s * self.R @ other.t + self.t)

    @staticmethod
    def identity() -> "Similarity":
        return Similarity(1.0, np.eye(3), np.zeros(3))


def umeyama(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None, scale: bool = True) -> Similarity:
    """Least-squares similarity with ``dst ~ s R src + t`` (Umeyama 1991). src, dst [N, 3]; w [N] weights."""
    w = np.ones(len(src)) if w is None else w
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    cov = (b * w[:, None]).T @ a
    U, S, Vt = np.linalg.svd(cov)
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    var = (w * (a * a).sum(1)).sum()
    s = float(np.trace(np.diag(S) @ D) / var) if scale and var > 0 else 1.0
    return Similarity(s, R, mu_d - s * R @ mu_s)


def _rot(axis: int, ang: float) -> np.ndarray:
    c, s = np.cos(ang), np.sin(ang)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def chamfer_pts(a: np.ndarray, b: np.ndarray, tb: cKDTree | None = None) -> float:
    """Symmetric Chamfer, sum of the two unsquared means."""
    tb = tb or cKDTree(b)
    return float(tb.query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def icp_similarity(src: np.ndarray, dst: np.ndarray, init: Similarity, iters: int = 30, scale: bool = True,
                   trim: float = 2.5, tree: cKDTree | None = None) -> Similarity:
    """Trimmed symmetric ICP: each step pairs src->dst and dst->src nearest neighbours, drops pairs farther than
    ``trim`` x the median distance, and solves Umeyama."""
    tree = tree or cKDTree(dst)
    T = init
    best, best_err = init, np.inf
    prev = np.inf
    for _ in range(iters):
        x = T.apply(src)
        d1, j1 = tree.query(x)
        d2, j2 = cKDTree(x).query(dst)
        err = 0.5 * (d1.mean() + d2.mean())
        if err < best_err:
            best, best_err = T, err
        if abs(prev - err) < 1e-7 * (err + 1e-12):  # trimmed ICP is not monotone: stop on stagnation only
            break
        prev = err
        s_pts = np.r_[src, src[j2]]
        d_pts = np.r_[dst[j1], dst]
        d = np.r_[d1, d2]
        keep = d <= trim * np.median(d) + 1e-12
        T = umeyama(s_pts[keep], d_pts[keep], scale=scale)
    x = T.apply(src)
    err = 0.5 * (tree.query(x)[0].mean() + cKDTree(x).query(dst)[0].mean())
    return T if err < best_err else best


def rigid_align(src: np.ndarray, dst: np.ndarray, *, yaw_steps: int = 12, pitches=(-20.0, -10.0, 0.0, 10.0, 20.0),
                up_axis: int = 1, n_points: int = 2000, scale: bool = True, grid_trigger: float = 0.02,
                identity_margin: float = 1.3, seed: int = 0) -> tuple[Similarity, float]:
    """Similarity taking point set ``src [N, 3]`` onto ``dst [M, 3]``.

    ICP from the identity first. If its Chamfer is above ``grid_trigger`` (in the units of the points; the registration
    passes diagonal-normalised points, so 2 % of the diagonal) and above 1.5x the source's point spacing, a yaw x pitch grid of rotations about the centroids
    (scale initialised by the RMS-radius ratio) is tried, each refined by a short ICP and scored by Chamfer; a grid
    pose replaces the identity only when it is ``identity_margin`` times better (an articulated shape matches a
    wrongly rotated copy of itself almost as well as the right one). Returns (transform, Chamfer after alignment).
    """
    rng = np.random.default_rng(seed)
    s_sub = src[rng.choice(len(src), min(n_points, len(src)), replace=False)]
    d_sub = dst[rng.choice(len(dst), min(n_points, len(dst)), replace=False)]
    tree = cKDTree(d_sub)
    tree_full = cKDTree(dst)
    s_dense = src[rng.choice(len(src), min(8 * n_points, len(src)), replace=False)]

    def score(T: Similarity) -> float:  # subsample -> dense set both ways: no subsampling floor
        return float(tree_full.query(T.apply(s_sub))[0].mean() + cKDTree(T.apply(s_dense)).query(d_sub)[0].mean())

    best_T = icp_similarity(s_sub, d_sub, Similarity.identity(), iters=15, scale=scale, tree=tree)
    best_score = score(best_T)
    spacing = float(cKDTree(s_dense).query(s_dense, k=2)[0][:, 1].mean())  # the score's floor for coarse meshes
    if best_score > max(grid_trigger, 1.5 * spacing):
        cs, cd = s_sub.mean(0), d_sub.mean(0)
        rs = np.sqrt(((s_sub - cs) ** 2).sum(1).mean())
        rd = np.sqrt(((d_sub - cd) ** 2).sum(1).mean())
        s0 = rd / rs if scale and rs > 0 else 1.0
        tilt_axis = (up_axis + 1) % 3
        g_T, g_score = None, np.inf
        for p in pitches:
            for k in range(yaw_steps):
                R = _rot(up_axis, 2 * np.pi * k / yaw_steps) @ _rot(tilt_axis, np.deg2rad(p))
                T = icp_similarity(s_sub, d_sub, Similarity(s0, R, cd - s0 * R @ cs), iters=10, scale=scale, tree=tree)
                sc = score(T)
                if sc < g_score:
                    g_T, g_score = T, sc
        if g_score * identity_margin < best_score:
            best_T, best_score = g_T, g_score
    big_s = src[rng.choice(len(src), min(4 * n_points, len(src)), replace=False)]
    big_d = dst[rng.choice(len(dst), min(4 * n_points, len(dst)), replace=False)]
    T = icp_similarity(big_s, big_d, best_T, iters=30, scale=scale)
    return T, score(T)
