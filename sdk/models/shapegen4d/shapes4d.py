"""Procedural animated shapes with exact analytic SDFs, for training the tiny ShapeGen4D here (ours, not the paper's data:
the paper trains on 14k animated Objaverse assets, §5.1).

A shape at one frame is a union of K capsules, each a rigid link frame (origin ``a``, rotation ``R``, length ``l`` along
the local x axis, radius ``r``; a sphere is ``l = 0``). Families:

* ``chain``: an articulated chain of 2-4 links animated by forward kinematics (sinusoidal joint angles, fixed root, as
  the paper removes root motion);
* ``growth``: a 1-3 link chain whose lengths and radii grow over the clip;
* ``merge``: 2-3 spheres moving together until they overlap (a topology change: separate components merge).

Each sequence is centred and scaled to fit ``extent`` over all its frames (the paper rescales each sequence into one
unit box). The SDF of one capsule is exact; the union is ``min`` (exact outside, a bound inside).

Aligned queries (§3.1): a surface point is stored in link coordinates (primitive id, fraction along the axis, unit
direction in the link frame); the same point at frame t is ``a_t + R_t ((f l_t, 0, 0) + r_t d)``, i.e. carried by the
forward kinematics (and the growth), always exactly on that capsule. Points inside another primitive (hidden by the
union) are filtered out for the encoder input; aligned queries keep their identity across frames, as carried vertices do.

Renders: orthographic silhouette + depth along -z (sphere tracing of the exact SDF), the tiny model's input video.

Primitive tensor layout ``prims [..., K, 15]``: a (3), R row-major (9), l, r, valid (1 for real primitives, 0 padding).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

FAMILIES = ("chain", "growth", "merge")
K_MAX = 4


@dataclass
class ShapeDataConfig:
    frames: int = 8
    extent: float = 0.85  # ours: every sequence fits in [-extent, extent]^3
    radius: tuple = (0.10, 0.18)  # ours: capsule radii (thin parts make 128^3 IoU harder)
    sphere_radius: tuple = (0.18, 0.32)
    link_length: tuple = (0.25, 0.5)
    amplitude: tuple = (0.3, 0.9)  # joint angle amplitude, rad
    image_res: int = 48  # silhouette/depth video resolution
    families: tuple = FAMILIES


def _rot(axis: np.ndarray, ang: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    x, y, z = axis
    c, s = math.cos(ang), math.sin(ang)
    C = 1 - c
    return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                     [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                     [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])


def _random_rotation(rng) -> np.ndarray:
    """A uniformly random rotation: a normalised Gaussian quaternion (w, x, y, z)."""
    from ...core.transforms import quat_to_matrix
    return quat_to_matrix(rng.normal(size=4))


def _chain(rng, cfg: ShapeDataConfig, T: int, grow: bool) -> np.ndarray:
    n = int(rng.integers(1, 4)) if grow else int(rng.integers(2, K_MAX + 1))
    R0 = _random_rotation(rng)
    lengths = rng.uniform(*cfg.link_length, n)
    radii = rng.uniform(*cfg.radius, n)
    axes = [rng.normal(size=3) for _ in range(n)]
    th0 = rng.uniform(-0.6, 0.6, n)
    amp = rng.uniform(*cfg.amplitude, n) * (0.3 if grow else 1.0)
    om = rng.uniform(0.5, 1.5, n) * 2 * math.pi
    ph = rng.uniform(0, 2 * math.pi, n)
    g0 = rng.uniform(0.35, 0.6)
    out = np.zeros((T, K_MAX, 15))
    for t in range(T):
        s = t / max(T - 1, 1)
        scale = g0 + (1 - g0) * s if grow else 1.0
        a = np.zeros(3)
        R = R0
        for k in range(n):
            R = R @ _rot(axes[k], th0[k] + amp[k] * math.sin(om[k] * s + ph[k])) if k > 0 else R
            l = lengths[k] * scale
            out[t, k] = np.r_[a, R.reshape(-1), l, radii[k] * (0.6 + 0.4 * scale if grow else 1.0), 1.0]
            a = a + R @ np.array([l, 0, 0])
    return out


def _merge(rng, cfg: ShapeDataConfig, T: int) -> np.ndarray:
    n = int(rng.integers(2, 4))
    radii = rng.uniform(*cfg.sphere_radius, n)
    ends = rng.normal(size=(n, 3)) * 0.08
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    starts = ends + dirs * (radii[:, None] + rng.uniform(0.25, 0.5, (n, 1)))
    R0 = [_random_rotation(rng) for _ in range(n)]
    out = np.zeros((T, K_MAX, 15))
    for t in range(T):
        s = t / max(T - 1, 1)
        s = s * s * (3 - 2 * s)
        for k in range(n):
            c = (1 - s) * starts[k] + s * ends[k]
            out[t, k] = np.r_[c, R0[k].reshape(-1), 0.0, radii[k], 1.0]
    return out


def _normalize(p: np.ndarray, extent: float) -> np.ndarray:
    """Centre + scale one sequence [T, K, 15] so every capsule of every frame lies in [-extent, extent]^3."""
    v = p[..., 14] > 0
    a = p[..., 0:3]
    R = p[..., 3:12].reshape(*p.shape[:-1], 3, 3)
    b = a + R[..., :, 0] * p[..., 12:13]
    r = p[..., 13:14]
    lo = np.minimum(a - r, b - r)[v].min(0)
    hi = np.maximum(a + r, b + r)[v].max(0)
    c = (lo + hi) / 2
    s = extent / ((hi - lo).max() / 2)
    q = p.copy()
    q[..., 0:3] = (a - c) * s
    q[..., 12] *= s
    q[..., 13] *= s
    q[~v] = 0
    return q


def random_sequence(seed: int, cfg: ShapeDataConfig | None = None, family: str | None = None) -> tuple[np.ndarray, str]:
    """-> (prims [T, K_MAX, 15] float32, family) of one procedural animated shape."""
    cfg = cfg or ShapeDataConfig()
    rng = np.random.default_rng(seed)
    fam = family or cfg.families[int(rng.integers(len(cfg.families)))]
    T = cfg.frames
    p = {"chain": lambda: _chain(rng, cfg, T, False), "growth": lambda: _chain(rng, cfg, T, True),
         "merge": lambda: _merge(rng, cfg, T)}[fam]()
    p = _normalize(p, cfg.extent)
    # padding primitives duplicate primitive 0 (the union is unchanged); valid stays 0 (no surface samples)
    for k in range(K_MAX):
        if p[0, k, 14] == 0:
            p[:, k, :14] = p[:, 0, :14]
    return p.astype(np.float32), fam


# ---------------------------------------------------------------------------------------------------- SDF
def _parts(prims: Tensor):
    a = prims[..., 0:3]
    R = prims[..., 3:12].reshape(*prims.shape[:-1], 3, 3)
    return a, R, prims[..., 12], prims[..., 13], prims[..., 14]


def sdf(prims: Tensor, x: Tensor) -> Tensor:
    """prims [B, K, 15], x [B, P, 3] -> exact-per-capsule union SDF [B, P] (negative inside)."""
    a, R, l, r, _ = _parts(prims)
    d = R[..., :, 0]  # [B, K, 3] link axis
    ap = x[:, :, None] - a[:, None]  # [B, P, K, 3]
    h = ((ap * d[:, None]).sum(-1)).clamp(min=0)
    h = torch.minimum(h, l[:, None])
    dist = (ap - h[..., None] * d[:, None]).norm(dim=-1) - r[:, None]
    return dist.min(-1).values


def _sample_local(n: int, K: int, prims0: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Area-weighted surface samples in link coordinates for a batch: prims0 [B, K, 15] -> (pid [B, n], frac [B, n],
    dir [B, n, 3] unit, in the link frame)."""
    B = prims0.shape[0]
    dev = prims0.device
    _, _, l, r, valid = _parts(prims0)
    area = (2 * math.pi * r * l + 4 * math.pi * r * r) * valid  # [B, K]
    pid = torch.multinomial(area, n, replacement=True, generator=gen)  # [B, n]
    lk, rk = torch.gather(l, 1, pid), torch.gather(r, 1, pid)
    # uniform on the capsule: choose cylinder vs caps by area, then place
    cyl = torch.rand(B, n, generator=gen, device=dev) < (2 * math.pi * rk * lk) / (2 * math.pi * rk * lk + 4 * math.pi * rk * rk)
    u = torch.rand(B, n, generator=gen, device=dev)
    phi = torch.rand(B, n, generator=gen, device=dev) * 2 * math.pi
    dcyl = torch.stack([torch.zeros_like(phi), phi.cos(), phi.sin()], -1)
    dsph = torch.randn(B, n, 3, generator=gen, device=dev)
    dsph = dsph / dsph.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    frac = torch.where(cyl, u, (dsph[..., 0] > 0).float())  # caps: hemisphere at the end the direction points to
    dirs = torch.where(cyl[..., None], dcyl, dsph)
    return pid, frac, dirs


