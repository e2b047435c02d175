"""ATOP §4.3.2 motion-axis estimation from articulated point clouds.

Two estimators, for revolute and prismatic joints:

* ``atop_search`` — ATOP's algorithmic optimization: approximate the part's points by an oriented bounding
  box (PCA), take 7 axis origins (the OBB centroid and its 6 face centres) x 6 axis directions (± the 3
  principal axes), move the part rigidly about/along each candidate and keep the candidate whose moved
  object has the smallest Chamfer distance to the articulated point cloud. The motion amount per
  articulated state (angle / travel) is a nuisance parameter the paper leaves implicit; we search it
  coarse-to-fine (a fixed grid, then golden-section refinement of the best candidates). For prismatic
  joints the origin does not change the motion, so the 7 origins collapse to one (the centroid).
* ``direct_optimization`` — the alternative ATOP compares against in Table 4: continuous optimization
  of axis, origin and amounts with Adam on the same Chamfer loss (lr 5e-3 as in ATOP §4.4.3), started from
  each principal axis.

Chamfer distance here is the symmetric mean of squared nearest-neighbour distances (CD-L2) between the
moved object (static points + moved part points) and the articulated cloud, summed over states. All
computation happens in coordinates normalized by the object's bounding-box diagonal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..core.articulation import joint_motion
from ..geometry.rotations import axis_angle_matrix

MOTION_TYPES = ("revolute", "prismatic")
BWD_GROUPS = 4  # ours: groups of free target points by static distance in the exact re-scoring (speed only)
# ours: amounts per state tried by the exact re-scoring, across the best grid value's neighbours, then within a
# step of the best (final spacing: a twelfth of the neighbours' span)
REFINE_AMOUNTS = (7, 5)
# KD-trees whose queries only need nearest distances: sliding-midpoint splits build and query faster than the
# balanced median tree, and a nearest distance does not depend on how the tree was split
FAST_TREE = dict(balanced_tree=False, compact_nodes=False)


@dataclass
class OBB:
    center: np.ndarray  # [3]
    axes: np.ndarray  # [3, 3] rows = principal directions, largest variance first
    half_extents: np.ndarray  # [3] along ``axes``

    def face_centers(self) -> np.ndarray:  # [6, 3]: +a0, -a0, +a1, -a1, +a2, -a2
        out = []
        for k in range(3):
            for s in (1.0, -1.0):
                out.append(self.center + s * self.half_extents[k] * self.axes[k])
        return np.array(out)


@dataclass
class AxisEstimate:
    type: str  # "revolute" | "prismatic"
    origin: np.ndarray  # [3] a point on the axis (object frame)
    axis: np.ndarray  # [3] unit direction; positive amounts move the part as in the articulated states
    amounts: np.ndarray  # [S] radians or length units, one per articulated state
    cost: float  # summed Chamfer distance (normalized units) of the winning candidate
    candidate: tuple[int, int] | None = None  # (origin index 0..6, direction index 0..5) for the search
    costs: dict = field(default_factory=dict)  # best cost per motion type
    ranking: list = field(default_factory=list)  # (cost, type, origin index, direction index) of every candidate
    method: str = "atop_search"


def fit_obb(points: np.ndarray) -> OBB:  # points [N, 3]
    """Oriented bounding box of the points: minimum-volume box (trimesh, over the convex hull), falling back to
    PCA for degenerate (flat/collinear) sets. Axes sorted by extent, largest first, right-handed."""
    p = np.asarray(points, dtype=np.float64)
    c = p.mean(0)
    if len(p) < 4:
        return OBB(c, np.eye(3), np.zeros(3))
    ax = None
    try:
        import trimesh
        to_origin, ext = trimesh.bounds.oriented_bounds(p)
        ax = np.asarray(to_origin[:3, :3], dtype=np.float64)
        ax = ax[np.argsort(-np.asarray(ext))]
    except Exception:  # noqa: BLE001 - qhull fails on flat sets: PCA instead
        ax = None
    if ax is None:
        _, _, vt = np.linalg.svd(p - c, full_matrices=False)
        ax = vt.copy() if vt.shape[0] == 3 else np.eye(3)
    ax[2] = np.cross(ax[0], ax[1])
    proj = (p - c) @ ax.T
    lo, hi = proj.min(0), proj.max(0)
    center = c + ((lo + hi) / 2) @ ax
    return OBB(center, ax, (hi - lo) / 2)


def obb_candidates(points: np.ndarray):
    """ATOP's 7 origins [7, 3] (centroid + 6 face centres) and 6 directions [6, 3] (± principal axes)."""
    obb = fit_obb(points)
    origins = np.vstack([obb.center[None], obb.face_centers()])
    dirs = np.vstack([s * obb.axes[k] for k in range(3) for s in (1.0, -1.0)])
    return origins, dirs, obb


