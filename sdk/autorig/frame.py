"""Up / forward / left axes, the left-right symmetry plane and a body-type guess for a plain mesh.

1. Principal axes of area-weighted surface samples, snapped to a coordinate axis when within
   ``snap_deg`` (artists model along axes; a mesh lying on its side still has axis-aligned limbs).
2. Lateral axis: the principal axis whose mirror plane (through the median) best maps the samples onto
   themselves (mean nearest-neighbour distance of the mirrored samples, in bbox diagonals).
3. Up axis among the two others: the end of an axis whose extreme slab splits into the most separate
   clusters is the bottom (two feet for a biped, four for a quadruped; heads and tails are single).
   A biped's up is its longer remaining axis; ties are broken by the centroid (the torso is above the
   middle of a standing body).
4. Forward: for a biped the feet stick out forward of the ankles; for a quadruped the head end (with ears,
   horns) reaches higher than the tail end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FrameConfig:
    snap_deg: float = 15.0  # snap principal axes to coordinate axes within this angle (ours)
    slab: float = 0.05  # bottom slab thickness, fraction of the bbox diagonal (ours)
    prefer_coordinate: float = 2.0  # keep coordinate axes unless principal axes mirror this much better (ours)
    cluster_radius: float = 0.035  # single-linkage radius, fraction of the bbox diagonal (ours)
    min_cluster: float = 0.04  # a cluster counts when it holds this fraction of the slab's samples (ours)
    up: str | None = None  # force the up axis: "+Y", "-Z", ... (None = detect)
    forward: str | None = None  # force the forward axis (None = detect)


@dataclass
class Frame:
    up: np.ndarray  # [3] unit
    forward: np.ndarray  # [3] unit
    left: np.ndarray  # [3] unit = up x forward (the character's left for a +forward facing body)
    center: np.ndarray  # [3] a point on the symmetry plane
    symmetry_error: float  # mirror mismatch in bbox diagonals (0 = perfectly symmetric)
    bottom_clusters: int  # separate pieces at the bottom (feet)
    body: str  # "biped" | "quadruped" | "other"
    height: float  # extent along up
    ground: float  # min coordinate along up

    def to_local(self, p: np.ndarray) -> np.ndarray:
        """World points [N, 3] -> (lateral, up, forward) coordinates relative to the plane centre."""
        q = np.asarray(p, dtype=np.float64) - self.center
        return np.stack([q @ self.left, q @ self.up, q @ self.forward], -1)

    def to_world(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        return self.center + q[..., :1] * self.left + q[..., 1:2] * self.up + q[..., 2:3] * self.forward


_AXES = {"X": 0, "Y": 1, "Z": 2}


def parse_axis(s: str) -> np.ndarray:
    from ..errors import InvalidInputError
    t = str(s).strip().upper()
    sign = -1.0 if t.startswith("-") else 1.0
    t = t.lstrip("+-")
    if t not in _AXES:
        raise InvalidInputError(f"axis must be one of +X -X +Y -Y +Z -Z, got {s!r}", field="axis")
    v = np.zeros(3)
    v[_AXES[t]] = sign
    return v


def surface_samples(vertices: np.ndarray, faces: np.ndarray, n: int = 4000, seed: int = 0) -> np.ndarray:
    """Area-weighted random surface points [n, 3] (deterministic in seed)."""
    v, f = np.asarray(vertices, float), np.asarray(faces, np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    rng = np.random.default_rng(seed)
    tot = area.sum()
    fi = rng.choice(len(f), size=n, p=area / tot) if tot > 0 else rng.integers(0, len(f), n)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    return (1 - s)[:, None] * a[fi] + (s * (1 - r2))[:, None] * b[fi] + (s * r2)[:, None] * c[fi]


def count_clusters(points: np.ndarray, radius: float, min_frac: float) -> tuple[int, np.ndarray]:
    """Single-linkage clusters of points [N, 3]; returns (number of clusters >= min_frac, labels)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    if len(points) == 0:
        return 0, np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    n = len(points)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    counts = np.bincount(lab)
    return int((counts >= max(min_frac * n, 3)).sum()), lab


