"""Edge graphs of meshes and connected components: the one implementation every package calls.

Edges are ``[E, 2]`` int64 arrays; graphs are scipy sparse matrices ``[V, V]``. Components use
``scipy.sparse.csgraph.connected_components`` (labels in order of first appearance of each component).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def face_edges(faces: np.ndarray) -> np.ndarray:  # faces [F, 3] -> [3F, 2] (0-1, 1-2, 2-0 of every face)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    return np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])


def unique_edges(faces: np.ndarray, n_vertices: int | None = None, *, return_inverse: bool = False):
    """Sorted unique undirected edges [E, 2] (lexicographic); with ``return_inverse`` also [F, 3]: the edge id of
    each face's edges 0-1, 1-2, 2-0. One int64 key per edge (``np.unique(axis=0)`` sorts structured rows: ~30x
    slower)."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    fe = np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], 1)  # [F, 3, 2]
    fe.sort(axis=2)
    n = max(int(n_vertices if n_vertices is not None else (f.max() + 1 if f.size else 1)), 1)
    key = fe[..., 0] * np.int64(n) + fe[..., 1]  # [F, 3]
    if return_inverse:
        k, inv = np.unique(key.reshape(-1), return_inverse=True)
        return np.stack([k // n, k % n], 1), inv.reshape(-1, 3)
    k = np.unique(key.reshape(-1))
    return np.stack([k // n, k % n], 1)


def adjacency(n: int, edges, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetric adjacency [n, n] of undirected edges ([E, 2] or a (rows, cols) pair); duplicates summed."""
    r, c = _rows_cols(edges)
    d = np.ones(len(r)) if weights is None else np.asarray(weights, dtype=np.float64)
    a = sp.coo_matrix((d, (r, c)), shape=(n, n))
    return (a + a.T).tocsr()


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


def graph_components(graph) -> tuple[int, np.ndarray]:
    """(count, component id per node) of an undirected graph (sparse or dense matrix; nonzero = edge)."""
    from scipy.sparse.csgraph import connected_components
    return connected_components(graph, directed=False)


def edge_components(n: int, edges) -> tuple[int, np.ndarray]:
    """(count, component id per node [n]) of undirected edges ([E, 2] or a (rows, cols) pair) on n nodes."""
    r, c = _rows_cols(edges)
    g = sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    return graph_components(g)


def components(faces: np.ndarray, n_vertices: int) -> tuple[int, np.ndarray]:
    """(count, component id per vertex [V]) of a triangle mesh; isolated vertices are their own component."""
    return graph_components(edge_graph(faces, n_vertices))


def _rows_cols(edges):
    if isinstance(edges, tuple):
        r, c = edges
        return np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    return e[:, 0], e[:, 1]


def mesh_graph(n: int, faces: np.ndarray | None, rest: np.ndarray, *, link_radius: float = 0.02, k: int = 8):
    """Undirected edges [E, 2] of the welded vertices: mesh edges, plus proximity links between separate pieces.

    Pieces (connected components) are linked to nearby other pieces (within ``link_radius`` of the bbox
    diagonal) so rigidly attached sub-meshes (a robot's head, a hat) become adjacent; without faces a
    kNN graph in the rest pose is used.
    """
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
        e = face_edges(faces)
        e = e[e[:, 0] != e[:, 1]]
        ncomp, comp = edge_components(n, e)
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


