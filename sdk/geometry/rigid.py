"""Rigid transforms from point correspondences: batched weighted Kabsch / Procrustes in torch.

Column-vector convention as in sdk.core.transforms: ``q = R @ p + t``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def rotation_from_covariance(h: Tensor) -> Tensor:  # h [..., 3, 3] = sum w p q^T -> R [..., 3, 3]
    """The rotation R maximising tr(R h) (proper: det R = +1), via SVD h = U S V^T -> R = V D U^T."""
    u, _, vh = torch.linalg.svd(h)
    v = vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    v = torch.cat([v[..., :2], v[..., 2:] * d[..., None, None]], dim=-1)
    return v @ u.transpose(-1, -2)


def kabsch(
    p: Tensor,  # [..., N, 3] source points
    q: Tensor,  # [..., N, 3] target points
    w: Tensor | None = None,  # [..., N] non-negative weights (None: uniform)
) -> tuple[Tensor, Tensor]:  # R [..., 3, 3], t [..., 3]
    """Least-squares rigid transform minimising sum_i w_i |R p_i + t - q_i|^2 (batched over leading dims)."""
    if w is None:
        w = torch.ones(p.shape[:-1], dtype=p.dtype, device=p.device)
    w = w.to(p.dtype)
    ws = w.sum(-1, keepdim=True).clamp_min(1e-30)  # [..., 1]
    pc = (w[..., None] * p).sum(-2) / ws  # [..., 3]
    qc = (w[..., None] * q).sum(-2) / ws
    h = torch.einsum("...n,...ni,...nj->...ij", w, p - pc[..., None, :], q - qc[..., None, :])
    r = rotation_from_covariance(h)
    t = qc - (r @ pc[..., None])[..., 0]
    return r, t


def to_matrix(r: Tensor, t: Tensor) -> Tensor:  # [..., 3, 3], [..., 3] -> [..., 4, 4]
    m = torch.zeros(r.shape[:-2] + (4, 4), dtype=r.dtype, device=r.device)
    m[..., :3, :3] = r
    m[..., :3, 3] = t
    m[..., 3, 3] = 1
    return m


def fit_part_transforms(
    rest: Tensor,  # [N, 3] rest positions
    frames: Tensor,  # [T, N, 3] positions per frame
    labels: Tensor,  # [N] part id in [0, P), -1 ignored
    n_parts: int,
    weights: Tensor | None = None,  # [N] optional per-vertex weights
) -> Tensor:  # [P, T, 4, 4] rest -> frame t
    """Per-part per-frame rigid transforms for every part at once (segment sums, one batched SVD)."""
    dt, dev = frames.dtype, frames.device
    rest = rest.to(dt)
    ok = labels >= 0
    lab = labels[ok].long()
    x = rest[ok]
    y = frames[:, ok]
    w = torch.ones(len(lab), dtype=dt, device=dev) if weights is None else weights[ok].to(dt)
    T = frames.shape[0]
    ws = torch.zeros(n_parts, dtype=dt, device=dev).index_add_(0, lab, w)  # [P]
    safe = ws.clamp_min(1e-30)
    xc = torch.zeros(n_parts, 3, dtype=dt, device=dev).index_add_(0, lab, w[:, None] * x) / safe[:, None]  # [P, 3]
    yc = torch.zeros(T, n_parts, 3, dtype=dt, device=dev).index_add_(1, lab, w[None, :, None] * y) / safe[None, :, None]
    xd = x - xc[lab]  # [n, 3]
    yd = y - yc[:, lab]  # [T, n, 3]
    outer = (w[:, None, None] * xd[:, :, None])[None] * yd[:, :, None, :]  # [T, n, 3, 3]
    h = torch.zeros(T, n_parts, 3, 3, dtype=dt, device=dev).index_add_(1, lab, outer)
    r = rotation_from_covariance(h)  # [T, P, 3, 3]
    t = yc - (r @ xc[None, :, :, None])[..., 0]
    m = to_matrix(r, t).transpose(0, 1).contiguous()  # [P, T, 4, 4]
    empty = ws <= 0
    if empty.any():
        m[empty] = torch.eye(4, dtype=dt, device=dev)
    return m


def apply(m: Tensor, x: Tensor) -> Tensor:  # m [..., 4, 4], x [..., N, 3] -> [..., N, 3]
    return x @ m[..., :3, :3].transpose(-1, -2) + m[..., None, :3, 3]


from ._reference import _reference_kabsch  # noqa: E402,F401 (old name)
