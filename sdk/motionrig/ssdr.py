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

from ..geometry.rigid import apply, kabsch, rotation_from_covariance, to_matrix
from ..util.progress import ProgressFn, report
from .parts import rigid_costs


@dataclass
class SSDRConfig:
    iterations: int = 8
    max_influences: int = 4
    candidates: int = 8  # bones considered per vertex in the weight step (lowest single-bone residual + current)
    qp_iters: int = 40
    dtype: torch.dtype = torch.float32
    device: str | None = None
    chunk: int = 8192  # vertices per chunk in the weight step
    backend: str = "auto"  # "auto": compiled numba kernels on the CPU when numba is installed; "torch": reference


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
               tol: float = 1e-7, backend: str = "auto", lip: Tensor | None = None) -> Tensor:
    """min_w w^T g w - 2 h^T w on the simplex (batched): g [n,C,C], h [n,C], w0 [n,C] feasible start.

    FISTA with projection; every 5 iterations, rows whose weights moved less than ``tol`` in the last iteration
    are frozen (most vertices are settled after a few iterations). Every row is independent: on the CPU with
    numba installed (``backend="auto"``) one compiled loop runs each row to its own end
    (:func:`_simplex_qp_rows`); otherwise the batched torch iteration :func:`_reference_simplex_qp` (the same
    algorithm, rows dropped from the batch as they freeze). ``lip`` [n]: the step's Lipschitz constant
    2 * max eigenvalue of g (computed here when None; pass it to reuse it for several solves with one g).
    """
    kern = _numba_kernels() if backend == "auto" and g.device.type == "cpu" else None
    if lip is None and len(g):
        lip = lipschitz(g)
    if kern is None or len(g) == 0:
        return _reference_simplex_qp(g, h, w0, mask, iters, tol, lip)
    gd = g.detach().to(torch.float64).contiguous().numpy()
    m = (np.ones(w0.shape, dtype=np.bool_) if mask is None else mask.contiguous().numpy())
    out = np.empty(w0.shape, dtype=np.float64)
    kern.simplex_qp_rows(gd, h.detach().to(torch.float64).contiguous().numpy(),
                         w0.detach().to(torch.float64).contiguous().numpy(), m,
                         lip.to(torch.float64).contiguous().numpy(), int(iters), float(tol), out)
    return torch.from_numpy(out).to(w0.dtype)


_KERNELS = []


def _numba_kernels():
    """The compiled kernels (``sdk.motionrig._ssdr_numba``), or None when numba is not installed or
    ``ARTICULATE_NUMBA=0`` is set (then the torch path runs). First use in a process: ~0.3-1 s to import numba and
    load the kernels from its disk cache (~14 s CPU to compile them the very first time, once per install)."""
    if not _KERNELS:
        import os
        if os.environ.get("ARTICULATE_NUMBA", "1") == "0":
            _KERNELS.append(None)
        else:
            try:
                from . import _ssdr_numba
                _KERNELS.append(_ssdr_numba)
            except ImportError:
                _KERNELS.append(None)
    return _KERNELS[0]


def lipschitz(g: Tensor) -> Tensor:  # g [n, C, C] symmetric -> [n]: 2 x the largest eigenvalue (>= 1e-20)
    return 2 * torch.linalg.eigvalsh(g)[..., -1].clamp_min(1e-20)


