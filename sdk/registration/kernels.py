"""Geometry kernels for registration (numpy / torch; no pytorch3d): nearest neighbours, surface sampling, exact
closest points on triangles with barycentrics, normals, mesh graph Laplacian."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..geometry.closest import closest_on_triangles


# ------------------------------------------------------------------------------------------------ neighbours
def knn1(query: Tensor, ref: Tensor, chunk: int = 8192, tree=None, method: str = "auto") -> tuple[Tensor, Tensor]:
    """Nearest ``ref`` point of every ``query`` point.

    query: [N, 3], ref: [M, 3] -> (squared distance [N], index [N]). ``method``: ``"kdtree"`` (scipy cKDTree on the
    host; ``tree``: a prebuilt one over ``ref``), ``"brute"`` (device-resident: per chunk of queries one mat-mul
    ``|r|^2 - 2 q.r`` and an argmin, no host round trip), ``"auto"``: kdtree on the CPU, brute elsewhere. The returned
    squared distances are recomputed exactly from the chosen pairs.
    """
    q, r = query.detach(), ref.detach()
    if method == "auto":
        method = "kdtree" if q.device.type == "cpu" else "brute"
    if method == "kdtree":
        from scipy.spatial import cKDTree
        tree = tree if tree is not None else cKDTree(r.cpu().numpy())
        _, j = tree.query(q.cpu().numpy(), k=1)
        j = torch.as_tensor(j, dtype=torch.int64, device=q.device)
    elif method == "brute":
        rn = (r * r).sum(-1)  # [M]
        j = torch.cat([torch.addmm(rn[None], q[i:i + chunk], r.T, alpha=-2.0).argmin(1) for i in range(0, len(q), chunk)])
    else:
        raise ValueError(f"knn1 method must be 'auto', 'kdtree' or 'brute', got {method!r}")
    return ((q - r[j]) ** 2).sum(-1), j


# ------------------------------------------------------------------------------------------------ meshes
def face_normals_np(v: np.ndarray, f: np.ndarray) -> np.ndarray:  # -> [F, 3] unnormalised (2 x area)
    return np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])


def vertex_normals(v: Tensor, f: Tensor) -> Tensor:
    """Area-weighted unit vertex normals. v: [V, 3], f: [F, 3] -> [V, 3]."""
    fn = torch.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]], dim=-1)
    n = torch.zeros_like(v).index_add_(0, f[:, 0], fn).index_add_(0, f[:, 1], fn).index_add_(0, f[:, 2], fn)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-20)


def unique_edges(f: np.ndarray) -> np.ndarray:  # [F, 3] -> [E, 2] sorted pairs
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e.sort(axis=1)
    return np.unique(e, axis=0)


def sample_surface(v: np.ndarray, f: np.ndarray, n: int, rng: np.random.Generator):
    """Area-uniform surface samples -> (points [n, 3], face index [n], barycentrics [n, 3])."""
    area = np.linalg.norm(face_normals_np(v, f), axis=1)
    p = area / area.sum() if area.sum() > 0 else None
    fi = rng.choice(len(f), size=n, p=p)
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    bary = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], 1)
    pts = (v[f[fi]] * bary[..., None]).sum(1)
    return pts, fi, bary


def closest_points_on_mesh(q: np.ndarray, v: np.ndarray, f: np.ndarray, k: int = 16):
    """Exact closest point on a triangle mesh for every query (candidate faces: the ``k`` faces whose centroids are
    nearest, plus the faces of the nearest vertex).

    q [N, 3] -> (points [N, 3], face [N], barycentrics [N, 3], distance [N]).
    """
    from scipy.spatial import cKDTree
    cen = v[f].mean(1)
    k = min(k, len(f))
    _, cand = cKDTree(cen).query(q, k=k)
    cand = cand.reshape(len(q), -1)
    best_d = np.full(len(q), np.inf)
    best_p = np.zeros_like(q)
    best_f = np.zeros(len(q), np.int64)
    best_b = np.zeros((len(q), 3))
    for c in range(cand.shape[1]):
        fi = cand[:, c]
        p, b = closest_on_triangles(q, v[f[fi, 0]], v[f[fi, 1]], v[f[fi, 2]])
        d = np.linalg.norm(q - p, axis=1)
        better = d < best_d
        best_d[better], best_p[better], best_f[better], best_b[better] = d[better], p[better], fi[better], b[better]
    return best_p, best_f, best_b, best_d


# ------------------------------------------------------------------------------------------------ Laplacian
def graph_laplacian(n: int, edges: np.ndarray, dtype=torch.float64):
    """Combinatorial Laplacian L = D - A of the mesh graph as a scipy CSR matrix."""
    import scipy.sparse as sp
    i, j = edges[:, 0], edges[:, 1]
    a = sp.coo_matrix((np.ones(2 * len(edges)), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    return (sp.diags(np.asarray(a.sum(1)).ravel()) - a).tocsr()