def carry(prims: Tensor, pid: Tensor, frac: Tensor, dirs: Tensor) -> tuple[Tensor, Tensor]:
    """Link-coordinate samples -> world points and normals at the frame(s) of ``prims [B, K, 15]``: [B, n, 3] each."""
    a, R, l, r, _ = _parts(prims)
    idx = pid[..., None]
    ak = torch.gather(a, 1, idx.expand(-1, -1, 3))
    Rk = torch.gather(R.flatten(2), 1, idx.expand(-1, -1, 9)).view(*pid.shape, 3, 3)
    lk, rk = torch.gather(l, 1, pid), torch.gather(r, 1, pid)
    nrm = (Rk @ dirs[..., None])[..., 0]
    pts = ak + Rk[..., :, 0] * (frac * lk)[..., None] + rk[..., None] * nrm
    return pts, nrm


def surface_points(prims: Tensor, n: int, gen: torch.Generator, oversample: int = 2) -> Tensor:
    """Points + normals on the union surface [B, n, 6] (samples hidden inside another primitive dropped, then
    resampled to ``n`` with replacement)."""
    pid, frac, dirs = _sample_local(n * oversample, prims.shape[1], prims, gen)
    pts, nrm = carry(prims, pid, frac, dirs)
    keep = sdf(prims, pts) > -2e-3  # [B, m]
    w = keep.float() + 1e-6
    sel = torch.multinomial(w, n, replacement=True, generator=gen)
    out = torch.cat([pts, nrm], -1)
    return torch.gather(out, 1, sel[..., None].expand(-1, -1, 6))