def _reference_simplex_qp(g: Tensor, h: Tensor, w0: Tensor, mask: Tensor | None = None, iters: int = 80,
                          tol: float = 1e-7, lip: Tensor | None = None) -> Tensor:
    """min_w w^T g w - 2 h^T w on the simplex (batched): g [n,C,C], h [n,C], w0 [n,C] feasible start.

    FISTA with projection; every 5 iterations, rows whose weights moved less than ``tol`` in the last iteration
    are frozen and dropped from the batch (most vertices are settled after a few iterations).
    """
    lip = (lipschitz(g) if lip is None else lip)[:, None]  # [n, 1]
    out = w0.clone()
    act = None  # rows still iterating (None: all)
    w, z, tk = w0, w0, 1.0
    for i in range(iters):
        grad = 2 * ((g @ z[..., None])[..., 0] - h)
        w_new = project_simplex(z - grad / lip, mask)
        tk_new = (1 + (1 + 4 * tk * tk) ** 0.5) / 2
        z = w_new + ((tk - 1) / tk_new) * (w_new - w)
        if i % 5 == 4:
            moving = (w_new - w).abs().amax(-1) >= tol
            if not bool(moving.all()):
                act = torch.arange(len(out), device=out.device) if act is None else act
                out[act[~moving]] = w_new[~moving]
                act = act[moving]
                if not len(act):
                    return out
                g, h, lip, z, w_new = g[moving], h[moving], lip[moving], z[moving], w_new[moving]
                mask = None if mask is None else mask[moving]
        w, tk = w_new, tk_new
    if act is None:
        return w
    out[act] = w
    return out


def _energy(g, w):  # [n]: w^T g w (g: residual Gram, so this is the vertex's squared error summed over frames)
    return (w[..., None, :] @ g @ w[..., :, None])[..., 0, 0]


def bone_positions(x: Tensor, m: Tensor) -> Tensor:
    """x [n,3], m [B,T,4,4] -> [n, B, T*3]: every vertex moved by every bone, as one GEMM (reference path)."""
    B, T = m.shape[:2]
    rt = m[:, :, :3, :3].permute(3, 0, 1, 2).reshape(3, -1)  # [3, B*T*3]
    return (x @ rt + m[:, :, :3, 3].reshape(-1)).reshape(len(x), B, T * 3)


