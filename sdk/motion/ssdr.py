"""Skinning decomposition refinement in the SSDR / Dem Bones manner (Le & Deng 2012, 2014), in torch.

Minimises E = sum_t sum_v | sum_j w_vj (R_jt x_v + t_jt) - y_vt |^2 over

* weights: non-negative, at most ``k`` influences per vertex, rows summing to 1 (a batched simplex-constrained QP
  per vertex over a candidate set of bones, solved by accelerated projected gradient, then sparsified to k and
  re-solved); a vertex keeps its previous weights if the new ones are not better, so E never increases;
* bone transforms: rigid, one bone at a time (block coordinate descent, all frames batched) by weighted
  Procrustes on the residual the other bones leave -- the exact minimiser of its block, so E never increases.

Works on any torch device (``device="cuda"`` for the GPU); everything is batched over vertices and frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .parts import rigid_costs
from .transforms import apply, kabsch, to_matrix


@dataclass
class SSDRConfig:
    iterations: int = 8
    max_influences: int = 4
    candidates: int = 8  # bones considered per vertex in the weight step (lowest single-bone residual + current)
    qp_iters: int = 40
    dtype: torch.dtype = torch.float32
    device: str | None = None
    chunk: int = 8192  # vertices per chunk in the weight step


@dataclass
class SSDRResult:
    indices: np.ndarray  # [N, k] bone ids
    weights: np.ndarray  # [N, k] rows sum to 1, sorted descending
    transforms: np.ndarray  # [B, T, 4, 4]
    rmse_history: list = field(default_factory=list)  # RMSE (input units) after init and each half-step
    per_frame_rmse: np.ndarray | None = None  # [T]


def project_simplex(z: Tensor, mask: Tensor | None = None) -> Tensor:
    """Euclidean projection of rows z [..., C] onto {w >= 0, sum w = 1}; masked-out entries (False) stay 0."""
    if mask is not None:
        z = torch.where(mask, z, torch.full_like(z, -1e9))
    u, _ = torch.sort(z, dim=-1, descending=True)
    css = u.cumsum(-1) - 1
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    cond = u - css / k > 0
    rho = cond.to(z.dtype).cumsum(-1).argmax(-1, keepdim=True)  # last index where cond holds
    theta = css.gather(-1, rho) / (rho + 1).to(z.dtype)
    return (z - theta).clamp_min(0)


def simplex_qp(g: Tensor, h: Tensor, w0: Tensor, mask: Tensor | None = None, iters: int = 80,
               tol: float = 1e-7) -> Tensor:
    """min_w w^T g w - 2 h^T w on the simplex (batched): g [n,C,C], h [n,C], w0 [n,C] feasible start.

    FISTA with projection; stops early once no weight moves more than ``tol`` in an iteration.
    """
    lip = 2 * torch.linalg.eigvalsh(g)[..., -1:].clamp_min(1e-20)  # [n, 1]
    w, z, tk = w0, w0, 1.0
    for i in range(iters):
        grad = 2 * ((g @ z[..., None])[..., 0] - h)
        w_new = project_simplex(z - grad / lip, mask)
        tk_new = (1 + (1 + 4 * tk * tk) ** 0.5) / 2
        z = w_new + ((tk - 1) / tk_new) * (w_new - w)
        if i % 5 == 4 and float((w_new - w).abs().max()) < tol:
            w = w_new
            break
        w, tk = w_new, tk_new
    return w


def _energy(g, h, w):  # [n], up to the constant sum |y|^2
    return (w[..., None, :] @ g @ w[..., :, None])[..., 0, 0] - 2 * (h * w).sum(-1)


def bone_positions(x: Tensor, m: Tensor) -> Tensor:
    """x [n,3], m [B,T,4,4] -> [n, B, T*3]: every vertex moved by every bone, as one GEMM."""
    B, T = m.shape[:2]
    rt = m[:, :, :3, :3].permute(3, 0, 1, 2).reshape(3, -1)  # [3, B*T*3]
    return (x @ rt + m[:, :, :3, 3].reshape(-1)).reshape(len(x), B, T * 3)


def _chunk(n_bones: int, n_frames: int, budget: int = 20_000_000) -> int:
    return max(256, budget // max(1, n_bones * n_frames * 3))


def reconstruct(x: Tensor, m: Tensor, idx: Tensor, w: Tensor) -> Tensor:
    """x [N,3], m [B,T,4,4], idx/w [N,k] -> [T, N, 3] linear blend skinning (blended matrices, elementwise)."""
    blended = (w[:, :, None, None, None] * m[idx, :, :3, :]).sum(1)  # [N, T, 3, 4]
    p = (blended[..., :3] * x[:, None, None, :]).sum(-1) + blended[..., 3]  # [N, T, 3]
    return p.transpose(0, 1)


def _rmse(recon, y, vw):
    e = ((recon - y) ** 2).sum(-1)  # [T, N]
    return torch.sqrt((e * vw).sum(-1) / vw.sum())  # [T]


def weight_step(x, y, m, idx, w, cfg: SSDRConfig, y2: Tensor | None = None, dead: Tensor | None = None,
                force: bool = False):
    """One weight update (see module docstring); returns new (idx, w), each row never worse than before.

    ``dead`` [B] bool: bones that may not be used (their weight is dropped first; then ``force`` is implied).
    """
    N = len(x)
    B = m.shape[0]
    k = min(cfg.max_influences, B)
    C = min(B, max(cfg.candidates, k))
    cost = rigid_costs(x, y, m).to(x.dtype)  # [N, B]
    if dead is not None and dead.any():
        force = True
        w = torch.where(dead[idx], torch.zeros_like(w), w)
        cost[:, dead] = float("inf")
        empty = w.sum(1) <= 0
        if empty.any():  # start from the best live bone
            idx = idx.clone()
            w = w.clone()
            idx[empty, 0] = cost[empty].argmin(1)
            w[empty, 0] = 1.0
        w = w / w.sum(1, keepdim=True)
    cur = torch.zeros_like(cost, dtype=torch.bool).scatter_(1, idx, w > 0)
    cost = torch.where(cur, torch.full_like(cost, -1.0), cost)
    cand = torch.topk(cost, C, dim=1, largest=False).indices  # [N, C]
    alive = torch.ones(N, C, dtype=torch.bool, device=x.device) if dead is None else ~dead[cand]
    new_idx = torch.empty(N, k, dtype=torch.long, device=x.device)
    new_w = torch.empty(N, k, dtype=x.dtype, device=x.device)
    T = m.shape[1]
    ch = min(cfg.chunk, _chunk(B, T))
    for s in range(0, N, ch):
        e = slice(s, s + ch)
        xc, cc = x[e], cand[e]
        a = bone_positions(xc, m).gather(1, cc[..., None].expand(-1, -1, T * 3))  # [n, C, T*3]
        g = a @ a.transpose(1, 2)
        h = (a @ y[:, e].transpose(0, 1).reshape(len(xc), -1, 1))[..., 0]
        # old weights in candidate coordinates
        match = cc[:, :, None] == idx[e][:, None, :]  # [n, C, k0]
        w_old = (match * w[e][:, None, :]).sum(-1)
        w_old = w_old / w_old.sum(-1, keepdim=True).clamp_min(1e-30)
        al = alive[e]
        w_full = simplex_qp(g, h, w_old, al, cfg.qp_iters)
        top = torch.topk(torch.where(al, w_full, torch.full_like(w_full, -1.0)), k, dim=1).indices
        mask = torch.zeros_like(w_full, dtype=torch.bool).scatter_(1, top, True) & al
        w0 = torch.where(mask, w_full, torch.zeros_like(w_full))
        w0 = torch.where(w0.sum(-1, keepdim=True) > 0, w0 / w0.sum(-1, keepdim=True).clamp_min(1e-30),
                         mask.to(x.dtype) / k)
        w_sp = simplex_qp(g, h, w0, mask, cfg.qp_iters // 2)
        better = _energy(g, h, w_sp) <= _energy(g, h, w_old)
        if force:
            better = torch.ones_like(better)
        w_fin = torch.where(better[:, None], w_sp, w_old)
        vals, order = torch.topk(w_fin, k, dim=1)
        new_idx[e] = cc.gather(1, order)
        new_w[e] = vals / vals.sum(-1, keepdim=True)
    new_idx = torch.where(new_w > 0, new_idx, new_idx[:, :1])
    return new_idx, new_w


def _normalise(rest, frames, transforms, cfg):
    dev = torch.device(cfg.device) if cfg.device else torch.device("cpu")
    centre = rest.mean(0)
    scale = float(np.linalg.norm(rest.max(0) - rest.min(0))) or 1.0
    s = np.eye(4)
    s[:3, :3] /= scale
    s[:3, 3] = -centre / scale
    x = torch.as_tensor((rest - centre) / scale, dtype=cfg.dtype, device=dev)
    y = torch.as_tensor((frames - centre) / scale, dtype=cfg.dtype, device=dev)
    m = torch.as_tensor(s @ transforms @ np.linalg.inv(s), dtype=cfg.dtype, device=dev)
    return x, y, m, dev


def solve_weights(rest, frames, transforms, config: SSDRConfig | None = None, passes: int = 2):
    """Skin weights of every vertex for fixed bone transforms (e.g. vertices left out of a sub-sampled SSDR).

    rest [N,3], frames [T,N,3], transforms [B,T,4,4] -> (indices [N,k], weights [N,k]); starts from each vertex's
    best single bone, then ``passes`` weight steps.
    """
    cfg = config or SSDRConfig()
    x, y, m, dev = _normalise(rest, frames, transforms, cfg)
    idx = torch.empty(len(x), 1, dtype=torch.long, device=dev)
    ch = _chunk(m.shape[0], m.shape[1])
    for s in range(0, len(x), ch):
        idx[s:s + ch, 0] = rigid_costs(x[s:s + ch], y[:, s:s + ch], m).argmin(1)
    w = torch.ones(len(x), 1, dtype=cfg.dtype, device=dev)
    for _ in range(passes):
        idx, w = weight_step(x, y, m, idx, w, cfg)
    return idx.cpu().numpy(), w.double().cpu().numpy()


def prune_bones(rest, frames, transforms, indices, weights, tol: float, config: SSDRConfig | None = None,
                min_bones: int = 1):
    """Remove bones the others can replace: a bone goes when re-solving the weights of the vertices it
    influences without it keeps their RMSE below ``tol`` (fraction of the bbox diagonal). Smallest bones are tried
    first; typical victims are "blend" bones that an over-segmentation put in smoothly skinned joint regions.

    Returns (keep [B] bool, indices [N,k], weights [N,k]) with weights re-solved for the removed bones' vertices.
    """
    cfg = config or SSDRConfig()
    from dataclasses import replace
    cfg_p = replace(cfg, qp_iters=min(cfg.qp_iters, 24))
    dev = torch.device(cfg.device) if cfg.device else torch.device("cpu")
    dt = cfg.dtype
    centre = rest.mean(0)
    scale = float(np.linalg.norm(rest.max(0) - rest.min(0))) or 1.0
    s = np.eye(4)
    s[:3, :3] /= scale
    s[:3, 3] = -centre / scale
    x = torch.as_tensor((rest - centre) / scale, dtype=dt, device=dev)
    y = torch.as_tensor((frames - centre) / scale, dtype=dt, device=dev)
    m = torch.as_tensor(s @ transforms @ np.linalg.inv(s), dtype=dt, device=dev)
    idx = torch.as_tensor(indices, dtype=torch.long, device=dev)
    w = torch.as_tensor(weights, dtype=dt, device=dev)
    B = m.shape[0]
    dead = torch.zeros(B, dtype=torch.bool, device=dev)
    wins = torch.bincount(idx[:, 0], minlength=B).cpu().numpy()
    for b in np.argsort(wins, kind="stable"):
        if int((~dead).sum()) <= min_bones:
            break
        rows = torch.nonzero(((idx == b) & (w > 0)).any(1)).reshape(-1)
        trial = dead.clone()
        trial[b] = True
        if len(rows):
            i2, w2 = weight_step(x[rows], y[:, rows], m, idx[rows], w[rows], cfg_p, dead=trial)
            err = torch.sqrt(((reconstruct(x[rows], m, i2, w2) - y[:, rows]) ** 2).sum(-1).mean())
            if float(err) >= tol:
                continue
            idx[rows], w[rows] = i2, w2
        dead[b] = True
    return (~dead).cpu().numpy(), idx.cpu().numpy(), w.double().cpu().numpy()


def transform_step(x, y, m, idx, w, recon):
    """Sequential per-bone weighted Procrustes (all frames batched); updates m and recon in place."""
    B = m.shape[0]
    flat_idx, flat_w = idx.reshape(-1), w.reshape(-1)
    rows = torch.arange(len(x), device=x.device).repeat_interleave(idx.shape[1])
    keep = flat_w > 1e-4
    flat_idx, flat_w, rows = flat_idx[keep], flat_w[keep], rows[keep]
    order = torch.argsort(flat_idx, stable=True)
    flat_idx, flat_w, rows = flat_idx[order], flat_w[order], rows[order]
    counts = torch.bincount(flat_idx, minlength=B).tolist()
    start = 0
    for j in range(B):
        n = counts[j]
        if n == 0:
            continue
        v = rows[start:start + n]
        wj = flat_w[start:start + n]
        start += n
        if n < 3:
            continue
        xj = x[v]
        old = apply(m[j], xj[None])  # [T, n, 3]
        q = y[:, v] - recon[:, v] + wj[None, :, None] * old
        r, t = kabsch(xj[None].expand(len(q), -1, -1), q / wj[None, :, None], (wj ** 2)[None].expand(len(q), -1))
        m[j] = to_matrix(r, t)
        recon[:, v] += wj[None, :, None] * (apply(m[j], xj[None]) - old)
    return m, recon


def ssdr(
    rest: np.ndarray,  # [N, 3]
    frames: np.ndarray,  # [T, N, 3]
    transforms: np.ndarray,  # [B, T, 4, 4] initial bone transforms rest -> frame t
    labels: np.ndarray | None = None,  # [N] initial hard assignment (or give indices/weights)
    indices: np.ndarray | None = None,  # [N, k0]
    weights: np.ndarray | None = None,  # [N, k0]
    config: SSDRConfig | None = None,
    vertex_weights: np.ndarray | None = None,  # [N] multiplicity for the RMSE (welded soups)
    progress=None,
) -> SSDRResult:
    """Alternate weight and transform steps (module docstring). RMSE history is non-increasing."""
    cfg = config or SSDRConfig()
    dev = torch.device(cfg.device) if cfg.device else torch.device("cpu")
    dt = cfg.dtype
    centre = rest.mean(0)
    scale = float(np.linalg.norm(rest.max(0) - rest.min(0))) or 1.0
    # normalise coordinates (bbox diagonal 1, centred) for float32 stability; transforms conjugated accordingly
    s = np.eye(4)
    s[:3, :3] /= scale
    s[:3, 3] = -centre / scale
    s_inv = np.linalg.inv(s)
    x = torch.as_tensor((rest - centre) / scale, dtype=dt, device=dev)
    y = torch.as_tensor((frames - centre) / scale, dtype=dt, device=dev)
    m = torch.as_tensor(s @ transforms @ s_inv, dtype=dt, device=dev)
    if indices is None:
        indices = np.asarray(labels, dtype=np.int64)[:, None]
        weights = np.ones_like(indices, dtype=np.float64)
    idx = torch.as_tensor(indices, dtype=torch.long, device=dev)
    w = torch.as_tensor(weights, dtype=dt, device=dev)
    vw = torch.as_tensor(vertex_weights if vertex_weights is not None else np.ones(len(rest)), dtype=dt, device=dev)
    y2 = (y ** 2).sum((0, 2))
    recon = reconstruct(x, m, idx, w)
    hist = [float(torch.sqrt((_rmse(recon, y, vw) ** 2).mean())) * scale]
    for it in range(cfg.iterations):
        if progress:
            progress(f"SSDR {it + 1}/{cfg.iterations}")
        idx, w = weight_step(x, y, m, idx, w, cfg, y2)
        recon = reconstruct(x, m, idx, w)
        hist.append(float(torch.sqrt((_rmse(recon, y, vw) ** 2).mean())) * scale)
        m, recon = transform_step(x, y, m, idx, w, recon)  # keeps recon up to date
        hist.append(float(torch.sqrt((_rmse(recon, y, vw) ** 2).mean())) * scale)
    per_frame = (_rmse(recon, y, vw) * scale).cpu().numpy().astype(np.float64)
    m_out = s_inv @ m.double().cpu().numpy() @ s
    return SSDRResult(idx.cpu().numpy(), w.double().cpu().numpy(), m_out, hist, per_frame)
