"""Skinned Gaussians (AKD §3.1 Eq. 2, §4.1, App. A).

* ``closest_surface_points``: nearest point on a triangle mesh (exact point–triangle distance over the k faces
  whose centroids are nearest; k is ours).
* ``transfer_skin_weights``: each Gaussian takes the **barycentric interpolation of the mesh weights at its
  nearest surface point** (App. A), not the nearest vertex's weights.
* ``deform_gaussians``: ``μ' = Σ_b w_b (R_b μ + t_b)``, ``Σ' = A Σ Aᵀ`` with ``A = Σ_b w_b R_b`` (the blended linear
  part of the LBS map; the ``∇w`` term vanishes because the weights are per-Gaussian constants). Opacity and SH
  stay constant.
* ``gaussians_from_mesh``: a weight-free stand-in for AKD's 200-view 3DGS fit: area-weighted surface samples
  with flat discs tangent to the surface and the face colour (ours; the paper fits 3DGS to renders).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..core import GaussianCloud, Mesh, SkinWeights
from ..geometry.closest import closest_on_triangles


def closest_surface_points(points: np.ndarray, mesh: Mesh, k: int = 16, k_vertices: int = 4):
    """points [N, 3] -> (face [N], barycentric [N, 3], closest point [N, 3]).

    Exact over the candidate faces: the ``k`` faces with the nearest centroids plus every face incident to the
    ``k_vertices`` nearest vertices (k values ours; together they cover large low-poly triangles)."""
    from scipy.spatial import cKDTree
    v, f = mesh.vertices, mesh.faces
    n = len(points)
    cen = v[f].mean(1)
    k = min(k, len(f))
    _, cand = cKDTree(cen).query(points, k=k)
    cands = [np.asarray(cand).reshape(n, k)]
    # weld coincident vertices (unindexed meshes) so incidence crosses face boundaries
    scale = max(float(np.ptp(v, axis=0).max()), 1e-30)
    uniq, weld = np.unique(np.round(v / scale, 7), axis=0, return_inverse=True)
    weld = weld.reshape(-1)
    fw = weld[f]
    kv = min(k_vertices, len(uniq))
    _, nv = cKDTree(uniq * scale).query(points, k=kv)
    nv = np.asarray(nv).reshape(n, kv)
    # vertex -> incident faces, padded to the max valence
    vf = np.repeat(np.arange(len(f)), 3)
    order = np.argsort(fw.ravel(), kind="stable")
    vid, fid = fw.ravel()[order], vf[order]
    start = np.searchsorted(vid, np.arange(len(uniq)))
    count = np.bincount(vid, minlength=len(uniq))
    val = int(count.max())
    pad = np.full((len(uniq), val), -1, dtype=np.int64)
    col = np.arange(len(vid)) - start[vid]
    pad[vid, col] = fid
    inc = pad[nv].reshape(n, -1)
    cands.append(inc)
    cand = np.concatenate(cands, 1)
    best_d = np.full(n, np.inf)
    best_f = np.zeros(n, dtype=np.int64)
    best_b = np.zeros((n, 3))
    best_q = np.zeros((n, 3))
    for i in range(cand.shape[1]):
        fi = cand[:, i]
        valid = fi >= 0
        fi = np.where(valid, fi, 0)
        q, b = closest_on_triangles(points, v[f[fi, 0]], v[f[fi, 1]], v[f[fi, 2]])
        d = np.where(valid, ((q - points) ** 2).sum(1), np.inf)
        better = d < best_d
        best_d[better], best_f[better], best_b[better], best_q[better] = d[better], fi[better], b[better], q[better]
    return best_f, best_b, best_q


def transfer_skin_weights(points: np.ndarray, mesh: Mesh, skin: SkinWeights, n_joints: int,
                          k: int = 4) -> SkinWeights:
    """App. A: weights of each point = barycentric interpolation at its nearest surface point, top-k."""
    face, bary, _ = closest_surface_points(points, mesh)
    dense = skin.to_dense(n_joints)  # [V, J]
    tri = mesh.faces[face]  # [N, 3]
    w = (bary[:, :, None] * dense[tri]).sum(1)  # [N, J]
    return SkinWeights.from_dense(w, k)


def gaussians_from_mesh(mesh: Mesh, n: int = 4096, *, seed: int = 0, face_colors: np.ndarray | None = None,
                        opacity: float = 0.95) -> tuple[GaussianCloud, np.ndarray, np.ndarray]:
    """Area-weighted surface samples as flat Gaussians. Returns (cloud, face [N], barycentric [N, 3]).

    Scale: tangent std = sqrt(area / n) (covers the surface), normal std = 1/10 of that (ours)."""
    rng = np.random.default_rng(seed)
    v, f = mesh.vertices, mesh.faces
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    cr = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cr, axis=1)
    face = rng.choice(len(f), size=n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], 1)
    pts = (bary[:, :, None] * v[f[face]]).sum(1)
    nrm = cr[face] / np.maximum(np.linalg.norm(cr[face], axis=1, keepdims=True), 1e-20)
    # rotation whose z axis is the normal
    tmp = np.where(np.abs(nrm[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    t1 = np.cross(nrm, tmp)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(nrm, t1)
    rot = np.stack([t1, t2, nrm], 2)
    from ..core.transforms import matrix_to_quat
    quats = matrix_to_quat(rot)
    st = np.sqrt(area.sum() / n)
    scales = np.tile([st, st, 0.1 * st], (n, 1))
    col = np.full((n, 3), 0.7) if face_colors is None else np.asarray(face_colors)[face]
    cloud = GaussianCloud(pts, quats, scales, np.full(n, opacity), col)
    return cloud, face, bary


def covariances(quats: Tensor, scales: Tensor) -> Tensor:
    """quats [N, 4] (w, x, y, z), scales [N, 3] -> Σ = R S² Rᵀ [N, 3, 3]."""
    q = quats / quats.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    R = torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1).reshape(*q.shape[:-1], 3, 3)
    M = R * scales[..., None, :]
    return M @ M.transpose(-1, -2)


def deform_gaussians(
    means: Tensor,  # [N, 3] rest (bind-pose) centres
    covs: Tensor,  # [N, 3, 3] rest covariances
    skinning: Tensor,  # [F, J, 4, 4] pose_world @ inv(bind_world)
    indices: Tensor,  # [N, k]
    weights: Tensor,  # [N, k]
) -> tuple[Tensor, Tensor]:  # μ' [F, N, 3], Σ' [F, N, 3, 3]
    """Eq. 2 with the LBS map of Eq. 5: μ' = φ(μ), Σ' = AΣAᵀ, A = Σ_b w_b R_b."""
    m = skinning[..., indices.long(), :3, :]  # [F, N, k, 3, 4]
    blended = (weights.to(skinning.dtype)[..., None, None] * m).sum(-3)  # [F, N, 3, 4]
    A = blended[..., :3]
    mu = (A @ means.to(A.dtype)[..., None]).squeeze(-1) + blended[..., 3]
    sig = A @ covs.to(A.dtype) @ A.transpose(-1, -2)
    return mu, sig


def opacity_above_ground(opacities: Tensor, means: Tensor, ground: float, up: int = 1) -> Tensor:
    """§4.2: kernels below the ground get opacity 0 (occlusion by the ground). opacities [N], means [F, N, 3]."""
    return opacities * (means[..., up] >= ground).to(opacities.dtype)