def _chunk(n_bones: int, n_frames: int, budget: int = 20_000_000) -> int:
    return max(256, budget // max(1, n_bones * n_frames * 3))


def reconstruct(x: Tensor, m: Tensor, idx: Tensor, w: Tensor) -> Tensor:
    """x [N,3], m [B,T,4,4], idx/w [N,k] -> [T, N, 3] linear blend skinning (blended matrices, elementwise)."""
    N, k = idx.shape
    T = m.shape[1]
    flat = m[:, :, :3, :].reshape(m.shape[0], T * 12)  # [B, T*12]
    blended = torch.bmm(w[:, None, :], flat.index_select(0, idx.reshape(-1)).reshape(N, k, T * 12))
    blended = blended.reshape(N, T, 3, 4)
    p = (blended[..., :3] * x[:, None, None, :]).sum(-1) + blended[..., 3]  # [N, T, 3]
    return p.transpose(0, 1)


def _rmse(recon, y, vw):
    e = ((recon - y) ** 2).sum(-1)  # [T, N]
    return torch.sqrt((e * vw).sum(-1) / vw.sum())  # [T]


@dataclass
class BoneStats:
    """Per-bone and per-bone-pair sums over frames that make the weight step's normal equations closed-form.

    For a vertex x moved by bones j, k: sum_t (R_jt x + t_jt).(R_kt x + t_kt) = [x (x) x, x, 1] . coef[j, k] and
    sum_t (R_jt x + t_jt).y_t = [y (x) x, y] . lin[j]; all float64 (the residual Gram is a difference of large terms).
    """
    coef: Tensor  # [B*B, 13]: sum_t R_j^T R_k (9), sum_t (R_j^T t_k + R_k^T t_j) (3), sum_t t_j.t_k (1)
    lin: Tensor  # [T*12, B]: R_jt (T*9) and t_jt (T*3), flattened to match _vertex_features
    n_bones: int


def bone_stats(m: Tensor) -> BoneStats:  # m [B, T, 4, 4]
    md = m.double()
    r, t = md[:, :, :3, :3], md[:, :, :3, 3]  # [B, T, 3, 3], [B, T, 3]
    B, T = r.shape[:2]
    q = torch.einsum("jtab,ktac->jkbc", r, r).reshape(B * B, 9)  # sum_t R_j^T R_k
    u = torch.einsum("jtab,kta->jkb", r, t)  # sum_t R_j^T t_k  [B, B, 3]
    u = (u + u.transpose(0, 1)).reshape(B * B, 3)
    c = torch.einsum("jta,kta->jk", t, t).reshape(B * B, 1)
    lin = torch.cat([r.reshape(B, T * 9), t.reshape(B, T * 3)], 1).T.contiguous()
    return BoneStats(torch.cat([q, u, c], 1), lin, B)


def _vertex_features(x: Tensor, y: Tensor) -> Tensor:  # x [n,3], y [T,n,3] -> [n, T*12] (float64)
    xd, yd = x.double(), y.double()
    z = (yd.permute(1, 0, 2)[..., :, None] * xd[:, None, None, :]).reshape(len(x), -1)  # [n, T*9]: y_ti x_j
    return torch.cat([z, yd.permute(1, 0, 2).reshape(len(x), -1)], 1)


def vertex_terms(x: Tensor, y: Tensor, st: BoneStats) -> tuple[Tensor, Tensor]:
    """x [n, 3], y [T, n, 3] -> (h [n, B] = sum_t a_jt . y_t for every bone j, y2 [n] = sum_t |y_t|^2), float64."""
    return _vertex_features(x, y) @ st.lin, (y.double() ** 2).sum((0, 2))


def weight_step(x, y, m, idx, w, cfg: SSDRConfig, y2: Tensor | None = None, dead: Tensor | None = None,
                force: bool = False, stats: BoneStats | None = None, return_energy: bool = False,
                pre: tuple | None = None):
    """One weight update (see module docstring); returns new (idx, w), each row never worse than before.

    ``dead`` [B] bool: bones that may not be used (their weight is dropped first; then ``force`` is implied).
    The per-vertex QP is built in closed form from per-bone sums (``BoneStats``; one GEMM for all bones' data
    terms), as the residual Gram G_jk = sum_t (a_jt - y_t).(a_kt - y_t) (a_jt: the vertex moved by bone j) in
    float64, so candidates' single-bone errors come free and the objective is the vertex's squared error.
    ``return_energy``: also return [N] the new squared error of each vertex summed over frames.
    ``pre``: (h [N, B], y2 [N]) = :func:`vertex_terms` of these vertices, when the caller already has them.
    """
    N = len(x)
    B = m.shape[0]
    T = m.shape[1]
    k = min(cfg.max_influences, B)
    C = min(B, max(cfg.candidates, k))
    st = stats if stats is not None else bone_stats(m)
    qt = torch.float64
    if dead is not None and dead.any():
        force = True
        w = torch.where(dead[idx], torch.zeros_like(w), w)
    new_idx = torch.empty(N, k, dtype=torch.long, device=x.device)
    new_w = torch.empty(N, k, dtype=x.dtype, device=x.device)
    energy = torch.empty(N, dtype=qt, device=x.device)
    ch = max(256, 4_000_000 // max(1, T * 12 + B))
    for s in range(0, N, ch):
        e = slice(s, s + ch)
        xc, ic, wc = x[e], idx[e], w[e]
        n = len(xc)
        xd = xc.double()
        if pre is None:
            h_all, y2c = vertex_terms(xc, y[:, e], st)
        else:
            h_all, y2c = pre[0][e], pre[1][e]
        quad = torch.cat([(xd[:, :, None] * xd[:, None, :]).reshape(n, 9), xd, torch.ones(n, 1, dtype=qt,
                                                                                         device=x.device)], 1)
        diag_ix = torch.arange(B, device=x.device) * (B + 1)
        g_diag = quad @ st.coef[diag_ix].T  # [n, B]
        cost = g_diag - 2 * h_all + y2c[:, None]  # single-bone squared error summed over frames
        if dead is not None and dead.any():
            cost[:, dead] = float("inf")
            empty = wc.sum(1) <= 0
            if empty.any():  # start from the best live bone
                ic, wc = ic.clone(), wc.clone()
                ic[empty, 0] = cost[empty].argmin(1)
                wc[empty, 0] = 1.0
            wc = wc / wc.sum(1, keepdim=True)
        cur = torch.zeros_like(cost, dtype=torch.bool).scatter_(1, ic, wc > 0)
        cand = torch.topk(torch.where(cur, torch.full_like(cost, -1.0), cost), C, dim=1, largest=False).indices
        pair = (cand[:, :, None] * B + cand[:, None, :]).reshape(n, C * C)  # [n, C*C]
        g = (st.coef[pair] @ quad[:, :, None])[..., 0].reshape(n, C, C)  # sum_t a_j . a_k
        hc = h_all.gather(1, cand)  # [n, C]
        g = g - hc[:, :, None] - hc[:, None, :] + y2c[:, None, None]  # residual Gram
        g = 0.5 * (g + g.transpose(1, 2))
        match = cand[:, :, None] == ic[:, None, :]  # [n, C, k0]
        w_old = (match * wc.to(qt)[:, None, :]).sum(-1)
        w_old = w_old / w_old.sum(-1, keepdim=True).clamp_min(1e-30)
        al = torch.ones(n, C, dtype=torch.bool, device=x.device) if dead is None else ~dead[cand]
        zero = torch.zeros(n, C, dtype=qt, device=x.device)
        lip = lipschitz(g)  # one eigen-solve for both QPs (same g)
        w_full = simplex_qp(g, zero, w_old, al, cfg.qp_iters, backend=cfg.backend, lip=lip)
        if k < C:
            top = torch.topk(torch.where(al, w_full, torch.full_like(w_full, -1.0)), k, dim=1).indices
            mask = torch.zeros_like(w_full, dtype=torch.bool).scatter_(1, top, True) & al
            w0 = torch.where(mask, w_full, torch.zeros_like(w_full))
            w0 = torch.where(w0.sum(-1, keepdim=True) > 0, w0 / w0.sum(-1, keepdim=True).clamp_min(1e-30),
                             mask.to(qt) / k)
            w_sp = simplex_qp(g, zero, w0, mask, cfg.qp_iters // 2, backend=cfg.backend, lip=lip)
        else:
            w_sp = w_full
        e_new, e_old = _energy(g, w_sp), _energy(g, w_old)
        better = e_new <= e_old
        if force:
            better = torch.ones_like(better)
        w_fin = torch.where(better[:, None], w_sp, w_old)
        energy[e] = torch.where(better, e_new, e_old).clamp_min(0)
        vals, order = torch.topk(w_fin, k, dim=1)
        new_idx[e] = cand.gather(1, order)
        new_w[e] = (vals / vals.sum(-1, keepdim=True)).to(x.dtype)
    new_idx = torch.where(new_w > 0, new_idx, new_idx[:, :1])
    if return_energy:
        return new_idx, new_w, energy
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
                min_bones: int = 1, max_growth: float = 1.5):
    """Remove bones the others can replace: a bone goes when re-solving the weights of the vertices it
    influences without it keeps their RMSE below ``tol`` (fraction of the bbox diagonal) and below ``max_growth``
    times their RMSE with it where that exceeds tol/4 (a bone that explains its vertices far better than any blend of the others -- a rigid
    piece -- stays). Smallest bones are tried first; typical victims are "blend" bones that an over-segmentation
    put in smoothly skinned joint regions.

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
    stats = bone_stats(m)
    T = m.shape[1]
    ch = max(256, 4_000_000 // max(1, T * 12 + B))
    terms = [vertex_terms(x[s:s + ch], y[:, s:s + ch], stats) for s in range(0, len(x), ch)]
    h_all, y2_all = torch.cat([t[0] for t in terms]), torch.cat([t[1] for t in terms])  # once, not per trial
    for b in np.argsort(wins, kind="stable"):
        if int((~dead).sum()) <= min_bones:
            break
        rows = torch.nonzero(((idx == b) & (w > 0)).any(1)).reshape(-1)
        trial = dead.clone()
        trial[b] = True
        if len(rows):
            i2, w2, en = weight_step(x[rows], y[:, rows], m, idx[rows], w[rows], cfg_p, dead=trial, stats=stats,
                                     return_energy=True, pre=(h_all[rows], y2_all[rows]))
            err = torch.sqrt(en.sum() / (len(rows) * T))  # RMSE of those vertices (exact, from the QP energies)
            before = torch.sqrt(((reconstruct(x[rows], m, idx[rows], w[rows]) - y[:, rows]) ** 2).sum(-1).mean())
            if float(err) >= tol or (float(err) > max_growth * float(before) and float(err) > 0.25 * tol):
                continue
            idx[rows], w[rows] = i2, w2
        dead[b] = True
    return (~dead).cpu().numpy(), idx.cpu().numpy(), w.double().cpu().numpy()


def _bone_colours(idx: Tensor, w: Tensor, n_bones: int) -> list:
    """Greedy colouring of the bones so that no two bones of one colour influence a common vertex."""
    rows = torch.arange(len(idx), device=idx.device)[:, None].expand_as(idx)[w > 0].cpu().numpy()
    cols = idx[w > 0].cpu().numpy()
    inc = np.zeros((len(idx), n_bones), dtype=np.float32)
    inc[rows, cols] = 1
    overlap = (inc.T @ inc) > 0  # [B, B]
    colour = np.full(n_bones, -1)
    for j in range(n_bones):
        used = set(colour[overlap[j]].tolist())
        c = 0
        while c in used:
            c += 1
        colour[j] = c
    return [np.flatnonzero(colour == c) for c in range(colour.max() + 1)]


def _move(m: Tensor, j: Tensor, x: Tensor) -> Tensor:  # m [B,T,4,4], j [n], x [n,3] -> [n, T, 3]: x moved by bone j
    T = m.shape[1]
    mj = m[:, :, :3, :].reshape(m.shape[0], T * 12).index_select(0, j).reshape(len(j), T, 3, 4)
    return (mj[..., :3] * x[:, None, None, :]).sum(-1) + mj[..., 3]


def transform_step(x, y, m, idx, w, recon, backend: str = "auto"):
    """Per-bone weighted Procrustes on the residual the other bones leave, in colour classes (see
    :func:`_reference_transform_step`); updates m and recon in place. On the CPU with numba installed
    (``backend="auto"``) the whole step is one compiled loop over the pairs of each class in float64
    (``_ssdr_numba.transform_classes``); otherwise the batched torch reference."""
    kern = _numba_kernels() if backend == "auto" and x.device.type == "cpu" else None
    if kern is None:
        return _reference_transform_step(x, y, m, idx, w, recon)
    B = m.shape[0]
    k = idx.shape[1]
    flat_idx, flat_w = idx.reshape(-1), w.reshape(-1)
    rows = torch.arange(len(x)).repeat_interleave(k)
    keep = flat_w > 0
    flat_idx, flat_w, rows = flat_idx[keep], flat_w[keep], rows[keep]
    fit = flat_w > 1e-4
    ok_bone = torch.bincount(flat_idx[fit], minlength=B) >= 3
    colour = torch.full((B,), -1, dtype=torch.long)
    classes = _bone_colours(idx, w, B)
    for c, bones in enumerate(classes):
        colour[torch.as_tensor(bones, dtype=torch.long)] = c
    sel = ok_bone[flat_idx]
    pc = colour[flat_idx][sel]
    order = torch.argsort(pc, stable=True)
    starts = np.r_[0, np.cumsum(np.bincount(pc.numpy(), minlength=len(classes)))]
    f64 = lambda t: t.detach().to(torch.float64).contiguous().numpy()
    md, rd = f64(m), f64(recon.transpose(0, 1))  # [N, T, 3]: vertex-major
    kern.transform_classes(f64(x), f64(y.transpose(0, 1)), md, rd, rows[sel][order].numpy(), flat_idx[sel][order].numpy(),
                           f64(flat_w[sel][order]), fit[sel][order].numpy(), starts)
    m.copy_(torch.from_numpy(md))
    recon.copy_(torch.from_numpy(rd).transpose(0, 1))
    return m, recon


def _reference_transform_step(x, y, m, idx, w, recon):
    """Per-bone weighted Procrustes on the residual the other bones leave (all frames batched); updates m and recon
    in place. Bones are updated in colour classes: bones of one class share no vertex, so updating them together
    is the same as updating them one after the other (each is the exact minimiser of its block) -- batched over
    the class instead of a Python loop over bones."""
    B = m.shape[0]
    dev = x.device
    flat_idx, flat_w = idx.reshape(-1), w.reshape(-1)
    rows = torch.arange(len(x), device=dev).repeat_interleave(idx.shape[1])
    keep = flat_w > 0
    flat_idx, flat_w, rows = flat_idx[keep], flat_w[keep], rows[keep]
    fit = flat_w > 1e-4  # pairs that take part in the fit (all pairs with w > 0 have their recon updated)
    counts = torch.bincount(flat_idx[fit], minlength=B)
    ok_bone = counts >= 3
    pair_colour = torch.full((B,), -1, dtype=torch.long, device=dev)
    classes = _bone_colours(idx, w, B)
    for c, bones in enumerate(classes):
        pair_colour[torch.as_tensor(bones, device=dev)] = c
    pc = pair_colour[flat_idx]
    for c, bones in enumerate(classes):
        sel = (pc == c) & ok_bone[flat_idx]
        if not bool(sel.any()):
            continue
        v, j, wj = rows[sel], flat_idx[sel], flat_w[sel]
        xj = x[v]  # [n, 3]
        old = _move(m, j, xj)  # [n, T, 3]
        q = y[:, v].transpose(0, 1) - recon[:, v].transpose(0, 1) + wj[:, None, None] * old  # [n, T, 3]
        fw = torch.where(fit[sel], wj, torch.zeros_like(wj))  # weights w (targets q/w with weights w^2)
        ws = torch.zeros(B, dtype=x.dtype, device=dev).index_add_(0, j, fw ** 2).clamp_min(1e-30)  # [B]
        xc = torch.zeros(B, 3, dtype=x.dtype, device=dev).index_add_(0, j, (fw ** 2)[:, None] * xj) / ws[:, None]
        qc = torch.zeros(B, q.shape[1], 3, dtype=x.dtype, device=dev).index_add_(
            0, j, fw[:, None, None] * q) / ws[:, None, None]  # [B, T, 3]
        f = fw[:, None] * (xj - xc[j])  # [n, 3]
        h = torch.zeros(B, 3, q.shape[1] * 3, dtype=x.dtype, device=dev).index_add_(
            0, j, f[:, :, None] * q.reshape(len(v), 1, -1))  # [B, 3, T*3] = sum w (x - xc) q^T
        ub = torch.unique(j)
        h = h[ub].reshape(len(ub), 3, -1, 3).permute(0, 2, 1, 3)  # [b, T, 3, 3]
        r = rotation_from_covariance(h)
        t = qc[ub] - (r @ xc[ub][:, None, :, None])[..., 0]
        m[ub] = to_matrix(r, t)
        new = _move(m, j, xj)
        recon.index_add_(1, v, (wj[:, None, None] * (new - old)).transpose(0, 1))
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
    progress: ProgressFn | None = None,
) -> SSDRResult:
    """Alternate weight and transform steps (module docstring). RMSE history is non-increasing.

    ``progress(fraction, message)`` is reported before every iteration ("SSDR k/n") and at the end."""
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
        report(progress, it / cfg.iterations, f"SSDR {it + 1}/{cfg.iterations}")
        idx, w = weight_step(x, y, m, idx, w, cfg, y2)
        recon = reconstruct(x, m, idx, w)
        hist.append(float(torch.sqrt((_rmse(recon, y, vw) ** 2).mean())) * scale)
        m, recon = transform_step(x, y, m, idx, w, recon, cfg.backend)  # keeps recon up to date
        hist.append(float(torch.sqrt((_rmse(recon, y, vw) ** 2).mean())) * scale)
    report(progress, 1.0, f"SSDR {cfg.iterations}/{cfg.iterations}")
    per_frame = (_rmse(recon, y, vw) * scale).cpu().numpy().astype(np.float64)
    m_out = s_inv @ m.double().cpu().numpy() @ s
    return SSDRResult(idx.cpu().numpy(), w.double().cpu().numpy(), m_out, hist, per_frame)
