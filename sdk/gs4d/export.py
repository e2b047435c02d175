"""From a fitted 4D-GS to engines: the field-deformed canonical mesh as a ``MeshSequence`` (-> ``rig_from_motion``
-> UsdSkel / glTF, or a USD points cache), and the Gaussians themselves as a ``GaussianSequence`` (-> 3DGS .ply
sequence, time-sampled ``ParticleField3DGaussianSplat``)."""
from __future__ import annotations

import numpy as np

from ..core.gaussians import GaussianSequence
from ..core.sequence import MeshSequence
from ..errors import InvalidInputError
from .model import Gaussians4D


def to_mesh_sequence(model: Gaussians4D, n_vertices: int, faces, times, fps: float = 30.0,
                     name: str = "reconstruction") -> MeshSequence:
    """The canonical mesh carried by the model: vertex i follows the Gaussian born on it (mu_i + dx(mu_i, t)).
    ``n_vertices`` = the mesh's vertex count (``canonical_from_mesh`` puts those Gaussians first)."""
    if not 0 < n_vertices <= model.n:
        raise InvalidInputError(f"n_vertices {n_vertices} must be in (0, {model.n}]", field="n_vertices")
    v = model.trajectories(n_vertices, list(times)).cpu().numpy().astype(np.float64)
    return MeshSequence(v, np.asarray(faces), fps=fps, name=name)


def to_gaussian_sequence(model: Gaussians4D, times, fps: float = 30.0, name: str = "gaussians4d") -> GaussianSequence:
    return model.to_sequence(list(times), fps=fps, name=name)


def gaussian_weights(model: Gaussians4D) -> np.ndarray:
    """How much each Gaussian shows in an image, as a weight: opacity x the area of its two largest axes (canonical
    scales), normalised to mean 1. A tiny Gaussian hardly changes any pixel, so the images hardly constrain where it
    goes. -> [N]"""
    import torch
    with torch.no_grad():
        s = torch.exp(model.log_scales).sort(-1).values
        w = torch.sigmoid(model.opacity_logits) * s[:, 1] * s[:, 2]
    w = w.cpu().numpy().astype(np.float64)
    return w / max(float(w.mean()), 1e-30)


def mesh_from_gaussians(points: np.ndarray, n_vertices: int, faces, face_index, bary,
                        weights: np.ndarray | None = None, damping: float = 1e-6) -> np.ndarray:
    """The mesh the deformed Gaussians carry: per frame, the vertices V minimising
    sum_vertex-Gaussians w |V_i - p_i|^2 + sum_face-Gaussians w |sum_b bary_b V_face_b - p|^2 (+ damping |V - p_v|^2)
    -- the barycentric embedding of ``canonical_from_mesh`` read backwards, so a vertex follows the face Gaussians
    around it rather than only its own (small) vertex Gaussian.
    points [T, N, 3] (the first ``n_vertices`` are the vertex Gaussians); face_index [N - V], bary [N - V, 3]
    -> [T, V, 3]"""
    import scipy.sparse as sp
    from scipy.sparse.linalg import factorized
    p = np.asarray(points, np.float64)
    t_n, n = p.shape[:2]
    f = np.asarray(faces)[np.asarray(face_index)]  # [M, 3]
    m = len(f)
    if n != n_vertices + m:
        raise InvalidInputError(f"{n} Gaussians, expected {n_vertices} vertices + {m} face samples", field="points")
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    rows = np.concatenate([np.arange(n_vertices), np.repeat(np.arange(m) + n_vertices, 3)])
    cols = np.concatenate([np.arange(n_vertices), f.reshape(-1)])
    vals = np.concatenate([np.ones(n_vertices), np.asarray(bary, np.float64).reshape(-1)])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n, n_vertices))
    aw = a.T.multiply(w[None]).tocsr()  # A^T W
    lhs = (aw @ a + damping * sp.identity(n_vertices)).tocsc()
    solve = factorized(lhs)
    out = np.empty((t_n, n_vertices, 3))
    for k in range(t_n):
        rhs = aw @ p[k] + damping * p[k, :n_vertices]
        out[k] = np.stack([solve(rhs[:, c]) for c in range(3)], 1)
    return out


def fitted_mesh_sequence(model: Gaussians4D, n_vertices: int, faces, times, fps: float = 30.0,
                         name: str = "reconstruction", weighted: bool = True) -> MeshSequence:
    """``mesh_from_gaussians`` of the model's deformed Gaussians at ``times`` (bound to the canonical mesh by
    ``barycentric_embedding``), weighted by ``gaussian_weights``."""
    import torch
    from .model import barycentric_embedding
    can = model.means.detach().cpu().numpy()
    face, bary = barycentric_embedding(can, can[:n_vertices], faces, n_vertices)
    with torch.no_grad():
        pts = torch.stack([model.at(float(t))[0] for t in times]).cpu().numpy()
    v = mesh_from_gaussians(pts, n_vertices, faces, face, bary, gaussian_weights(model) if weighted else None)
    return MeshSequence(v, np.asarray(faces), fps=fps, name=name)