def aligned_queries(seq: Tensor, m: int, gen: torch.Generator, dense: int = 4096) -> Tensor:
    """Temporally aligned queries (§3.1) for sequences ``seq [B, T, K, 15]``: ``m`` farthest-point-sampled visible surface
    points of frame 0, carried by the animation to every frame -> [B, T, m, 6] (xyz + normal)."""
    from .vae import farthest_point_sampling
    B, T = seq.shape[:2]
    pid, frac, dirs = _sample_local(dense, seq.shape[2], seq[:, 0], gen)
    p0, _ = carry(seq[:, 0], pid, frac, dirs)
    vis = sdf(seq[:, 0], p0) > -2e-3
    # hidden samples become copies of the first visible one (distance 0 to it: FPS never picks them)
    first = vis.float().argmax(1)[:, None]  # [B, 1]
    pid = torch.where(vis, pid, torch.gather(pid, 1, first))
    frac = torch.where(vis, frac, torch.gather(frac, 1, first))
    dirs = torch.where(vis[..., None], dirs, torch.gather(dirs, 1, first[..., None].expand(-1, -1, 3)))
    p0, _ = carry(seq[:, 0], pid, frac, dirs)
    idx = farthest_point_sampling(p0, m)
    pid, frac = torch.gather(pid, 1, idx), torch.gather(frac, 1, idx)
    dirs = torch.gather(dirs, 1, idx[..., None].expand(-1, -1, 3))
    out = []
    for t in range(T):
        p, nrm = carry(seq[:, t], pid, frac, dirs)
        out.append(torch.cat([p, nrm], -1))
    return torch.stack(out, 1)


def grid_points(res: int, bounds: float = 1.0, device=None) -> Tensor:
    g = torch.linspace(-bounds, bounds, res, device=device)
    return torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)


# ---------------------------------------------------------------------------------------------------- renders
@torch.no_grad()
def render_silhouette_depth(prims: Tensor, res: int, steps: int = 48, z0: float = 1.2) -> Tensor:
    """Orthographic view along -z of ``prims [B, K, 15]`` -> [B, 2, res, res]: silhouette (0/1) and depth (0 at the
    near plane z = z0 ... 1 at z = -z0; 0 outside the silhouette). Row 0 is the top (+y)."""
    B = prims.shape[0]
    dev = prims.device
    g = torch.linspace(-1, 1, res, device=dev)
    yy, xx = torch.meshgrid(-g, g, indexing="ij")
    o = torch.stack([xx, yy, torch.full_like(xx, z0)], -1).reshape(1, -1, 3).expand(B, -1, -1)
    s = torch.zeros(B, res * res, device=dev)
    for _ in range(steps):
        p = o - torch.stack([torch.zeros_like(s), torch.zeros_like(s), s], -1)
        d = sdf(prims, p)
        s = (s + d.clamp(min=0)).clamp(max=2 * z0)
    p = o - torch.stack([torch.zeros_like(s), torch.zeros_like(s), s], -1)
    hit = sdf(prims, p) < 5e-3
    depth = torch.where(hit, s / (2 * z0), torch.zeros_like(s))
    return torch.stack([hit.float(), depth], 1).view(B, 2, res, res)
