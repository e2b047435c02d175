"""Template-free skeleton: curve skeleton by Laplacian mesh contraction (Au et al. 2008), then a joint tree.

1. Contraction (Au et al. 2008 §4): iterate ``[W_L L; W_H] V' = [0; W_H V]`` (least squares, normal
   equations), with L the cotangent Laplacian of the current shape, ``W_L^0 = 1e-3 sqrt(mean face area)``,
   ``W_L <- s_L W_L`` (s_L = 2, the paper's value), ``W_H,i = W_H^0 sqrt(A_i^0 / A_i)`` (one-ring areas),
   until the area falls below ``area_ratio`` of the original or ``iterations`` is reached.
2. Connectivity (simplified from Au's edge-collapse surgery): contracted points are clustered by
   farthest-point sampling with radius ``cluster`` x bbox diagonal; clusters are adjacent when a mesh edge
   joins them; the tree is the minimum spanning tree of that graph (edge length = centroid distance), with
   branches shorter than ``prune`` x diagonal removed.
3. Joints: the tree's branch points and leaves, plus points along each branch every ``bone_length`` x
   diagonal; the root is the node nearest the mesh centroid. A bone budget (``max_bones``) removes the
   chain joint whose two bones are shortest together until it is met.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class CurveConfig:
    iterations: int = 12  # at most (ours; Au et al. stop on volume, typically < 10); stops when area grows again
    s_l: float = 2.0  # W_L growth factor (Au et al.)
    w_l0: float = 0.1  # initial contraction weight relative to K (ours, see contract; tuned on the sample)
    area_ratio: float = 1e-3  # stop when the area is below this fraction of the original (ours)
    max_vertices: int = 3000  # contraction runs on a decimated copy above this (ours)
    cluster: float = 0.035  # cluster radius, bbox diagonals (ours)
    prune: float = 0.06  # drop leaf branches shorter than this, bbox diagonals (ours)
    bone_length: float = 0.12  # target bone length along branches, bbox diagonals (ours)


def contract(vertices: np.ndarray, faces: np.ndarray, config: CurveConfig | None = None) -> np.ndarray:
    """Contracted positions [V, 3] (Au et al. 2008)."""
    from scipy.sparse.linalg import splu
    from ..rigging.laplacian import cotangent_laplacian, mass_matrix
    cfg = config or CurveConfig()
    v = np.asarray(vertices, dtype=np.float64).copy()
    f = np.asarray(faces, dtype=np.int64)
    n = len(v)
    a = v[f[:, 1]] - v[f[:, 0]]
    b = v[f[:, 2]] - v[f[:, 0]]
    fa = 0.5 * np.linalg.norm(np.cross(a, b), axis=1)
    A0 = max(fa.sum(), 1e-30)
    wl = cfg.w_l0  # Au et al.: 1e-3 sqrt(mean face area) for their Laplacian scaling; ours is dimensionless (K has cot/2 entries)
    m0 = np.maximum(mass_matrix(v, f, n), 1e-30)
    wh = np.ones(n)
    best, best_area = v.copy(), A0
    for _ in range(cfg.iterations):
        K = cotangent_laplacian(v, f, n, clamp_negative=True)
        A = (wl * wl) * (K.T @ K) + sp.diags(wh * wh + 1e-9)
        A = A.tocsc()
        if not np.isfinite(A.data).all():
            break
        try:
            v_new = splu(A).solve((wh * wh)[:, None] * v)
        except RuntimeError:  # singular (degenerate collapsed faces): keep the last shape
            break
        if not np.isfinite(v_new).all():
            break
        a = v_new[f[:, 1]] - v_new[f[:, 0]]
        b = v_new[f[:, 2]] - v_new[f[:, 0]]
        area = 0.5 * np.linalg.norm(np.cross(a, b), axis=1).sum()
        if area >= best_area:  # degenerate cotangents make it re-inflate: keep the most contracted shape
            break
        v, best, best_area = v_new, v_new, area
        m = np.maximum(mass_matrix(v, f, n), 1e-30)
        if area < cfg.area_ratio * A0:
            break
        wl *= cfg.s_l
        wh = np.sqrt(m0 / m).clip(1e-2, 1e4)
    return best


def curve_skeleton(vertices: np.ndarray, faces: np.ndarray, config: CurveConfig | None = None,
                   max_bones: int | None = None):
    """(positions [J, 3], parents [J]) of a tree skeleton for any closed-ish mesh."""
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
    from scipy.spatial import cKDTree
    cfg = config or CurveConfig()
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    diag = float(np.linalg.norm(v.max(0) - v.min(0))) or 1.0
    c = contract(v, f, cfg)
    # farthest-point clustering of the contracted points
    rad = cfg.cluster * diag
    owner = np.full(len(c), -1)
    kd = cKDTree(c)
    centers = []
    order = np.argsort(np.linalg.norm(c - c.mean(0), axis=1))[::-1]
    for i in order:
        if owner[i] >= 0:
            continue
        idx = np.array(kd.query_ball_point(c[i], rad), dtype=np.int64)
        idx = idx[owner[idx] < 0]
        owner[idx] = len(centers)
        centers.append(i)
    N = len(centers)
    cen = np.stack([np.bincount(owner, weights=v[:, k] * 0 + c[:, k], minlength=N) for k in range(3)], 1)
    cen /= np.bincount(owner, minlength=N)[:, None]
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    a, b = owner[e[:, 0]], owner[e[:, 1]]
    m = a != b
    G = sp.coo_matrix((np.ones(int(m.sum())), (a[m], b[m])), shape=(N, N)).tocsr()
    G = ((G + G.T) > 0).tocoo()
    L = np.linalg.norm(cen[G.row] - cen[G.col], axis=1) + 1e-12
    W = sp.coo_matrix((L, (G.row, G.col)), shape=(N, N)).tocsr()
    from .medial import _connect
    W = _connect(W, cen)
    T = minimum_spanning_tree(W)
    T = ((T + T.T) > 0).astype(float).tolil()
    # prune short leaf branches
    for _ in range(4):
        adj = [list(T.rows[i]) for i in range(N)]
        deg = np.array([len(x) for x in adj])
        removed = False
        for leaf in np.flatnonzero(deg == 1):
            path, prev, cur, length = [leaf], -1, leaf, 0.0
            while deg[cur] <= 2:
                nxt = [x for x in adj[cur] if x != prev]
                if not nxt:
                    break
                length += np.linalg.norm(cen[nxt[0]] - cen[cur])
                prev, cur = cur, nxt[0]
                if deg[cur] != 2:
                    break
                path.append(cur)
            if deg[cur] >= 3 and length < cfg.prune * diag:
                for p in path:
                    for q in list(T.rows[p]):
                        T[p, q] = 0
                        T[q, p] = 0
                removed = True
        if not removed:
            break
    T = T.tocsr()
    T.eliminate_zeros()
    deg = np.diff(T.indptr)
    alive = np.flatnonzero(deg > 0)
    if len(alive) == 0:
        alive = np.array([0])
    # root: the alive node nearest the centroid
    root = int(alive[np.argmin(np.linalg.norm(cen[alive] - v.mean(0), axis=1))])
    nc, lab = connected_components(T, directed=False)
    keep = lab == lab[root]
    # walk the tree: keep junctions, leaves and chain points every bone_length
    parents_node = {root: -1}
    order = [root]
    i = 0
    while i < len(order):
        x = order[i]
        for y in T.indices[T.indptr[x]:T.indptr[x + 1]]:
            if keep[y] and y not in parents_node:
                parents_node[int(y)] = x
                order.append(int(y))
        i += 1
    kids = {x: [] for x in order}
    for x in order[1:]:
        kids[parents_node[x]].append(x)
    pos, par = [cen[root]], [-1]
    joint_of = {root: 0}
    step = cfg.bone_length * diag
    for x in order[1:]:
        p = parents_node[x]
        # the nearest kept ancestor
        anc = p
        while anc not in joint_of:
            anc = parents_node[anc]
        since = np.linalg.norm(cen[x] - pos[joint_of[anc]])
        if len(kids[x]) != 1 or since >= step:
            joint_of[x] = len(pos)
            pos.append(cen[x])
            par.append(joint_of[anc])
        else:
            # chain node skipped: its children attach to anc
            parents_node_x = anc
            for k in kids[x]:
                parents_node[k] = parents_node_x
    pos, par = np.array(pos), np.array(par, dtype=np.int64)
    if max_bones is not None:
        pos, par = limit_joints(pos, par, int(max_bones))
    return pos, par


def limit_joints(pos: np.ndarray, par: np.ndarray, max_joints: int):
    """Remove chain joints (one child) with the shortest adjacent bones, then leaves, until <= max_joints."""
    pos, par = pos.copy(), par.copy()
    while len(pos) > max(max_joints, 1):
        J = len(pos)
        nkids = np.bincount(par[par >= 0], minlength=J)
        cand = [j for j in range(1, J) if nkids[j] == 1]
        if cand:
            cost = [np.linalg.norm(pos[j] - pos[par[j]]) + np.linalg.norm(pos[np.flatnonzero(par == j)[0]] - pos[j])
                    for j in cand]
            j = cand[int(np.argmin(cost))]
        else:
            lv = [j for j in range(1, J) if nkids[j] == 0]
            if not lv:
                break
            j = lv[int(np.argmin([np.linalg.norm(pos[k] - pos[par[k]]) for k in lv]))]
        par = np.where(par == j, par[j], par)
        keep = np.arange(J) != j
        remap = np.cumsum(keep) - 1
        par = np.where(par[keep] >= 0, remap[np.maximum(par[keep], 0)], -1)
        pos = pos[keep]
    return pos, par
