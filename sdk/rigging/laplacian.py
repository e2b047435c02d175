"""Welding, cotangent Laplacian and lumped mass matrix on triangle soups.

The shared glTF assets are split triangle soups (Fox.glb has V = 3F), so every method that uses
connectivity first welds coincident vertices by position (:func:`weld`), works on the welded mesh
and maps the result back with ``vmap``.

Conventions: :func:`cotangent_laplacian` returns the *positive semi-definite* stiffness matrix
``K`` with ``K[i, j] = -(cot a_ij + cot b_ij) / 2`` for an edge ``ij`` and ``K[i, i] = -sum_j K[i, j]``
(libigl's ``cotmatrix`` is ``-K``). It is built by summing per-face contributions, so non-manifold
edges (three or more incident faces), boundaries and several connected components need no special
case. Degenerate faces are dropped; near-degenerate ones have their cotangent bounded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class Welded:
    vertices: np.ndarray  # [W, 3] float64 unique positions
    faces: np.ndarray  # [F', 3] int64 faces on welded vertices (degenerate ones dropped)
    vmap: np.ndarray  # [V] int64 original vertex -> welded vertex
    face_index: np.ndarray  # [F'] int64 original face id of each kept face

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)


def weld(vertices: np.ndarray, faces: np.ndarray, tol: float | None = None) -> Welded:
    """Merge vertices closer than ``tol`` (default 1e-7 of the bbox diagonal) by position.

    vertices: [V, 3]; faces: [F, 3]. Positions are snapped to a grid of size ``tol``; vertices in
    the same cell become one. Faces that collapse (repeated welded index) are dropped.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if tol is None:
        diag = float(np.linalg.norm(v.max(0) - v.min(0))) if len(v) else 0.0
        tol = 1e-7 * max(diag, 1e-12)
    key = np.floor((v - v.min(0)) / tol + 0.5).astype(np.int64) if len(v) else np.zeros((0, 3), np.int64)
    # rows of equal keys: stable lexsort + run starts (same result as np.unique(axis=0, return_index,
    # return_inverse), which sorts structured rows and is ~10x slower)
    order = np.lexsort((key[:, 2], key[:, 1], key[:, 0])) if len(key) else np.zeros(0, np.int64)
    ks = key[order]
    start = np.r_[True, (ks[1:] != ks[:-1]).any(1)] if len(ks) else np.zeros(0, bool)
    vmap = np.empty(len(key), dtype=np.int64)
    vmap[order] = np.cumsum(start) - 1
    first = order[start]
    wf = vmap[f]
    ok = (wf[:, 0] != wf[:, 1]) & (wf[:, 1] != wf[:, 2]) & (wf[:, 0] != wf[:, 2])
    return Welded(v[first], wf[ok], vmap, np.flatnonzero(ok))


