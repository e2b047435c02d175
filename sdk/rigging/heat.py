"""Bone-heat skinning weights (Pinocchio, as used in AKD App. A).

For bone i: ``(-Laplace + H) w_i = H p_i`` on the surface. ``H`` is diagonal with
``H_jj = c / d(j)^2`` where ``d(j)`` is the distance from vertex j to the nearest bone *visible*
from it (``H_jj = 0`` if none is), and ``p_i[j] = 1/k`` if bone i is among the k visible bones
at (1 + 1e-4) times that distance, else 0. A bone is visible from a vertex when the segment from
the vertex to its closest point on the bone does not cross the surface. With the lumped mass ``M``
and PSD cotangent stiffness ``K`` this is the SPD system ``(K + M H) W = M H P`` for all bones at
once (one factorization). Multi-component fallback (AKD App. A): a connected component from which
no bone is visible gets its nearest bone set visible for all its vertices, which keeps the system
non-singular and lets outlier pieces follow their nearest bone.

Bones come from the skeleton: joint j's bone is the set of segments from j to each child joint
(to its part's centroid for leaves), so every bone lies inside the part that joint drives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..geometry.graph import components
from ..geometry.laplacian import cotangent_laplacian, mass_matrix


@dataclass
class HeatConfig:
    c: float = 1.0  # heat transfer constant (Pinocchio's c); relative to K with cot/2 edge weights
    tie: float = 1e-4  # bones within (1 + tie) * nearest visible distance share the vertex
    clamp_negative: bool = True
    backend: str = "auto"  # ray casting: "auto" | "warp" | "numpy"


def bone_segments(skeleton, leaf_tips: np.ndarray | None = None):
    """(starts [S, 3], ends [S, 3], joint [S]) line segments per joint of a skeleton."""
    pos = skeleton.joint_positions()
    J = skeleton.n_joints
    tips = leaf_tips if leaf_tips is not None else skeleton.tips if skeleton.tips is not None else pos
    s, e, j = [], [], []
    for k in range(J):
        kids = skeleton.children(k)
        ends = [pos[c] for c in kids] if kids else [tips[k]]
        for t in ends:
            s.append(pos[k])
            e.append(t)
            j.append(k)
    return np.array(s), np.array(e), np.array(j, dtype=np.int64)


def point_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray):
    """points [N, 3], segments a, b [S, 3] -> (distance [N, S], closest point [N, S, 3])."""
    ab = b - a  # [S, 3]
    denom = np.maximum((ab * ab).sum(1), 1e-300)
    t = np.clip(((points[:, None, :] - a[None]) * ab[None]).sum(-1) / denom, 0.0, 1.0)  # [N, S]
    cp = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - cp, axis=-1), cp


def heat_weights(vertices: np.ndarray, faces: np.ndarray, skeleton, joint_parts=None, labels=None,
                 config: HeatConfig | None = None, progress=None, leaf_tips=None,
                 return_visibility: bool = False):
    """Bone-heat weights [W, J] on a welded mesh (rows sum to 1).

    vertices: [W, 3]; faces: [F, 3]; skeleton: Skeleton whose joints define the bones.
    ``joint_parts``/``labels`` are accepted for API symmetry with harmonic weights (unused:
    bone heat depends only on geometry and bones).
    """
    from ._raycast import Occluder
    cfg = config or HeatConfig()
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    Wn = len(v)
    J = skeleton.n_joints
    sa, sb, sj = bone_segments(skeleton, leaf_tips)
    # distance and closest point per vertex and joint (min over the joint's segments)
    dist = np.full((Wn, J), np.inf)
    close = np.zeros((Wn, J, 3))
    step = max(1, 2_000_000 // max(len(sa), 1))
    for s0 in range(0, Wn, step):
        d, cp = point_segment(v[s0:s0 + step], sa, sb)
        for k in range(len(sa)):
            jj = sj[k]
            better = d[:, k] < dist[s0:s0 + step, jj]
            rows = np.flatnonzero(better) + s0
            dist[rows, jj] = d[better, k]
            close[rows, jj] = cp[better, k]
    if progress is not None:
        progress(0.1, "bone distances")
    diag = float(np.linalg.norm(v.max(0) - v.min(0))) or 1.0
    eps = 1e-5 * diag
    occ = Occluder(v, f, cfg.backend)
    order = np.argsort(dist, axis=1, kind="stable")  # [W, J]
    visible_first = np.full(Wn, -1)  # rank of the nearest visible bone
    pending = np.arange(Wn)
    for r in range(J):
        if not len(pending):
            break
        jj = order[pending, r]
        blocked = occ.occluded(v[pending], close[pending, jj], eps)
        visible_first[pending[~blocked]] = r
        pending = pending[blocked]
        if progress is not None:
            progress(0.1 + 0.4 * (1 - len(pending) / Wn), "visibility")
    seen = visible_first >= 0
    dmin = np.full(Wn, np.inf)
    dmin[seen] = dist[np.flatnonzero(seen), order[np.flatnonzero(seen), visible_first[seen]]]
    Pm = np.zeros((Wn, J))
    Pm[np.flatnonzero(seen), order[np.flatnonzero(seen), visible_first[seen]]] = 1.0
    # ties: the next-ranked bone at (almost) the same distance, if visible, shares the vertex
    nxt = np.flatnonzero(seen & (visible_first + 1 < J))
    if len(nxt):
        j2 = order[nxt, visible_first[nxt] + 1]
        tie = dist[nxt, j2] <= (1 + cfg.tie) * dmin[nxt]
        cand = nxt[tie]
        if len(cand):
            jc = j2[tie]
            ok = ~occ.occluded(v[cand], close[cand, jc], eps)
            Pm[cand[ok], jc[ok]] = 1.0
    # multi-component fallback: components that see no bone follow their nearest bone
    ncomp, comp = components(f, Wn)
    blind = np.ones(ncomp, dtype=bool)
    blind[comp[seen]] = False
    for c in np.flatnonzero(blind):
        members = np.flatnonzero(comp == c)
        jn = int(np.argmin(dist[members].min(0)))
        dmin[members] = dist[members, jn]
        Pm[members] = 0.0
        Pm[members, jn] = 1.0
        seen[members] = True
    Pm /= np.maximum(Pm.sum(1, keepdims=True), 1e-300)
    H = np.where(seen, cfg.c / np.maximum(dmin, 1e-12 * diag) ** 2, 0.0)
    if progress is not None:
        progress(0.6, "heat solve")
    K = cotangent_laplacian(v, f, Wn, clamp_negative=cfg.clamp_negative)
    M = mass_matrix(v, f, Wn)
    MH = M * H
    iso = MH <= 0  # isolated vertices (no faces) that see a bone: pin them to it
    iso &= seen & (np.asarray(np.abs(K).sum(1)).ravel() == 0)
    MH[iso] = 1.0
    A = (K + sp.diags(MH)).tocsc()
    from scipy.sparse.linalg import splu
    lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    cols = np.flatnonzero(Pm.any(0))
    Wt = np.zeros((Wn, J))
    if len(cols):
        Wt[:, cols] = lu.solve(np.ascontiguousarray(MH[:, None] * Pm[:, cols]))
    Wt = np.clip(Wt, 0.0, None)
    s = Wt.sum(1, keepdims=True)
    Wt = np.where(s > 1e-12, Wt / np.maximum(s, 1e-300), Pm)
    if progress is not None:
        progress(1.0, "heat done")
    if return_visibility:
        return Wt, seen
    return Wt


def _torch_impl_heat(vertices, faces, H, Pm):
    """Dense reference for the heat solve: (K + M H) W = M H P (tests only)."""
    import torch
    from ..geometry._reference import _torch_impl_cotangent_laplacian
    K = torch.as_tensor(_torch_impl_cotangent_laplacian(vertices, faces))
    M = torch.as_tensor(mass_matrix(vertices, faces))
    MH = M * torch.as_tensor(np.asarray(H, dtype=np.float64))
    return torch.linalg.solve(K + torch.diag(MH), MH[:, None] * torch.as_tensor(np.asarray(Pm, dtype=np.float64))).numpy()
