"""Slow, obviously-correct references of the geometry kernels: what the tests compare the fast paths against.

Not used by the product code."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


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


def _torch_impl_dense(vertices: Tensor, skinning: Tensor, dense_weights: Tensor) -> Tensor:
    """Reference: dense weights [V, J]; used by tests to check the sparse path."""
    vh = torch.cat([vertices, torch.ones_like(vertices[..., :1])], -1)  # [V, 4]
    per_joint = torch.einsum("...jab,vb->...jva", skinning, vh)[..., :3]  # [..., J, V, 3]
    return torch.einsum("vj,...jva->...va", dense_weights.to(skinning.dtype), per_joint)


def _reference_kabsch(p: np.ndarray, q: np.ndarray, w: np.ndarray | None = None):
    """Plain numpy reference (one problem at a time) the tests compare the batched path against."""
    w = np.ones(len(p)) if w is None else np.asarray(w, float)
    pc = (w[:, None] * p).sum(0) / w.sum()
    qc = (w[:, None] * q).sum(0) / w.sum()
    h = (w[:, None] * (p - pc)).T @ (q - qc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    return r, qc - r @ pc


def _reference_weld(vertices: np.ndarray, faces: np.ndarray, tol: float):
    """weld by np.unique over grid keys (the fast path's lexsort gives the same vmap order)."""
    v = np.asarray(vertices, dtype=np.float64)
    key = np.floor((v - v.min(0)) / tol + 0.5).astype(np.int64)
    _, first, vmap = np.unique(key, axis=0, return_index=True, return_inverse=True)
    wf = vmap.reshape(-1)[np.asarray(faces, dtype=np.int64)]
    ok = (wf[:, 0] != wf[:, 1]) & (wf[:, 1] != wf[:, 2]) & (wf[:, 0] != wf[:, 2])
    return v[first], wf[ok], vmap.reshape(-1)


def _reference_unique_edges(faces: np.ndarray) -> np.ndarray:
    f = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e.sort(axis=1)
    return np.unique(e, axis=0)


def _reference_components(n: int, edges: np.ndarray) -> np.ndarray:
    """Union-find labels, renumbered by first appearance (scipy's order)."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in np.asarray(edges, dtype=np.int64).reshape(-1, 2):
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = [find(i) for i in range(n)]
    ids: dict[int, int] = {}
    return np.array([ids.setdefault(r, len(ids)) for r in roots], dtype=np.int64)


def axis_angle_matrix_scipy(axis: np.ndarray, angle) -> np.ndarray:  # axis [3], angle [...] -> [..., 3, 3]
    """Rodrigues via scipy's Rotation.from_rotvec (the reference of sdk.geometry.rotations.axis_angle_matrix)."""
    from scipy.spatial.transform import Rotation
    a = np.asarray(axis, dtype=np.float64)
    a = a / max(np.linalg.norm(a), 1e-30)
    t = np.asarray(angle, dtype=np.float64)
    return Rotation.from_rotvec(t.reshape(-1)[:, None] * a[None]).as_matrix().reshape(t.shape + (3, 3))