def edge_graph(faces: np.ndarray, n_vertices: int, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetric vertex adjacency [V, V]; entries are edge lengths if ``weights`` is the vertices array."""
    f = np.asarray(faces, dtype=np.int64)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    if weights is None:
        d = np.ones(len(i))
    else:
        d = np.linalg.norm(weights[i] - weights[j], axis=1)
        d = np.maximum(d, 1e-300)
    a = sp.coo_matrix((np.r_[d, d], (np.r_[i, j], np.r_[j, i])), shape=(n_vertices, n_vertices)).tocsr()
    a.sum_duplicates()
    if weights is not None:  # duplicated edges were summed: restore the length
        cnt = sp.coo_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n_vertices, n_vertices)).tocsr()
        a.data /= cnt.data
    return a


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """[E, 2] sorted unique undirected edges."""
    f = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e.sort(axis=1)
    n = int(e.max()) + 1 if len(e) else 1
    k = np.unique(e[:, 0] * n + e[:, 1])
    return np.stack([k // n, k % n], 1)


def cotangent_weights(vertices: np.ndarray, faces: np.ndarray, eps: float = 1e-12):
    """Per-face half-cotangents. Returns (rows [3F], cols [3F], w [3F]) with w = cot(angle opposite)/2.

    cot at corner a = (|ab|^2 + |ac|^2 - |bc|^2) / (4 area); the area is bounded below by
    ``eps`` times the squared longest edge so slivers give large but finite weights.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    p0, p1, p2 = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    e0, e1, e2 = p2 - p1, p0 - p2, p1 - p0  # edge opposite corner 0, 1, 2
    l0, l1, l2 = (e0 * e0).sum(1), (e1 * e1).sum(1), (e2 * e2).sum(1)
    cr = np.cross(e1, e2)
    area2 = np.sqrt((cr * cr).sum(1))  # 2 * area
    area2 = np.maximum(area2, eps * np.maximum(np.maximum(l0, l1), l2))
    inv = 1.0 / (4.0 * np.maximum(area2, 1e-300))  # 1 / (8 area): half cotangent factor
    w0 = (l1 + l2 - l0) * inv
    w1 = (l2 + l0 - l1) * inv
    w2 = (l0 + l1 - l2) * inv
    rows = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 2], f[:, 0], f[:, 1]])
    return rows, cols, np.concatenate([w0, w1, w2])


def cotangent_laplacian(vertices: np.ndarray, faces: np.ndarray, n_vertices: int | None = None,
                        *, clamp_negative: bool = False) -> sp.csr_matrix:
    """PSD cotangent stiffness matrix K [V, V] (float64, CSR).

    vertices: [V, 3]; faces: [F, 3]. ``clamp_negative`` sets negative edge weights (edges whose two
    opposite angles sum to more than pi) to a tiny positive floor: K is then an M-matrix and harmonic solutions obey
    the maximum principle (weights stay in [0, 1]); on meshes without such edges it changes nothing.
    """
    n = len(vertices) if n_vertices is None else n_vertices
    r, c, w = cotangent_weights(vertices, faces)
    W = sp.coo_matrix((np.r_[w, w], (np.r_[r, c], np.r_[c, r])), shape=(n, n)).tocsr()
    W.sum_duplicates()
    if clamp_negative and W.nnz:
        # floor instead of zero so that the edge graph (and the system's connectivity) is kept
        floor = 1e-6 * float(np.median(np.abs(W.data)))
        W.data = np.maximum(W.data, floor)
    d = np.asarray(W.sum(axis=1)).ravel()
    return (sp.diags(d) - W).tocsr()


def mass_matrix(vertices: np.ndarray, faces: np.ndarray, n_vertices: int | None = None) -> np.ndarray:
    """Lumped barycentric vertex areas [V] (a third of each incident face's area)."""
    n = len(vertices) if n_vertices is None else n_vertices
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    m = np.zeros(n)
    for k in range(3):
        m += np.bincount(f[:, k], weights=area / 3.0, minlength=n)
    return m


def components(faces: np.ndarray, n_vertices: int) -> tuple[int, np.ndarray]:
    """(count, component id per vertex [V]); isolated vertices are their own component."""
    from scipy.sparse.csgraph import connected_components
    return connected_components(edge_graph(faces, n_vertices), directed=False)


def _torch_impl_cotangent_laplacian(vertices, faces):
    """Dense reference K [V, V] from explicit angles (tests only)."""
    import torch
    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    n = v.shape[0]
    K = torch.zeros(n, n, dtype=torch.float64)
    for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        e1 = v[f[:, b]] - v[f[:, a]]
        e2 = v[f[:, c]] - v[f[:, a]]
        ang = torch.atan2(torch.linalg.norm(torch.cross(e1, e2, dim=1), dim=1), (e1 * e2).sum(1))
        w = 0.5 / torch.tan(ang)
        for t in range(len(f)):
            i, j = int(f[t, b]), int(f[t, c])
            K[i, j] -= w[t]
            K[j, i] -= w[t]
            K[i, i] += w[t]
            K[j, j] += w[t]
    return K.numpy()
