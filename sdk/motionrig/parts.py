"""Kinematic parts from motion: regions that move rigidly together over time (SP4D's definition).

Method (all on welded vertices, so triangle soups work):

1. per-vertex rigid-motion features: the rotation of each vertex's 2-ring neighbourhood from the rest frame to
   every (sub-sampled) frame (batched Kabsch), plus its displacement trajectory and, lightly, its rest position;
2. affinity clustering of those features into an over-segmentation (k-means in feature space, or HDBSCAN as
   SP4D uses), split into connected pieces;
3. rigid refinement: fit one rigid transform per part per frame and re-assign every vertex to the part whose
   motion explains its trajectory best, regularised by its mesh neighbours (a few rounds);
4. SP4D §3.3 bone merging: adjacent parts whose average relative 3-D displacement across all frames stays below
   ``merge_tol`` (fraction of the bbox diagonal) are merged, smallest first; ``max_parts`` caps the count by
   continuing to merge the cheapest pairs; parts that never move (static regions) are flagged ``static``
   (adjacent static parts merge by the rule above).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from ..core.sequence import MeshSequence
from ..errors import InvalidInputError
from ..geometry.graph import adjacency, edge_components, mesh_graph
from ..geometry.rigid import apply, fit_part_transforms, rotation_from_covariance
from ..geometry.weld import weld_over_time as weld
from ..util.progress import ProgressFn, Steps, report
from ..util.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class PartsConfig:
    max_parts: int | None = None  # cap on the part count (None: automatic from the merge threshold)
    method: str = "kmeans"  # over-segmentation: "kmeans" (feature k-means) or "hdbscan"
    init_clusters: int | None = None  # over-segmentation size (None: 2 x max_parts, at least 32, at most 96)
    feature_frames: int = 24  # frames used for the local-rotation features
    fit_frames: int = 64  # frames used by the rigid refinement and merging
    neighbors: int = 10  # neighbourhood size for local rotations (2-ring, nearest first)
    refine_iters: int = 5
    split_rounds: int = 4  # split parts that are not rigid (95th-percentile residual above split_tol, or a
    # piece of at least min-part-size vertices straying from the part's motion)
    split_tol: float = 0.005  # / bbox diagonal
    max_fine_parts: int = 128
    smooth: float = 0.5  # neighbour agreement weight in the re-assignment (units of merge_tol^2)
    merge_tol: float = 0.01  # SP4D bone merging: mean relative displacement / bbox diagonal
    static_tol: float = 0.004  # a part moving less than this (mean, / bbox diagonal) is static
    min_part_fraction: float = 0.002  # pieces smaller than this fraction of the vertices are absorbed
    seed: int = 0
    device: str | None = None


@dataclass
class KinematicParts:
    labels: np.ndarray  # [V] part per original vertex
    welded_labels: np.ndarray  # [N] part per welded vertex
    weld_index: np.ndarray  # [V] -> welded vertex
    weld_rep: np.ndarray  # [N] a representative original vertex
    edges: np.ndarray  # [E, 2] welded graph
    transforms: np.ndarray  # [P, T, 4, 4] rest (frame 0) -> frame t, per part
    static: np.ndarray  # [P] bool
    adjacency: np.ndarray  # [P, P] number of graph edges between parts
    merges: list = field(default_factory=list)  # (kept, absorbed, relative displacement) in merge order
    n_init: int = 0  # parts after the over-segmentation

    @property
    def n_parts(self) -> int:
        return len(self.transforms)


# ---------------------------------------------------------------------- graph helpers
def _adjacency(n: int, edges: np.ndarray) -> sp.csr_matrix:
    return adjacency(n, edges)


def _neighbourhoods(adj: sp.csr_matrix, rest: np.ndarray, k: int) -> np.ndarray:  # [N, k]
    """Up to k nearest vertices (self first) within each vertex's 2-ring; short rows padded with self."""
    n = adj.shape[0]
    b = adj + sp.identity(n, format="csr")
    b2 = (b @ b).tocoo()
    r, c = b2.row, b2.col
    d = np.linalg.norm(rest[r] - rest[c], axis=1)
    order = np.lexsort((d, r))
    r, c = r[order], c[order]
    start = np.searchsorted(r, np.arange(n))
    rank = np.arange(len(r)) - start[r]
    keep = rank < k
    out = np.repeat(np.arange(n)[:, None], k, axis=1)
    out[r[keep], rank[keep]] = c[keep]
    return out


