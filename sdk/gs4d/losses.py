"""Stage-2 losses (Track4DGen Sec. 3.3): reconstruction (Eq. 10), ARAP, and the z0-reconstruction 4D-SDS (Eq. 11).

L_2 = lambda4 L_rec + lambda5 L_4D-SDS + lambda6 L_ARAP with lambda4 = 100, lambda5 = 0.01, lambda6 = 10 (supp. Sec. 6).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

LAMBDA_REC = 100.0
LAMBDA_SDS = 0.01
LAMBDA_ARAP = 10.0


def reconstruction_loss(rgb: Tensor, alpha: Tensor, gt_rgb: Tensor, gt_mask: Tensor) -> Tensor:
    """Eq. 10 as Animate3D implements it: MSE of the RGB (both composited on the same grey background) + MSE of
    the mask.  rgb/gt_rgb: [B, H, W, 3], alpha/gt_mask: [B, H, W]"""
    return torch.mean((rgb - gt_rgb) ** 2) + torch.mean((alpha - gt_mask) ** 2)


def knn_graph(points: Tensor, k: int = 3, chunk: int = 4096) -> tuple[Tensor, Tensor]:
    """K nearest neighbours (excluding self) of each point by chunked cdist.
    points [N, 3] -> (indices [N, k] int64, distances [N, k])"""
    n = points.shape[0]
    k = min(k, n - 1)
    idx, dist = [], []
    for s in range(0, n, chunk):
        d = torch.cdist(points[s:s + chunk], points)
        d[torch.arange(d.shape[0]), torch.arange(s, s + d.shape[0])] = float("inf")
        v, i = torch.topk(d, k, dim=1, largest=False)
        idx.append(i)
        dist.append(v)
    return torch.cat(idx), torch.cat(dist)


def best_rotations(rest_edges: Tensor, posed_edges: Tensor, weights: Tensor) -> Tensor:
    """Per-node rotation minimising sum_j w_j |posed_j - R rest_j|^2 (Kabsch): S = sum_j w rest posed^T = U S V^T,
    R = V diag(1, 1, det(V U^T)) U^T.  rest/posed: [M, k, 3], weights [M, k] -> [M, 3, 3]"""
    s = torch.einsum("mk,mki,mkj->mij", weights, rest_edges, posed_edges)
    u, _, vh = torch.linalg.svd(s)
    v = vh.transpose(-1, -2)
    det = torch.det(v @ u.transpose(-1, -2))
    d = torch.ones_like(s[..., 0])
    d[:, 2] = torch.sign(det) + (det == 0).to(det.dtype)
    return v @ torch.diag_embed(d) @ u.transpose(-1, -2)


def arap_loss(rest: Tensor, posed: Tensor, nbr: Tensor, nodes: Tensor | None = None,
              weights: Tensor | None = None) -> Tensor:
    """As-rigid-as-possible energy of a deformation of the canonical centres (SC-GS / Animate3D form, with the
    correct rotation R = V U^T): mean over nodes of sum_j w_ij |(p'_i - p'_j) - R_i (p_i - p_j)|^2.

    rest, posed: [N, 3]; nbr: [N, k] neighbour indices (``knn_graph`` of the canonical centres);
    nodes: [M] the nodes to evaluate (Animate3D samples 512 per step); weights: [N, k] (default uniform).
    The rotations are the local ARAP step's optimum, held fixed (no gradient) as in SC-GS.
    """
    nodes = torch.arange(rest.shape[0], device=rest.device) if nodes is None else nodes
    j = nbr[nodes]  # [M, k]
    e0 = rest[nodes, None] - rest[j]
    e1 = posed[nodes, None] - posed[j]
    w = torch.ones_like(j, dtype=rest.dtype) if weights is None else weights[nodes]
    with torch.no_grad():
        r = best_rotations(e0, e1, w)
    res = e1 - torch.einsum("mij,mkj->mki", r, e0)
    return (w * res.square().sum(-1)).sum(-1).mean()


def sds_x0_loss(denoiser: Callable[[Tensor, Tensor, object], Tensor], z: Tensor, cond, alphas_cumprod: Tensor,
                t_range: tuple[float, float] = (0.02, 0.2), generator: torch.Generator | None = None,
                t: Tensor | None = None, noise: Tensor | None = None) -> Tensor:
    """4D-SDS of Eq. 11 (Animate3D ``recon_loss``): z_t = sqrt(a_t) z + sqrt(1 - a_t) eps,
    z0_hat = (z_t - sqrt(1 - a_t) eps_theta(z_t, t, cond)) / sqrt(a_t), L = |z - sg(z0_hat)|^2 (mean).

    denoiser: eps-prediction callable (z_t [B, ...], t [B] int64, cond) -> eps [B, ...] -- any model works
    z: latents [B, ...] (E(Render(G_4D)), differentiable); alphas_cumprod: [T_train] (DDPM schedule)
    t_range: fraction of the training timesteps to sample from (Animate3D: [0.02, 0.2])
    """
    n_train = alphas_cumprod.shape[0]
    b = z.shape[0]
    if t is None:
        lo, hi = int(t_range[0] * n_train), max(int(t_range[1] * n_train), int(t_range[0] * n_train) + 1)
        t = torch.randint(lo, hi, (b,), generator=generator, device="cpu").to(z.device)
    if noise is None:
        noise = torch.randn(z.shape, generator=generator, device="cpu", dtype=z.dtype).to(z.device)
    a = alphas_cumprod.to(z.device, z.dtype)[t].reshape((b,) + (1,) * (z.ndim - 1))
    with torch.no_grad():
        zt = a.sqrt() * z + (1 - a).sqrt() * noise
        eps = denoiser(zt, t, cond)
        z0 = (zt - (1 - a).sqrt() * eps) / a.sqrt()
    return torch.mean((z - z0) ** 2)


def mesh_edge_graph(vertices, faces, decimals: int = 6):
    """The ARAP graph of a mesh's own edges: the 1-ring of each *welded* vertex position (UV-seam duplicates share
    one node), so two parts that touch in space but share no edge (legs crossing) are not tied -- geodesic by
    construction, unlike ``knn_graph``.
    vertices [V, 3] (numpy or torch), faces [F, 3] -> (rep [U] int64: one vertex index per welded position,
    nbr [U, K] int64 into the U nodes, weights [U, K]: 1 on real edges, 0 on padding (the node itself)), K = the
    largest valence."""
    v = np.asarray(vertices.detach().cpu() if isinstance(vertices, Tensor) else vertices, np.float64)
    f = np.asarray(faces, np.int64)
    _, rep, inv = np.unique(np.round(v, decimals), axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    u = len(rep)
    wf = inv[f]  # [F, 3] welded ids
    e = np.concatenate([wf[:, [0, 1]], wf[:, [1, 2]], wf[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    e = np.unique(e[e[:, 0] != e[:, 1]], axis=0)  # sorted by source node
    deg = np.bincount(e[:, 0], minlength=u)
    k = max(int(deg.max()) if len(deg) else 0, 1)
    nbr = np.repeat(np.arange(u)[:, None], k, 1)
    w = np.zeros((u, k))
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    slot = np.arange(len(e)) - start[e[:, 0]]
    nbr[e[:, 0], slot] = e[:, 1]
    w[e[:, 0], slot] = 1.0
    return torch.as_tensor(rep, dtype=torch.long), torch.as_tensor(nbr), torch.as_tensor(w, dtype=torch.float32)