def rotation_matrix(axis: np.ndarray, angle) -> np.ndarray:  # axis [3], angle [...] -> [..., 3, 3]
    return axis_angle_matrix(axis, angle)  # Rodrigues: sdk.geometry.rotations


def move_part(points: np.ndarray, type: str, origin: np.ndarray, axis: np.ndarray, amount: float) -> np.ndarray:
    """Rigidly move ``points`` [N, 3] by a revolute (angle, radians) or prismatic (travel) joint."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / max(np.linalg.norm(axis), 1e-30)
    if type in ("revolute", "continuous"):
        R = rotation_matrix(axis, amount)
        return (points - origin) @ R.T + origin
    if type == "prismatic":
        return points + amount * axis
    if type == "fixed":
        return points.copy()
    raise ValueError(f"unknown motion type '{type}'")


def joint_transform(type: str, origin, axis, amount) -> np.ndarray:  # -> [4, 4] world-frame motion
    return joint_motion(type, origin, axis, amount)  # the core kinematics (sdk.core.articulation)


def chamfer_distance(a: np.ndarray, b: np.ndarray) -> float:  # a [N, 3], b [M, 3]
    """Symmetric CD-L2: mean squared NN distance a->b plus b->a."""
    da, _ = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    return float(np.mean(da ** 2) + np.mean(db ** 2))


def _subsample(p: np.ndarray, n: int, rng) -> np.ndarray:
    if len(p) <= n:
        return p
    return p[rng.choice(len(p), n, replace=False)]


class _Field:
    """Distance-to-point-set lookup table (Euclidean distance transform on a voxel grid), normalized coords."""

    def __init__(self, points: np.ndarray, lo=-0.85, hi=0.85, res: int = 64):
        from scipy.ndimage import distance_transform_edt
        lo, hi = np.broadcast_to(np.asarray(lo, float), (3,)), np.broadcast_to(np.asarray(hi, float), (3,))
        self.res = res
        self.h = float(np.max(hi - lo)) / res
        self.lo = (lo + hi) / 2 - self.h * res / 2
        f = np.floor((points - self.lo) / self.h).astype(np.int64)
        idx = f[((f >= 0) & (f < res)).all(1)]  # points outside the grid are not drawn onto its border
        occ = np.ones((res, res, res), dtype=bool)
        if len(idx):
            occ[idx[:, 0], idx[:, 1], idx[:, 2]] = False
            self.d = (distance_transform_edt(occ) * self.h).astype(np.float32)
        else:  # nothing inside: everything is at least a grid away
            self.d = np.full((res, res, res), res * self.h, dtype=np.float32)
        self.lo32, self.inv_h32 = self.lo.astype(np.float32), np.float32(1.0 / self.h)

    def __call__(self, q: np.ndarray) -> np.ndarray:  # q [..., 3] -> distances [...]
        """Fast path of ``_reference``: one flat ``take`` and the outside-the-grid term only where it is not 0."""
        f = (q - self.lo) / self.h
        i = f.astype(np.int64)
        np.clip(i, 0, self.res - 1, out=i)
        r = self.res
        inside = self.d.ravel().take((i[..., 0] * r + i[..., 1]) * r + i[..., 2])
        res = inside.astype(np.float64)
        o = (f < 0) | (f > r)
        outm = o[..., 0] | o[..., 1] | o[..., 2]  # (``.any(-1)`` over a length-3 axis is a slow reduction)
        if outm.any():  # outside the grid: add the distance to the grid box
            fo = f[outm]
            res[outm] += np.linalg.norm(np.maximum(np.maximum(-fo, fo - r), 0.0), axis=-1) * self.h
        return res

    def lookup32(self, q: np.ndarray) -> np.ndarray:  # q [..., 3] float32 -> distances [...] float32
        """Float32 lookup for the coarse ranking (half the memory traffic of ``__call__``; a query within float32
        rounding of a voxel face may read the neighbouring voxel)."""
        f = q - self.lo32
        f *= self.inv_h32
        i = f.astype(np.int32)
        np.clip(i, 0, self.res - 1, out=i)
        r = self.res
        res = self.d.ravel().take((i[..., 0] * r + i[..., 1]) * r + i[..., 2])
        o = (f < 0) | (f > r)
        outm = o[..., 0] | o[..., 1] | o[..., 2]  # (``.any(-1)`` over a length-3 axis is a slow reduction)
        if outm.any():
            fo = f[outm]
            res[outm] += np.linalg.norm(np.maximum(np.maximum(-fo, fo - r), 0.0), axis=-1) * np.float32(self.h)
        return res

    def _reference(self, q: np.ndarray) -> np.ndarray:  # the plain formula ``__call__`` is tested against
        f = (q - self.lo) / self.h
        i = np.clip(f.astype(np.int64), 0, self.res - 1)
        inside = self.d[i[..., 0], i[..., 1], i[..., 2]]
        out = np.linalg.norm(np.maximum(np.maximum(-f, f - self.res), 0.0), axis=-1) * self.h
        return inside + out


class _State:
    """One articulated cloud, with everything that does not depend on the candidate precomputed.

    ``costs`` is the exact CD-L2 (KD-trees; target points the static body explains within ``tau`` keep
    their static distance, an error below tau^2 per point); ``coarse_costs`` replaces the nearest-neighbour
    queries by distance-transform lookups (``field_res`` voxels across the region the part can reach) to rank all
    candidates quickly.
    """

    def __init__(self, target: np.ndarray, static: np.ndarray, part: np.ndarray, tau: float, field_part: _Field,
                 region: tuple, part_tree: cKDTree | None = None, static_tree: cKDTree | None = None,
                 field_res: int = 64):
        """part_tree / static_tree: KD-trees of ``part`` / ``static``, shared by the states of one search."""
        self.target = target
        self.tree = cKDTree(target, **FAST_TREE)
        self.part_tree = part_tree if part_tree is not None else cKDTree(part, **FAST_TREE)
        self.field_target = _Field(target, *region, res=field_res)
        self.field_part = field_part
        n_static = len(static)
        self.n_moved = n_static + len(part)
        if n_static:
            ds, _ = self.tree.query(static)
            self.static_sum = float(np.sum(ds ** 2))
            dts, _ = (static_tree if static_tree is not None else cKDTree(static, **FAST_TREE)).query(target)
        else:
            self.static_sum = 0.0
            dts = np.full(len(target), np.inf)
        self.free = dts > tau
        self.fixed_sum = float(np.sum(dts[~self.free] ** 2))
        self.free_pts = target[self.free]  # [F, 3]
        self.free32 = self.free_pts.astype(np.float32)  # the coarse ranking runs in float32
        self.free_d2 = np.where(np.isfinite(dts[self.free]), dts[self.free], 1e6) ** 2  # [F]
        # a free target point's term is min(d^2 to the moved part, its static d^2): a KD query bounded by its
        # static distance gives the same term (farther = the static term), and bounded queries prune; the points
        # are queried in groups of similar static distance, each with its group's largest as the bound
        order = np.argsort(self.free_d2, kind="stable")
        self.free_groups = [(g, float(np.sqrt(self.free_d2[g].max())) * (1 + 1e-9))
                            for g in np.array_split(order, min(BWD_GROUPS, len(order))) if len(g)]

    def _total(self, fwd_d: np.ndarray, bwd_d: np.ndarray) -> np.ndarray:
        fwd = (self.static_sum + (fwd_d ** 2).sum(1, dtype=np.float64)) / self.n_moved
        bwd = (self.fixed_sum + np.minimum(bwd_d ** 2, self.free_d2[None]).sum(1, dtype=np.float64)) / len(self.target)
        return fwd + bwd

    def costs(self, part, typ, O, D, A) -> np.ndarray:  # exact; part [P,3]; O, D [B,3]; A [B] -> [B]
        moved = _move_batch(part, typ, O, D, A)
        B, P, _ = moved.shape
        fwd_d = self.tree.query(moved.reshape(-1, 3))[0].reshape(B, P)
        if len(self.free_pts):  # distance from a target point to the moved part = to the rest part after undoing the motion
            back = _move_batch(self.free_pts, typ, O, D, -A)
            bwd_d = np.empty((B, len(self.free_pts)))
            for g, bound in self.free_groups:  # bounded queries: inf beyond the bound reads as the static term
                bwd_d[:, g] = self.part_tree.query(back[:, g].reshape(-1, 3), distance_upper_bound=bound)[0].reshape(B, -1)
        else:
            bwd_d = np.zeros((B, 0))
        return self._total(fwd_d, bwd_d)

    def costs_reference(self, part, typ, O, D, A) -> np.ndarray:  # ``costs`` with unbounded queries (the test's)
        moved = _move_batch(part, typ, O, D, A)
        B, P, _ = moved.shape
        fwd_d = self.tree.query(moved.reshape(-1, 3))[0].reshape(B, P)
        if len(self.free_pts):
            bwd_d = self.part_tree.query(_move_batch(self.free_pts, typ, O, D, -A).reshape(-1, 3))[0].reshape(B, -1)
        else:
            bwd_d = np.zeros((B, 0))
        return self._total(fwd_d, bwd_d)

    def coarse_costs(self, part, typ, O, D, A, moved: np.ndarray | None = None) -> np.ndarray:
        """Ranking costs from distance-field lookups, in float32 (part, O, D, A may be float32: the caller converts
        once); the best candidates are re-scored exactly (``costs``, float64 KD-trees). moved: the part already
        moved by (typ, O, D, A) in float32 [B, P, 3] (the same for every state: computed once by the caller)."""
        f32 = np.float32
        part, O, D, A = part.astype(f32, copy=False), O.astype(f32, copy=False), D.astype(f32, copy=False), A.astype(f32, copy=False)
        if moved is None:
            moved = _move_batch(part, typ, O, D, A)
        fwd_d = self.field_target.lookup32(moved)
        bwd_d = self.field_part.lookup32(_move_batch(self.free32, typ, O, D, -A)) if len(self.free_pts) else np.zeros((len(A), 0), f32)
        return self._total(fwd_d, bwd_d)

    def coarse_costs_reference(self, part, typ, O, D, A) -> np.ndarray:  # float64 lookups (the test's reference)
        moved = _move_batch(part, typ, O, D, A)
        fwd_d = self.field_target(moved)
        bwd_d = self.field_part(_move_batch(self.free_pts, typ, O, D, -A)) if len(self.free_pts) else np.zeros((len(A), 0))
        return self._total(fwd_d, bwd_d)


def _move_batch(part: np.ndarray, type: str, origins: np.ndarray, dirs: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """part [P,3]; origins/dirs [B,3]; amounts [B] -> moved [B, P, 3]."""
    if type == "prismatic":
        return part[None] + (amounts[:, None] * dirs)[:, None, :]
    K = np.zeros((len(dirs), 3, 3), dtype=dirs.dtype)  # float32 in the coarse ranking, float64 otherwise
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -dirs[:, 2], dirs[:, 1], -dirs[:, 0]
    K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = dirs[:, 2], -dirs[:, 1], dirs[:, 0]
    t = amounts[:, None, None]
    R = np.eye(3, dtype=dirs.dtype)[None] + np.sin(t) * K + (1 - np.cos(t)) * (K @ K)
    rel = part[None] - origins[:, None, :]
    return rel @ R.transpose(0, 2, 1) + origins[:, None, :]  # batched GEMM (faster than einsum)


def amount_grid(type: str) -> np.ndarray:
    """Coarse motion amounts (normalized units): angles in radians, travel as a fraction of the object diagonal."""
    if type == "revolute":
        return np.deg2rad(np.array([3, 8, 15, 25, 35, 45, 60, 75, 90, 110, 135, 160, 180], dtype=np.float64))
    return np.geomspace(0.004, 0.6, 14)


def atop_search(part_points: np.ndarray, states: list[np.ndarray], static_points: np.ndarray | None = None, *,
                types=MOTION_TYPES, n_part: int = 256, n_target: int = 1024, refine_top: int = 6, seed: int = 0,
                direction_prior=None, obb_points: np.ndarray | None = None, field_res: int = 48) -> AxisEstimate:
    """ATOP's discrete OBB candidate search.

    part_points:   [N, 3] points sampled on the part at rest (object frame)
    states:        list of [M_s, 3] articulated point clouds of the whole object (part moved, body static)
    static_points: [K, 3] points on the rest of the object at rest (the body); None -> part only
    direction_prior: optional callable (type, origins [C,3], dirs [C,3]) -> additive cost [C] (e.g. a prompt
                   direction hint); None for the paper's pure search.
    obb_points:    [Q, 3] points to fit the OBB to (default: part_points; the part's mesh vertices give the
                   exact box of box-like parts).
    field_res:     ours: voxels across the coarse ranking's distance fields (48: a quarter of 64's distance-transform
                   time; the ranking only picks the ``refine_top`` candidates the KD-trees re-score exactly).
    """
    part_points = np.asarray(part_points, dtype=np.float64)
    if len(part_points) < 4:
        raise ValueError("part needs at least 4 points")
    if not states:
        raise ValueError("atop_search needs at least one articulated state")
    rng = np.random.default_rng(seed)
    static = np.zeros((0, 3)) if static_points is None else np.asarray(static_points, dtype=np.float64)
    allp = np.vstack([part_points, static]) if len(static) else part_points
    lo, hi = allp.min(0), allp.max(0)
    c0, scale = (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)), 1e-12)
    norm = lambda x: (np.asarray(x, dtype=np.float64) - c0) / scale  # noqa: E731
    part = norm(_subsample(part_points, n_part, rng))
    stat = norm(_subsample(static, n_part * 2, rng)) if len(static) else np.zeros((0, 3))
    # the coarse distance fields cover where the part can go (its box grown by its diagonal), so small parts
    # (keys, buttons) get fine voxels; target points the static body explains within tau are not "free"
    plo, phi = part.min(0), part.max(0)
    pdiag = float(np.linalg.norm(phi - plo))
    region = (np.maximum(plo - pdiag, -0.85), np.minimum(phi + pdiag, 0.85))
    tau = min(0.01, 0.05 * pdiag)
    fpart = _Field(part, *region, res=field_res)
    # which target points the static body explains (and their static distance) is read against every static point
    # given, not the subsample: in an articulated cloud whose body is these very points (the weight-free prior's
    # synthesized states, table B's) only the moved part's points stay free, and the backward term is exact there
    ptree = cKDTree(part, **FAST_TREE)
    stree = cKDTree(norm(static), **FAST_TREE) if len(static) else None
    sts = [_State(norm(_subsample(np.asarray(s, dtype=np.float64), n_target, rng)), stat, part, tau, fpart, region,
                  ptree, stree, field_res=field_res) for s in states]
    origins, dirs, _ = obb_candidates(norm(part_points if obb_points is None else obb_points))

    results = []  # [cost, type, origin index, direction index, amounts [S], prior cost]
    for typ in types:
        grid = amount_grid(typ)
        pairs = [(oi, di) for oi in range(7) for di in range(6)] if typ == "revolute" else [(0, di) for di in range(6)]
        O = np.array([origins[o] for o, _ in pairs])
        D = np.array([dirs[d] for _, d in pairs])
        C, G = len(pairs), len(grid)
        Ob, Db, Ab = np.repeat(O, G, 0), np.repeat(D, G, 0), np.tile(grid, C)
        total = np.zeros(C)
        best_amt = np.zeros((C, len(sts)))
        f32 = np.float32
        Ob, Db, Ab = Ob.astype(f32), Db.astype(f32), Ab.astype(f32)
        moved = _move_batch(part.astype(f32), typ, Ob, Db, Ab)  # [C*G, P, 3], shared by the states
        for si, st in enumerate(sts):
            c = st.coarse_costs(part, typ, Ob, Db, Ab, moved=moved).reshape(C, G)
            total += c.min(1)
            best_amt[:, si] = grid[c.argmin(1)]
        prior = np.zeros(C) if direction_prior is None else np.asarray(direction_prior(typ, O, D), dtype=np.float64)
        for ci in range(C):
            results.append([float(total[ci] + prior[ci]), typ, pairs[ci][0], pairs[ci][1], best_amt[ci].copy(), float(prior[ci])])

    # exact re-scoring of the best candidates, refining each state's amount around its best grid value
    results.sort(key=lambda r: r[0])
    # the best candidate of every motion type is re-scored too (the type is decided by exact costs, not by the
    # coarse fields: a button's short stroke leaves every candidate within voxel noise of the others)
    for t in types:
        if not any(r[1] == t for r in results[:refine_top]):
            k = next((i for i, r in enumerate(results) if r[1] == t), None)
            if k is not None:
                results.insert(refine_top, results.pop(k))
                refine_top += 1
    for r in results[:refine_top]:
        typ, oi, di, amts = r[1], r[2], r[3], r[4]
        grid = amount_grid(typ)
        tot = 0.0
        for si, st in enumerate(sts):
            k = int(np.argmin(np.abs(grid - amts[si])))
            lo_a = grid[k - 1] if k > 0 else 0.0
            hi_a = grid[k + 1] if k + 1 < len(grid) else grid[k] * 1.2
            xs = np.linspace(lo_a, hi_a, REFINE_AMOUNTS[0])
            for it in range(2):
                cs = st.costs(part, typ, np.repeat(origins[oi][None], len(xs), 0), np.repeat(dirs[di][None], len(xs), 0), xs)
                j = int(np.argmin(cs))
                step = xs[1] - xs[0]
                best_c, amts[si] = cs[j], xs[j]
                if it == 0:
                    xs = np.linspace(max(xs[j] - step, 0.0), xs[j] + step, REFINE_AMOUNTS[1])
            tot += best_c
        r[0] = tot + r[5]
        r.append(True)
    results = [r for r in results if len(r) == 7] + [r for r in results if len(r) == 6]
    results[:refine_top] = sorted(results[:refine_top], key=lambda r: r[0])
    best = results[0]
    typ, oi, di = best[1], best[2], best[3]
    amounts = best[4] if typ == "revolute" else best[4] * scale
    origin = origins[oi] * scale + c0
    costs = {t: min((r[0] for r in results if r[1] == t), default=np.inf) for t in types}
    return AxisEstimate(typ, origin, dirs[di].copy(), np.asarray(amounts, dtype=np.float64), float(best[0]), (oi, di),
                        costs, ranking=[(r[0], r[1], r[2], r[3]) for r in results])


def direct_optimization(part_points: np.ndarray, states: list[np.ndarray], static_points: np.ndarray | None = None, *,
                        types=MOTION_TYPES, iters: int = 80, lr: float = 5e-3, n_part: int = 128,
                        n_target: int = 384, seed: int = 0, obb_points: np.ndarray | None = None) -> AxisEstimate:
    """Continuous Chamfer optimization of (axis, origin, amounts) with Adam from each principal axis.

    Runs torch on one thread: the problem is hundreds of tiny steps, where intra-op threading only adds
    synchronization (10x slower on a busy 2-core machine).
    """
    nthreads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _direct_optimization(part_points, states, static_points, types=types, iters=iters, lr=lr,
                                    n_part=n_part, n_target=n_target, seed=seed, obb_points=obb_points)
    finally:
        torch.set_num_threads(nthreads)


def _direct_optimization(part_points, states, static_points, *, types, iters, lr, n_part, n_target, seed, obb_points):
    rng = np.random.default_rng(seed)
    part_points = np.asarray(part_points, dtype=np.float64)
    static = np.zeros((0, 3)) if static_points is None else np.asarray(static_points, dtype=np.float64)
    allp = np.vstack([part_points, static]) if len(static) else part_points
    lo, hi = allp.min(0), allp.max(0)
    c0, scale = (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)), 1e-12)
    part = torch.from_numpy((_subsample(part_points, n_part, rng) - c0) / scale).float()
    stat = torch.from_numpy((_subsample(static, n_part, rng) - c0) / scale).float() if len(static) else torch.zeros(0, 3)
    tg = [torch.from_numpy((_subsample(np.asarray(s, np.float64), n_target, rng) - c0) / scale).float() for s in states]
    _, dirs, obb = obb_candidates(((part_points if obb_points is None else obb_points) - c0) / scale)

    def cd(a, b):  # CD-L2 with matmul distances (much faster than cdist's backward on CPU)
        d = ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clamp_min(0)
        return d.min(1).values.mean() + d.min(0).values.mean()

    best = None
    costs = {}
    for typ in types:
        for k in range(3):
            torch.manual_seed(seed + k)
            ax = torch.tensor(dirs[2 * k], dtype=torch.float32, requires_grad=True)
            org = torch.tensor(obb.center, dtype=torch.float32, requires_grad=True)
            amt = torch.full((len(tg),), 0.3 if typ == "revolute" else 0.05, requires_grad=True)
            opt = torch.optim.Adam([ax, org, amt], lr=lr * 4)  # 4x ATOP's Gaussian lr: ~100 steps, not thousands
            for _ in range(iters):
                opt.zero_grad()
                a = ax / ax.norm().clamp_min(1e-8)
                loss = 0.0
                for si, t in enumerate(tg):
                    if typ == "prismatic":
                        mv = part + amt[si] * a
                    else:
                        Kx = torch.zeros(3, 3)
                        Kx = torch.stack([torch.stack([torch.zeros(()), -a[2], a[1]]),
                                          torch.stack([a[2], torch.zeros(()), -a[0]]),
                                          torch.stack([-a[1], a[0], torch.zeros(())])])
                        R = torch.eye(3) + torch.sin(amt[si]) * Kx + (1 - torch.cos(amt[si])) * (Kx @ Kx)
                        mv = (part - org) @ R.T + org
                    loss = loss + cd(torch.cat([stat, mv]), t)
                loss.backward()
                opt.step()
            with torch.no_grad():
                a = (ax / ax.norm()).double().numpy()
                am = amt.detach().double().numpy()
                if np.mean(am) < 0:  # keep the amounts positive: flip the axis instead
                    a, am = -a, -am
                val = float(loss.detach())
            costs[typ] = min(costs.get(typ, np.inf), val)
            if best is None or val < best[0]:
                o = org.detach().double().numpy() * scale + c0
                best = (val, typ, o, a, am if typ == "revolute" else am * scale)
    val, typ, o, a, am = best
    if typ == "prismatic":
        o = fit_obb(part_points).center
    else:  # report the axis point closest to the part centre (the origin is only defined along the line)
        pc = part_points.mean(0)
        o = o + np.dot(pc - o, a) * a
    return AxisEstimate(typ, o, a, np.asarray(am), val, None, costs, method="direct_optimization")
