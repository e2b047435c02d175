"""Cotangent Laplacian and lumped mass matrix on triangle meshes.

Conventions: :func:`cotangent_laplacian` returns the *positive semi-definite* stiffness matrix
``K`` with ``K[i, j] = -(cot a_ij + cot b_ij) / 2`` for an edge ``ij`` and ``K[i, i] = -sum_j K[i, j]``
(libigl's ``cotmatrix`` is ``-K``). It is built by summing per-face contributions, so non-manifold
edges (three or more incident faces), boundaries and several connected components need no special
case. Degenerate faces are dropped; near-degenerate ones have their cotangent bounded. The shared glTF assets are
split triangle soups (Fox.glb has V = 3F): weld first (:func:`sdk.geometry.weld.weld`). Hand-written rather than
``igl.cotmatrix``: ``bench/bench_harmonic.py`` measures it against libigl (see docs/rigging.md).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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
