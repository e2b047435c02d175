"""Training losses: EDM-weighted L2 denoising loss and the contrastive part consistency loss (SP4D eq. 2)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def edm_loss(denoised: Tensor, target: Tensor, sigma: Tensor, sigma_data: float = 1.0) -> Tensor:
    """EDM (Karras et al. 2022) weighted L2: lambda(sigma) = (sigma^2 + sd^2) / (sigma * sd)^2.

    denoised, target: [B, ...]; sigma: [B]
    """
    w = (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2
    err = (denoised - target).float().pow(2).flatten(1).mean(1)
    return (w * err).mean()


def pool_part_features(features: Tensor, labels: Tensor, groups: Tensor, num_labels: int):
    """Average features within each part region of each image.

    features: [N, C, h, w]; labels: [N, h, w] int part ids (-1 ignored) at feature resolution;
    groups: [N] object index of each image (parts of different objects are different identities)
    returns (feats [M, C], ids [M]) for every (image, part) present, ids = group * num_labels + part
    """
    n, c, h, w = features.shape
    lab = labels.reshape(n, -1).long()
    valid = lab >= 0
    key = torch.arange(n, device=lab.device)[:, None] * num_labels + lab.clamp_min(0)     # [N, hw]
    key = torch.where(valid, key, torch.full_like(key, n * num_labels))
    f = features.permute(0, 2, 3, 1).reshape(-1, c)
    sums = torch.zeros(n * num_labels + 1, c, device=f.device, dtype=f.dtype).index_add_(0, key.reshape(-1), f)
    cnt = torch.bincount(key.reshape(-1), minlength=n * num_labels + 1).to(f.dtype)
    present = cnt[:-1] > 0
    idx = torch.nonzero(present).squeeze(1)
    feats = sums[idx] / cnt[idx, None]
    img, part = idx // num_labels, idx % num_labels
    ids = groups.to(idx.device)[img].long() * num_labels + part
    return feats, ids


def info_nce(feats: Tensor, ids: Tensor, tau: float = 0.07) -> Tensor:
    """Contrastive part consistency loss (SP4D eq. 2), vectorised.

    feats: [M, D] part features; ids: [M] identity (same id = positive pair, i != j).
    L = -mean_{i with positives} mean_{j in P+(i)} log( exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau) )
    with s the cosine similarity. Returns 0 when no anchor has a positive.
    """
    z = F.normalize(feats.float(), dim=1)
    s = z @ z.t() / tau
    m = s.shape[0]
    eye = torch.eye(m, dtype=torch.bool, device=s.device)
    s = s.masked_fill(eye, float("-inf"))
    log_prob = s - torch.logsumexp(s, dim=1, keepdim=True)
    pos = (ids[:, None] == ids[None, :]) & ~eye
    npos = pos.sum(1)
    has = npos > 0
    if not bool(has.any()):
        return feats.sum() * 0.0
    per = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(1) / npos.clamp_min(1)
    return -(per[has]).mean()


def _info_nce_torch_impl(feats: Tensor, ids: Tensor, tau: float = 0.07) -> Tensor:
    """Loop reference of ``info_nce`` (tests only)."""
    z = F.normalize(feats.float(), dim=1)
    terms = []
    for i in range(len(z)):
        others = [k for k in range(len(z)) if k != i]
        denom = torch.logsumexp(torch.stack([z[i] @ z[k] / tau for k in others]), 0)
        pos = [j for j in others if ids[j] == ids[i]]
        if pos:
            terms.append(torch.stack([-(z[i] @ z[j] / tau - denom) for j in pos]).mean())
    return torch.stack(terms).mean() if terms else feats.sum() * 0.0
