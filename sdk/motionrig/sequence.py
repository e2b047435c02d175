"""Mesh sequences for rig-from-motion: vertex welding over time and the mesh graph of welded vertices.

The readers moved to ``sdk.io.sequence`` (dispatch: ``sdk.io.load_sequence``) and the ``.npz`` writer to
``exporters.npz``; their old names stay importable from here.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..core.sequence import MeshSequence
from ..io.sequence import (load_frames_folder, load_gltf_clip, load_npz, load_sequence,  # noqa: F401 (old names)
                           load_trajectories, load_usd_points)

log = logging.getLogger(__name__)

__all__ = ["MeshSequence", "load_frames_folder", "load_gltf_clip", "load_npz", "load_sequence", "load_trajectories",
           "load_usd_points", "mesh_graph", "save_npz", "weld"]


def save_npz(seq: MeshSequence, path) -> Path:
    """Write ``.npz`` (vertices float32, faces, fps) atomically (``exporters.npz.write_sequence_npz``)."""
    from exporters.npz import write_sequence_npz
    return write_sequence_npz(seq, path)


# ---------------------------------------------------------------------- welding / graph
def weld(seq_vertices: np.ndarray, tol: float = 1e-6, n_check: int = 5):
    """Merge vertices that coincide in every frame (triangle soups, seam splits).

    seq_vertices [T, V, 3] -> (index [V] into welded, rep [N] a representative original vertex per welded one).
    Two vertices weld when they coincide (within ``tol`` of the bbox diagonal) in ``n_check`` frames spread over
    the sequence, so pieces that touch at rest but move apart stay separate.
    """
    T, V, _ = seq_vertices.shape
    frames = np.unique(np.round(np.linspace(0, T - 1, min(n_check, T))).astype(np.int64))
    x = seq_vertices[frames].transpose(1, 0, 2).reshape(V, -1)
    diag = float(np.linalg.norm(seq_vertices[0].max(0) - seq_vertices[0].min(0))) or 1.0
    q = np.round(x / (tol * diag)).astype(np.int64)
    _, rep, index = np.unique(q, axis=0, return_index=True, return_inverse=True)
    return index.reshape(-1), rep


def mesh_graph(n: int, faces: np.ndarray | None, rest: np.ndarray, *, link_radius: float = 0.02, k: int = 8):
    """Undirected edges [E, 2] of the welded vertices: mesh edges, plus proximity links between separate pieces.

    Pieces (connected components) are linked to nearby other pieces (within ``link_radius`` of the bbox
    diagonal) so rigidly attached sub-meshes (a robot's head, a hat) become adjacent; without faces a
    kNN graph in the rest pose is used.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    diag = float(np.linalg.norm(rest.max(0) - rest.min(0))) or 1.0
    tree = cKDTree(rest)
    if faces is None or len(faces) == 0:
        kk = min(k + 1, n)
        d, j = tree.query(rest, k=kk)
        i = np.repeat(np.arange(n), kk)
        e = np.stack([i, j.reshape(-1)], 1)
        e = e[e[:, 0] != e[:, 1]]
    else:
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        e = e[e[:, 0] != e[:, 1]]
        a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        ncomp, comp = connected_components(a, directed=False)
        if ncomp > 1:
            e = np.concatenate([e, _link_pieces(rest, comp, ncomp, link_radius * diag, tree, k)])
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0)


def _link_pieces(rest, comp, ncomp, radius, tree, k):
    """Edges between separate pieces: every vertex within ``radius`` of another piece links to its nearest vertex
    there, and every piece links to its nearest other piece by its closest vertex pair."""
    from scipy.spatial import cKDTree
    n = len(rest)
    out = []
    if ncomp > 256:  # many pieces (unwelded soup): plain kNN across pieces
        kk = min(k + 1, n)
        d, j = tree.query(rest, k=kk, distance_upper_bound=radius)
        i = np.repeat(np.arange(n), kk)
        j = j.reshape(-1)
        ok = j < n
        i, j = i[ok], j[ok]
        return np.stack([i[comp[i] != comp[j]], j[comp[i] != comp[j]]], 1)
    for c in range(ncomp):
        inside = np.flatnonzero(comp == c)
        outside = np.flatnonzero(comp != c)
        t = cKDTree(rest[outside])
        d, j = t.query(rest[inside], k=1)
        near = d <= radius
        out.append(np.stack([inside[near], outside[j[near]]], 1))
        b = int(np.argmin(d))
        out.append(np.array([[inside[b], outside[j[b]]]]))
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