def _snap(axis: np.ndarray, deg: float) -> np.ndarray:
    k = int(np.argmax(np.abs(axis)))
    if abs(axis[k]) >= np.cos(np.deg2rad(deg)):
        out = np.zeros(3)
        out[k] = np.sign(axis[k])
        return out
    return axis / np.linalg.norm(axis)


def _mirror_error(p: np.ndarray, axis: np.ndarray, diag: float) -> tuple[float, float]:
    from scipy.spatial import cKDTree
    t = p @ axis
    c = float(np.median(t))
    m = p - 2 * (t - c)[:, None] * axis
    d, _ = cKDTree(p).query(m)
    return float(d.mean() / diag), c


def detect_frame(vertices: np.ndarray, faces: np.ndarray, config: FrameConfig | None = None,
                 samples: np.ndarray | None = None) -> Frame:
    cfg = config or FrameConfig()
    p = samples if samples is not None else surface_samples(vertices, faces)
    diag = float(np.linalg.norm(p.max(0) - p.min(0))) or 1.0
    mu = p.mean(0)
    _, _, vt = np.linalg.svd(p - mu, full_matrices=False)
    pca = [_snap(a, cfg.snap_deg) for a in vt]
    # re-orthogonalize after snapping (keep snapped ones exact)
    for i in range(3):
        for j in range(i):
            pca[i] = pca[i] - (pca[i] @ pca[j]) * pca[j]
        pca[i] = pca[i] / max(np.linalg.norm(pca[i]), 1e-12)
    # coordinate axes first (content is authored along axes, also when lying on its side); principal
    # axes only when they are clearly more symmetric
    coord = [np.eye(3)[k] for k in range(3)]
    e_coord = min(_mirror_error(p, a, diag)[0] for a in coord)
    e_pca = min(_mirror_error(p, a, diag)[0] for a in pca)
    axes = coord if e_coord <= cfg.prefer_coordinate * e_pca else pca

    def bottom(d):
        t = p @ d
        sel = p[t <= t.min() + cfg.slab * diag]
        return count_clusters(sel, cfg.cluster_radius * diag, cfg.min_cluster)[0]

    def four_feet(d, lat_ax, long_ax) -> bool:
        """Four big pieces at the bottom along d, two on each side of the symmetry plane, spread front/back."""
        t = p @ d
        sel = p[t <= t.min() + cfg.slab * diag]
        n, lab = count_clusters(sel, cfg.cluster_radius * diag, cfg.min_cluster)
        if n < 4:
            return False
        counts = np.bincount(lab)
        big = np.argsort(-counts)[:4]
        cen = np.array([sel[lab == k].mean(0) for k in big])
        lat = (cen - mu) @ lat_ax
        lon = cen @ long_ax
        ext = extent(long_ax)
        if (lat > 0).sum() != 2:
            return False
        spread = [np.ptp(lon[lat > 0]), np.ptp(lon[lat < 0])]
        return min(spread) > 0.2 * ext

    def two_feet(d, lat_ax) -> bool:
        t = p @ d
        sel = p[t <= t.min() + cfg.slab * diag]
        n, lab = count_clusters(sel, cfg.cluster_radius * diag, cfg.min_cluster)
        if n != 2:
            return False
        big = np.argsort(-np.bincount(lab))[:2]
        lat = np.array([(sel[lab == k].mean(0) - mu) @ lat_ax for k in big])
        return bool(lat[0] * lat[1] < 0)

    def extent(d):
        t = p @ d
        return float(t.max() - t.min())

    forced_up = parse_axis(cfg.up) if cfg.up else None
    errs = [_mirror_error(p, a, diag) for a in axes]
    if forced_up is not None:
        cand = [i for i in range(3) if abs(axes[i] @ forced_up) < 0.9]
        lat = min(cand, key=lambda i: errs[i][0])
    else:
        lat = int(np.argmin([e[0] for e in errs]))
    others = [axes[i] for i in range(3) if i != lat]
    if forced_up is not None:
        up = forced_up
        nb = bottom(up)
    else:
        long_ax = max(others, key=extent)
        short_ax = min(others, key=extent)
        c_long = max(bottom(long_ax), bottom(-long_ax))
        c_short = [bottom(short_ax), bottom(-short_ax)]
        quad = [four_feet(short_ax, axes[lat], long_ax), four_feet(-short_ax, axes[lat], long_ax)]
        biped_end = [d for d in (long_ax, -long_ax) if two_feet(d, axes[lat]) and bottom(-d) == 1]
        if len(biped_end) == 1 and not (quad[0] and quad[1]):
            # standing biped: two feet (one each side of the plane) at one end of its long axis, one head
            # at the other; checked first because a biped's back can show four pieces (heels, hands)
            up = biped_end[0]
        elif any(quad):  # quadruped: four feet (2 left, 2 right, front and back) at the bottom of its shorter axis
            up = short_ax if quad[0] else -short_ax
        elif c_long != 2 and max(c_short) >= 3:
            up = short_ax if c_short[0] >= c_short[1] else -short_ax
        elif c_long < 2 and max(bottom(long_ax), bottom(-long_ax)) < 2 and max(c_short) == 2:
            up = short_ax if c_short[0] >= c_short[1] else -short_ax
        else:
            # biped / other: the longer axis is up; its bottom end is the one with more pieces (feet)
            c_pos, c_neg = bottom(long_ax), bottom(-long_ax)
            if c_pos != c_neg:
                up = long_ax if c_pos > c_neg else -long_ax
            else:  # centroid above the middle of the extent
                t = p @ long_ax
                up = long_ax if (mu @ long_ax) > 0.5 * (t.min() + t.max()) else -long_ax
            # axis-aligned input: prefer the coordinate axis it is authored in (Y-up or Z-up) when ambiguous
        nb = bottom(up)
    h = p @ up
    ground, height = float(h.min()), float(h.max() - h.min())
    rest = [a for a in others if abs(a @ up) < 0.9]
    fwd_ax = rest[0] if rest else np.cross(up, axes[lat])
    fwd_ax = fwd_ax - (fwd_ax @ up) * up
    fwd_ax /= np.linalg.norm(fwd_ax)
    lat_ax = axes[lat]
    horiz_long = extent(fwd_ax) > 1.3 * height
    body = "quadruped" if nb >= 3 or (nb >= 2 and horiz_long) else ("biped" if nb == 2 else "other")
    if cfg.forward:
        fwd = parse_axis(cfg.forward)
    elif body == "biped" or body == "other":
        feet = p[h <= ground + 0.04 * height]
        shins = p[(h > ground + 0.10 * height) & (h <= ground + 0.22 * height)]
        s = np.sign(((feet.mean(0) if len(feet) else mu) - (shins.mean(0) if len(shins) else mu)) @ fwd_ax) or 1.0
        fwd = s * fwd_ax
    else:
        t = p @ fwd_ax
        lo, hi = t.min(), t.max()
        # heads (with ears, antlers) reach higher than tails: the top of each end slab
        hi_end, lo_end = t > hi - 0.2 * (hi - lo), t < lo + 0.2 * (hi - lo)
        a_hi = float(h[hi_end].max()) if hi_end.any() else -np.inf
        a_lo = float(h[lo_end].max()) if lo_end.any() else -np.inf
        fwd = fwd_ax if a_hi >= a_lo else -fwd_ax
    left = np.cross(up, fwd)
    left /= np.linalg.norm(left)
    sym_err, c_lat = _mirror_error(p, left, diag)
    center = mu - (mu @ left) * left + c_lat * left
    return Frame(up=np.asarray(up, float), forward=np.asarray(fwd, float), left=left, center=center,
                 symmetry_error=sym_err, bottom_clusters=int(nb), body=body, height=height, ground=ground)