def _split_components(labels: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """Relabel so every part is one connected piece of the graph."""
    same = labels[edges[:, 0]] == labels[edges[:, 1]]
    return edge_components(n, edges[same])[1]


def _absorb_small(labels: np.ndarray, adj: sp.csr_matrix, min_size: int) -> np.ndarray:
    """Vertices of parts smaller than ``min_size`` take the majority label of their neighbours (repeated)."""
    labels = labels.copy()
    counts = np.bincount(labels)
    small = counts[labels] < min_size
    if not small.any() or small.all():
        return _compact(labels)
    labels[small] = -1
    for _ in range(64):
        un = np.flatnonzero(labels < 0)
        if not len(un):
            break
        sub = adj[un]
        nb_lab = labels[sub.indices]
        rows = np.repeat(np.arange(len(un)), np.diff(sub.indptr))
        ok = nb_lab >= 0
        if not ok.any():
            break
        pairs = np.stack([rows[ok], nb_lab[ok]], 1)
        uniq, cnt = np.unique(pairs, axis=0, return_counts=True)
        order = np.lexsort((-cnt, uniq[:, 0]))
        uniq = uniq[order]
        first = np.r_[True, uniq[1:, 0] != uniq[:-1, 0]]
        labels[un[uniq[first, 0]]] = uniq[first, 1]
    if (labels < 0).any():  # isolated small pieces with no labelled neighbour: keep them as they were
        rest_lab = labels.max() + 1
        labels[labels < 0] = rest_lab
    return _compact(labels)


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inv = np.unique(labels, return_inverse=True)
    return inv.reshape(-1)


# ---------------------------------------------------------------------- features and clustering
def local_rotation_features(rest: torch.Tensor, frames: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
    """rest [N,3], frames [T,N,3], nbr [N,k] -> local rotations [N, T, 3, 3] of each neighbourhood."""
    p = rest[nbr] - rest[nbr].mean(1, keepdim=True)  # [N, k, 3]
    q = frames[:, nbr]  # [T, N, k, 3]
    q = q - q.mean(2, keepdim=True)
    h = torch.einsum("nki,tnkj->ntij", p, q)
    return rotation_from_covariance(h)


def _kmeans(x: torch.Tensor, k: int, iters: int = 25, seed: int = 0) -> torch.Tensor:
    """k-means++ then Lloyd iterations; x [N, D] -> labels [N]."""
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    k = min(k, n)
    centres = [x[torch.randint(n, (1,), generator=g)].reshape(-1)]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum().clamp_min(1e-30)
        if not torch.isfinite(p).all() or p.sum() <= 0:
            break
        i = torch.multinomial(p.cpu(), 1, generator=g).item()
        centres.append(x[i])
        d2 = torch.minimum(d2, ((x - x[i]) ** 2).sum(1))
    c = torch.stack(centres)
    lab = torch.cdist(x, c).argmin(1)
    for _ in range(iters):
        cs = torch.zeros_like(c).index_add_(0, lab, x)
        cnt = torch.bincount(lab, minlength=len(c)).to(x.dtype)
        nz = cnt > 0
        c[nz] = cs[nz] / cnt[nz, None]
        new = torch.cdist(x, c).argmin(1)
        if torch.equal(new, lab):
            break
        lab = new
    return lab


def _hdbscan(x: np.ndarray, min_size: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA
    rng = np.random.default_rng(seed)
    n = len(x)
    z = PCA(n_components=min(16, x.shape[1], n), random_state=seed).fit_transform(x)
    sub = rng.choice(n, size=min(n, 4000), replace=False)
    lab_sub = HDBSCAN(min_cluster_size=max(5, min_size), min_samples=5).fit_predict(z[sub])
    good = lab_sub >= 0
    if not good.any():
        return np.zeros(n, dtype=np.int64)
    ids = np.unique(lab_sub[good])
    cent = np.stack([z[sub][lab_sub == i].mean(0) for i in ids])
    d = ((z[:, None, :] - cent[None]) ** 2).sum(-1)
    return d.argmin(1)


def rigid_costs(x: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mean squared residual of every vertex under every part's motion.

    x [N,3] rest, y [T,N,3] frames, m [P,T,4,4] -> [N, P] = mean_t |R_pt x + t_pt - y_t|^2, computed with three
    GEMMs (float64) instead of materialising [N, P, T, 3].
    """
    x, y, m = x.double(), y.double(), m.double()
    T = y.shape[0]
    r = m[:, :, :3, :3]  # [P, T, 3, 3]
    t = m[:, :, :3, 3]  # [P, T, 3]
    z = torch.einsum("tni,nj->ntij", y, x).reshape(len(x), -1)  # [N, T*9]
    yr = y.transpose(0, 1).reshape(len(x), -1)  # [N, T*3]
    a = torch.einsum("ptij,pti->pj", r, t)  # [P, 3] = sum_t R^T t
    c = (t ** 2).sum((1, 2))  # [P]
    cost = (T * (x ** 2).sum(1, keepdim=True) + (y ** 2).sum((0, 2))[:, None] + c[None]
            + 2 * x @ a.T - 2 * z @ r.reshape(len(r), -1).T - 2 * yr @ t.reshape(len(t), -1).T)
    return (cost / T).clamp_min(0)


class RigidMotionCache:
    """Per-vertex sums shared by every rigid fit and cost evaluation on one (rest, frames) pair (float64).

    x [N,3], y [T,N,3]: ``z`` [N, T*9] = y_ti x_j, ``yr`` [N, T*3]. Part transforms come from segment sums of
    these (``fit``: one index_add, one batched SVD) and every vertex's cost under every part's motion from two
    GEMMs (``costs``), so the refinement rounds never touch [T, N, 3, 3] tensors again.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x.double(), y.double()
        self.T, self.N = y.shape[0], y.shape[1]
        self.z = torch.einsum("tni,nj->ntij", self.y, self.x).reshape(self.N, -1)  # [N, T*9]
        self.yr = self.y.transpose(0, 1).reshape(self.N, -1)  # [N, T*3]
        self.x2 = (self.x ** 2).sum(1)  # [N]
        self.y2 = (self.y ** 2).sum((0, 2))  # [N]

    def fit(self, labels: torch.Tensor, n_parts: int) -> torch.Tensor:  # labels [N] in [0,P) or -1 -> [P, T, 4, 4]
        from ..geometry.rigid import to_matrix
        T, dt, dev = self.T, torch.float64, self.x.device
        labels = torch.as_tensor(labels, device=dev).long()
        ok = labels >= 0
        if bool(ok.all()):
            lab, x, z, yr = labels, self.x, self.z, self.yr
        else:
            lab, x, z, yr = labels[ok], self.x[ok], self.z[ok], self.yr[ok]
        cnt = torch.bincount(lab, minlength=n_parts).to(dt)  # [P]
        safe = cnt.clamp_min(1)
        xc = torch.zeros(n_parts, 3, dtype=dt, device=dev).index_add_(0, lab, x) / safe[:, None]  # [P, 3]
        yc = (torch.zeros(n_parts, T * 3, dtype=dt, device=dev).index_add_(0, lab, yr) / safe[:, None]).reshape(
            n_parts, T, 3)
        sz = torch.zeros(n_parts, T * 9, dtype=dt, device=dev).index_add_(0, lab, z).reshape(n_parts, T, 3, 3)
        # h = sum (x - xc)(y - yc)^T = sum x y^T - n xc yc^T   (sz[p,t,i,j] = sum y_i x_j)
        h = sz.transpose(-1, -2) - cnt[:, None, None, None] * xc[:, None, :, None] * yc[:, :, None, :]
        r = rotation_from_covariance(h)  # [P, T, 3, 3]
        t = yc - (r @ xc[:, None, :, None])[..., 0]
        m = to_matrix(r, t)
        empty = cnt <= 0
        if bool(empty.any()):
            m[empty] = torch.eye(4, dtype=dt, device=dev)
        return m

    def costs(self, m: torch.Tensor) -> torch.Tensor:  # m [P,T,4,4] -> [N, P] mean_t |R x + t - y|^2
        m = m.double()
        T = self.T
        r = m[:, :, :3, :3]
        t = m[:, :, :3, 3]
        a = torch.einsum("ptij,pti->pj", r, t)
        c = (t ** 2).sum((1, 2))
        cost = (T * self.x2[:, None] + self.y2[:, None] + c[None] + 2 * self.x @ a.T
                - 2 * self.z @ r.reshape(len(r), -1).T - 2 * self.yr @ t.reshape(len(t), -1).T)
        return (cost / T).clamp_min(0)


def relative_displacement(m_a: torch.Tensor, m_b: torch.Tensor, x: torch.Tensor) -> float:
    """Mean over frames and points x [n,3] of |M_a(t) x - M_b(t) x| (two motions compared on the same points)."""
    return float(torch.linalg.norm(apply(m_a, x[None]) - apply(m_b, x[None]), dim=-1).mean())


def follow_error(m: torch.Tensor, traj: torch.Tensor) -> torch.Tensor:
    """How far points stray from moving rigidly with a bone: traj [T,n,3] actual positions, m [T,4,4] the bone's
    motion -> [n] mean_t |M(t) M(0)^-1 p(0) - p(t)|."""
    rel = m @ torch.linalg.inv(m[:1])  # [T, 4, 4]
    return torch.linalg.norm(apply(rel, traj[:1]) - traj, dim=-1).mean(0)


# ---------------------------------------------------------------------- main entry
# over-segmentation methods: (features [N, D] tensor, k, min part size, seed) -> labels [N]
CLUSTERING: Registry[Callable] = Registry("clustering method", "method")
CLUSTERING.register("kmeans", lambda feat, k, min_size, seed: _kmeans(feat.cpu(), k, seed=seed).numpy())
CLUSTERING.register("hdbscan", lambda feat, k, min_size, seed: _hdbscan(feat.cpu().numpy(), min_size, seed))


def kinematic_parts(seq: MeshSequence, config: PartsConfig | None = None,
                    progress: ProgressFn | None = None) -> KinematicParts:
    """Segment a mesh sequence into kinematic parts (see the module docstring).

    ``progress(fraction, message)``: features, clustering, each rigid refinement, splits, bone merging."""
    cfg = config or PartsConfig()
    dev = torch.device(cfg.device) if cfg.device else torch.device("cpu")
    step = Steps(progress, 4 + cfg.refine_iters)
    V = seq.n_vertices
    T = seq.n_frames
    if T < 2:
        raise InvalidInputError(f"kinematic parts need at least 2 frames, got {T}", field="vertices", source=seq.source)
    index, rep = weld(seq.vertices)
    X = seq.vertices[:, rep]  # [T, N, 3]
    N = X.shape[1]
    faces_w = index[seq.faces] if seq.faces is not None else None
    edges = mesh_graph(N, faces_w, X[0])
    adj = _adjacency(N, edges)
    centre = X[0].mean(0)
    diag = float(np.linalg.norm(X[0].max(0) - X[0].min(0))) or 1.0
    Xn = (X - centre) / diag  # normalised: bbox diagonal 1
    min_size = max(4, int(cfg.min_part_fraction * N))

    def frame_subset(k):
        return np.unique(np.round(np.linspace(0, T - 1, min(k, T))).astype(np.int64))

    # 1. features
    step("features")
    ff = frame_subset(cfg.feature_frames)
    rest = torch.as_tensor(Xn[0], dtype=torch.float32, device=dev)
    fr = torch.as_tensor(Xn[ff], dtype=torch.float32, device=dev)
    nbr = torch.as_tensor(_neighbourhoods(adj, Xn[0], cfg.neighbors), device=dev)
    rot = local_rotation_features(rest, fr, nbr)  # [N, Tf, 3, 3]
    eye = torch.eye(3, dtype=rot.dtype, device=dev)
    tf = len(ff)
    feat = torch.cat([(rot - eye).reshape(N, -1) / np.sqrt(tf),
                      3.0 * (fr - rest[None]).transpose(0, 1).reshape(N, -1) / np.sqrt(tf),
                      0.5 * rest], dim=1)

    # 2. over-segmentation
    step("clustering")
    k0 = cfg.init_clusters or int(np.clip(2 * (cfg.max_parts or 16), 32, 96))
    k0 = max(1, min(k0, N // max(min_size, 1)))
    lab = CLUSTERING.get(cfg.method)(feat, k0, min_size, cfg.seed)  # [N] cluster id
    lab = _absorb_small(_split_components(lab, edges, N), adj, min_size)
    n_init = int(lab.max()) + 1

    # 3. rigid refinement on a frame subset
    fi = frame_subset(cfg.fit_frames)
    x0 = torch.as_tensor(Xn[0], dtype=torch.float64, device=dev)
    y = torch.as_tensor(Xn[fi], dtype=torch.float64, device=dev)
    lam = cfg.smooth * cfg.merge_tol ** 2
    deg = np.maximum(np.asarray(adj.sum(1)).reshape(-1), 1)

    mc = RigidMotionCache(x0, y)

    def reassign(lab, split=True):
        P = int(lab.max()) + 1
        m = mc.fit(torch.as_tensor(lab, device=dev), P)
        cost = mc.costs(m).cpu().numpy()
        onehot = sp.csr_matrix((np.ones(N), (np.arange(N), lab)), shape=(N, P))
        agree = np.asarray((adj @ onehot).todense()) / deg[:, None]
        new = (cost + lam * (1 - agree)).argmin(1)
        if split:
            new = _split_components(new, edges, N)
        else:
            new = _compact(new)
        return _absorb_small(new, adj, min_size)

    for it in range(cfg.refine_iters):
        step(f"rigid refinement {it + 1}/{cfg.refine_iters}")
        new = reassign(lab)
        changed = new.max() != lab.max() or (new != lab).any()
        lab = new
        if not changed:
            break

    # 3b. split parts that are not rigid (small parts k-means missed, e.g. fingers on a hand)
    for rnd in range(cfg.split_rounds):
        P = int(lab.max()) + 1
        if P >= cfg.max_fine_parts:
            break
        m = mc.fit(torch.as_tensor(lab, device=dev), P)
        res = torch.sqrt(mc.costs(m)[torch.arange(N, device=dev), torch.as_tensor(lab, device=dev)]).cpu().numpy()
        sizes = np.bincount(lab, minlength=P)
        q = np.array([np.quantile(res[lab == p], 0.95) if sizes[p] else 0.0 for p in range(P)])
        over = np.bincount(lab[res > cfg.split_tol], minlength=P)
        # (a) broadly non-rigid parts (95th-percentile residual too high): two-way k-means on motion + residual;
        # (b) parts with a small piece straying from their motion (fingers, ear tips): that piece becomes a part
        bad_a = [p for p in np.argsort(-q) if q[p] > cfg.split_tol and sizes[p] >= 2 * min_size]
        bad_b = [p for p in np.argsort(-over) if p not in bad_a and over[p] >= min_size
                 and sizes[p] - over[p] >= min_size]
        room = cfg.max_fine_parts - P
        bad_a, bad_b = bad_a[:room], bad_b[: max(0, room - len(bad_a))]
        if not bad_a and not bad_b:
            break
        step(f"split {len(bad_a) + len(bad_b)} non-rigid parts")
        nxt = P
        for p in bad_a:
            sub = np.flatnonzero(lab == p)
            f = feat[torch.as_tensor(sub, device=dev)].cpu()
            f = torch.cat([f, 4.0 * torch.as_tensor(res[sub], dtype=f.dtype)[:, None]], 1)
            two = _kmeans(f, 2, seed=cfg.seed + rnd).numpy()
            if two.min() == two.max():
                continue
            lab[sub[two == 1]] = nxt
            nxt += 1
        for p in bad_b:
            lab[(lab == p) & (res > cfg.split_tol)] = nxt
            nxt += 1
        lab = _absorb_small(_split_components(lab, edges, N), adj, min_size)
        for _ in range(2):
            lab = reassign(lab)

    # 4. SP4D bone merging
    step("bone merging")
    lab, merges = _merge_parts(lab, edges, mc, y, cfg, dev)
    for _ in range(2):  # sharpen boundaries with the final part set (no splitting)
        lab = reassign(lab, split=False)
    P = int(lab.max()) + 1

    # full-frame transforms in original units
    xr = torch.as_tensor(X[0], dtype=torch.float64, device=dev)
    yr = torch.as_tensor(X, dtype=torch.float64, device=dev)
    m_full = fit_part_transforms(xr, yr, torch.as_tensor(lab, device=dev), P).cpu().numpy()
    motion = np.array([np.linalg.norm(X[:, lab == p] - X[0][None, lab == p], axis=-1).mean() for p in range(P)]) / diag
    a = sp.coo_matrix((np.ones(len(edges)), (lab[edges[:, 0]], lab[edges[:, 1]])), shape=(P, P)).toarray()
    a = a + a.T
    np.fill_diagonal(a, 0)
    report(progress, 1.0, "kinematic parts")
    return KinematicParts(labels=lab[index], welded_labels=lab, weld_index=index, weld_rep=rep, edges=edges,
                          transforms=m_full, static=motion < cfg.static_tol, adjacency=a, merges=merges, n_init=n_init)


def merge_bones(
    transforms,  # [B, T, 4, 4] tensor (or list of [T, 4, 4]): each bone's motion rest -> frame t
    labels: np.ndarray,  # [N] bone (part) of each vertex, in [0, B)
    traj: torch.Tensor,  # [T, N, 3] actual vertex positions
    edges: np.ndarray,  # [E, 2] vertex graph giving part adjacency
    tol: float,  # merge while the mean relative displacement / diag stays below this
    static_tol: float,  # bones moving less than this (/ diag) count as static (reported; adjacent ones merge anyway)
    cap: int | None = None,  # at most this many parts (keeps merging the cheapest pairs)
    diag: float = 1.0,
    refit=None,  # callable(vertex ids) -> [T, 4, 4] new transform of a merged part; None: keep the larger's
    seed: int = 0,
):
    """SP4D §3.3 bone merging, greedy and smallest-first on the part adjacency graph.

    The relative displacement of two connected bones a, b is measured on the surface: the mean distance, over all
    frames, between b's vertices and where they would be had they moved rigidly with bone a (and vice versa).
    Returns (labels compacted to [0, P'), kept [P'] original id of the bone each new part keeps, merges list of
    (kept, absorbed, relative displacement / diag)).
    """
    lab = np.asarray(labels).copy()
    P = int(lab.max()) + 1
    m = [transforms[p].to(traj.dtype) for p in range(P)]
    dev = traj.device
    members = [np.flatnonzero(lab == p) for p in range(P)]
    rng = np.random.default_rng(seed)

    def sample(ix):
        return ix if len(ix) <= 256 else np.sort(rng.choice(ix, 256, replace=False))

    samples = [traj[:, torch.as_tensor(sample(ix), device=dev)] for ix in members]
    alive = np.array([len(ix) > 0 for ix in members])
    ea, eb = lab[edges[:, 0]], lab[edges[:, 1]]
    cross = ea != eb
    nbrs = [set() for _ in range(P)]
    for a, b in zip(ea[cross].tolist(), eb[cross].tolist()):
        nbrs[a].add(b)
        nbrs[b].add(a)

    def own_motion(p):
        return float(torch.linalg.norm(samples[p] - samples[p][:1], dim=-1).mean()) / diag

    motion = np.array([own_motion(p) if alive[p] else 0.0 for p in range(P)])

    def cost(a, b):
        e = torch.cat([follow_error(m[a], samples[b]), follow_error(m[b], samples[a])])
        return float(e.mean()) / diag

    costs = {(a, b): cost(a, b) for a in range(P) for b in nbrs[a] if a < b}
    merges = []

    def do_merge(a, b, c):
        keep, gone = (a, b) if len(members[a]) >= len(members[b]) else (b, a)
        members[keep] = np.concatenate([members[keep], members[gone]])
        members[gone] = members[gone][:0]
        alive[gone] = False
        lab[lab == gone] = keep
        if refit is not None:
            m[keep] = refit(members[keep]).to(traj.dtype)
        samples[keep] = traj[:, torch.as_tensor(sample(members[keep]), device=dev)]
        motion[keep] = own_motion(keep)
        for k in [k for k in costs if gone in k or keep in k]:
            del costs[k]
        nbrs[keep] = (nbrs[keep] | nbrs[gone]) - {keep, gone}
        for o in nbrs[gone]:
            nbrs[o].discard(gone)
            if o != keep:
                nbrs[o].add(keep)
        nbrs[gone] = set()
        for o in nbrs[keep]:
            costs[(min(keep, o), max(keep, o))] = cost(keep, o)
        merges.append((int(keep), int(gone), float(c)))

    while costs:
        (a, b), c = min(costs.items(), key=lambda kv: kv[1])
        if c >= tol and (cap is None or alive.sum() <= cap):
            break
        do_merge(a, b, c)
    while cap is not None and alive.sum() > cap:  # separate pieces left above the cap: closest motions
        ids = np.flatnonzero(alive)
        best = min(((cost(a, b), a, b) for i, a in enumerate(ids) for b in ids[i + 1:]), key=lambda z: z[0])
        do_merge(best[1], best[2], best[0])
    kept, new = np.unique(lab, return_inverse=True)
    return new.reshape(-1), kept, merges


def _merge_parts(lab, edges, mc: RigidMotionCache, y, cfg: PartsConfig, dev):
    P = int(lab.max()) + 1
    m = mc.fit(torch.as_tensor(lab, device=dev), P)

    def refit(ix):
        sel = torch.full((mc.N,), -1, dtype=torch.long, device=dev)
        sel[torch.as_tensor(ix, device=dev)] = 0
        return mc.fit(sel, 1)[0]

    new, _, merges = merge_bones(m, lab, y, edges, cfg.merge_tol, cfg.static_tol, cfg.max_parts, 1.0, refit, cfg.seed)
    return new, merges
