"""Skinning weights as one boundary-value problem per skeleton joint (parent part, child part).

The harmonic band of :mod:`.harmonic` (SP4D §3.4) frees every vertex near *any* cut edge and solves for all parts
at once, so a part can take weight wherever its band reaches: where argmax parts skip a joint (Fox: a leg part
touches the spine part because the thigh joint wins no vertex) or where a thin part lies inside the band of its
neighbour's joint, a leg ends up blended with the spine or the shoulder. Here weights blend **only between the two
parts of a skeleton edge**, across that edge's boundary loop:

1. skeleton pairs: ``(part of joint j, part of its parent)`` for every non-root joint (the skeleton built from
   the parts, ``skeleton_from_parts``). Contacts between parts that are not skeleton neighbours stay hard.
2. for each skeleton pair (p, q) (``scope="pair"``: all cut edges between p and q are one joint boundary, with
   the length-weighted radius of their midpoints; ``scope="loop"``: each boundary loop separately -- low-poly
   meshes break one joint's boundary into many small loops whose radii are a fraction of the limb's): the geodesic
   (edge-path) distance of the vertices of p and q to the **cut curve** (the cut-edge midpoints; an endpoint
   starts at half its cut edge's length), walking only within a vertex's own part. A vertex is free for that
   boundary when the distance is below ``blend`` x its radius; a vertex inside the bands of several boundaries of
   its own part belongs to the one where it is deepest (smallest ratio). Measuring from the cut curve rather than from its endpoint vertices keeps a coarse mesh's first vertex
   ring hard when the band is narrower than half an edge (the endpoints of every cut edge are always free in
   :func:`.harmonic.free_band`).
3. per loop region R: ``Laplace(h) = 0`` on R (cotangent stiffness, natural boundary towards other regions and
   other parts), ``h = 1`` on the fixed vertices of p next to R, ``h = 0`` on those of q. A vertex of p gets
   ``peak * (1 - h)`` on q and the rest on p (a vertex of q the mirror image): ``peak = 1`` is the two-label
   harmonic solution, smaller values lower the neighbour's share at the cut. All regions are solved in one
   block-diagonal sparse system.
4. every other vertex keeps its part's indicator.

So weights are non-negative (maximum principle, negative cotangents floored as in ``harmonic``), sum to one
exactly, a joint's weight is zero outside its part and its skeleton neighbours' parts, and a rigid motion of the
whole mesh is reproduced exactly. ``blend`` is ours (not SP4D's): tuned on 3 assets, see docs/rigging.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core import Skeleton
from ..errors import InvalidInputError
from ..util.progress import ProgressFn, report

# Default half-width of a joint's blend band, in boundary radii measured from the cut curve. Ours, not a paper's:
# tuned on Fox, Quaternius_Wolf and CesiumMan (grid scope pair/loop x blend 0.1..3 x peak 0.2..1; rule: the lowest
# mean deformation error among the settings with no tuning asset worse than the hard indicator; docs/rigging.md,
# "Skeleton-pair weights") and reported on the other 8 assets.
DEFAULT_PAIR_BLEND = 0.5
# Scale of the skeleton neighbour's weight (1: the two-label harmonic solution, 0.5 at the cut; 0: hard). Ours, tuned
# with DEFAULT_PAIR_BLEND: the true skins of the tuning assets give the neighbour ~0.3-0.38 at the cut (several
# bones share a vertex there) and a long tail (docs/rigging.md).
DEFAULT_PEAK = 0.4


@dataclass(frozen=True)
class PairwiseConfig:
    blend: float = DEFAULT_PAIR_BLEND  # band half-width per joint, in boundary-loop radii from the cut curve
    clamp_negative: bool = True  # floor negative cotangent edge weights (maximum principle), as in harmonic
    core_ratio: float = 0.5  # a part wholly inside its bands keeps the vertices deeper than this x its deepest fixed
    scope: str = "pair"  # "pair": one boundary per skeleton pair (all its cut edges); "loop": per boundary loop
    peak: float = DEFAULT_PEAK  # the neighbour's weight is scaled by this (1: 0.5 at the cut; ours, tuned like blend)

    def __post_init__(self):
        if self.scope not in ("pair", "loop"):
            raise InvalidInputError(f"scope must be 'pair' or 'loop', got {self.scope!r}", field="scope")
        if not (isinstance(self.peak, (int, float)) and 0 <= self.peak <= 1):
            raise InvalidInputError(f"peak must be in [0, 1], got {self.peak!r}", field="peak")
        for name in ("blend", "core_ratio"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {v!r}", field=name)


def skeleton_pairs(skeleton: Skeleton, joint_parts: np.ndarray) -> set[tuple[int, int]]:
    """Part pairs (p, q), p < q, joined by a skeleton edge (child joint's part, parent joint's part)."""
    jp = np.asarray(joint_parts, dtype=np.int64)
    out = set()
    for j, pj in enumerate(skeleton.parents):
        if pj >= 0:
            a, b = int(jp[j]), int(jp[pj])
            if a != b:
                out.add((min(a, b), max(a, b)))
    return out


def _edges_lengths(vertices, faces):
    from ..geometry.graph import unique_edges
    e = unique_edges(np.asarray(faces, dtype=np.int64), len(vertices))
    ln = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)
    return e, ln


def joint_boundaries(vertices: np.ndarray, labels: np.ndarray, pairs: set, contacts, scope: str = "pair"):
    """The boundaries blended across: list of (p, q, cut-edge mask [C], radius), one per skeleton pair ("pair": all
    cut edges of the pair; their length-weighted radius) or per boundary loop of a skeleton pair ("loop")."""
    lab = np.asarray(labels, dtype=np.int64)
    ce = contacts.cut_edges
    if not len(ce):
        return []
    a, b = lab[ce[:, 0]], lab[ce[:, 1]]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    mid = 0.5 * (vertices[ce[:, 0]] + vertices[ce[:, 1]])
    ln = np.linalg.norm(vertices[ce[:, 0]] - vertices[ce[:, 1]], axis=1)
    out = []
    if scope == "loop":
        for lp in contacts.loops:
            p, q = lp.parts
            if (p, q) not in pairs or lp.radius <= 0:
                continue
            inloop = np.zeros(len(lab), dtype=bool)
            inloop[lp.vertices] = True
            out.append((p, q, inloop[ce[:, 0]] & inloop[ce[:, 1]] & (lo == p) & (hi == q), float(lp.radius)))
        return out
    for p, q in sorted(pairs):
        m = (lo == p) & (hi == q)
        if not m.any():
            continue
        w = ln[m] + 1e-300
        cen = (mid[m] * w[:, None]).sum(0) / w.sum()
        rad = float((np.linalg.norm(mid[m] - cen, axis=1) * w).sum() / w.sum())
        if rad > 0:
            out.append((p, q, m, rad))
    return out


def pair_regions(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray, pairs: set, contacts,
                 blend: float, core_ratio: float = 0.5, scope: str = "pair"):
    """Which joint boundary each vertex blends across -> (region [W] index into ``bounds`` or -1,
    ratio [W] distance / half-width, bounds: list of (p, q, cut-edge mask, radius) from :func:`joint_boundaries`).

    vertices: [W, 3]; faces: [F, 3]; labels: [W]; pairs: skeleton part pairs; contacts: ``find_contacts`` result.
    """
    from scipy.sparse.csgraph import dijkstra
    from ..geometry.graph import graph_components
    W = len(vertices)
    lab = np.asarray(labels, dtype=np.int64)
    region = np.full(W, -1, dtype=np.int64)
    ratio = np.full(W, np.inf)
    bounds = joint_boundaries(vertices, lab, pairs, contacts, scope) if blend > 0 else []
    if not bounds:
        return region, ratio, bounds
    e, ln = _edges_lengths(vertices, faces)
    la, lb = lab[e[:, 0]], lab[e[:, 1]]
    ce = contacts.cut_edges
    cl = np.linalg.norm(vertices[ce[:, 0]] - vertices[ce[:, 1]], axis=1)
    for bi, (p, q, sel, rad) in enumerate(bounds):
        half = blend * rad
        off = np.full(W, np.inf)  # distance of a cut endpoint to the cut curve: half its cut edge
        np.minimum.at(off, ce[sel, 0], 0.5 * cl[sel])
        np.minimum.at(off, ce[sel, 1], 0.5 * cl[sel])
        src = np.flatnonzero(np.isfinite(off))
        # graph on the edges inside p or inside q, plus a virtual source W joined to the cut's endpoints
        keep = ((la == p) | (la == q)) & (la == lb)  # walk within a part only
        r = np.r_[e[keep, 0], e[keep, 1], np.full(len(src), W)]
        c = np.r_[e[keep, 1], e[keep, 0], src]
        w = np.r_[ln[keep], ln[keep], np.maximum(off[src], 1e-300)]
        g = sp.csr_matrix((w, (r, c)), shape=(W + 1, W + 1))
        d = dijkstra(g, directed=True, indices=W, limit=half * 1.0001 + 1e-300)[:W]
        rt = d / half
        better = (rt < 1.0) & (rt < ratio) & ((lab == p) | (lab == q))
        ratio[better] = rt[better]
        region[better] = bi
    # a (connected component, part) group wholly inside bands keeps its deepest vertices fixed
    g = sp.csr_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(W, W))
    _, comp = graph_components(g)
    ok = lab >= 0
    P = int(lab.max()) + 1 if ok.any() else 1
    grp = np.where(ok, comp * P + np.maximum(lab, 0), -1)
    ug, gi = np.unique(grp[ok], return_inverse=True)
    has_fixed = np.zeros(len(ug), dtype=bool)
    np.logical_or.at(has_fixed, gi, region[ok] < 0)
    rmax = np.zeros(len(ug))
    fin = np.isfinite(ratio[ok])
    np.maximum.at(rmax, gi[fin], ratio[ok][fin])
    idx = np.flatnonzero(ok)
    deep = ~has_fixed[gi] & (ratio[idx] >= core_ratio * rmax[gi])
    region[idx[deep]] = -1
    return region, ratio, bounds


def _fill_unlabelled(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unlabelled vertices (-1) take the part of the nearest labelled vertex along the edges of their component."""
    from scipy.sparse.csgraph import dijkstra
    from ..geometry.graph import edge_graph
    lab = labels.copy()
    src = np.flatnonzero(lab >= 0)
    if not len(src):
        raise InvalidInputError("no vertex carries a part label", field="parts")
    g = edge_graph(faces, len(vertices), vertices)
    _, _, nearest = dijkstra(g, directed=False, indices=src, min_only=True, return_predecessors=True)
    miss = lab < 0
    ok = miss & (nearest >= 0)
    lab[ok] = labels[nearest[ok]]
    if (lab < 0).any():
        v = int(np.flatnonzero(lab < 0)[0])
        raise InvalidInputError(f"vertex {v} has no part and no labelled vertex in its connected component",
                                field=f"vertex {v}")
    return lab


def pairwise_weights(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray, n_parts: int,
                     skeleton: Skeleton, joint_parts: np.ndarray, contacts=None,
                     config: PairwiseConfig | None = None, progress: ProgressFn | None = None) -> np.ndarray:
    """Per-part weights [W, P] (float64, rows sum to 1) blended only across skeleton edges (module docstring).

    vertices: [W, 3] welded; faces: [F, 3]; labels: [W] part per vertex (-1: takes the nearest labelled vertex's
    part along the mesh edges, so unlabelled vertices are never blended across a non-skeleton contact);
    skeleton / joint_parts: the skeleton built from these parts (``joint_parts[j]`` = part of joint j).
    """
    from ..geometry.laplacian import cotangent_weights
    from .contacts import find_contacts
    cfg = config or PairwiseConfig()
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    lab = np.asarray(labels, dtype=np.int64)
    W = len(v)
    filled = bool((lab < 0).any())
    if filled:
        lab = _fill_unlabelled(v, f, lab)
    out = np.zeros((W, n_parts))
    out[np.arange(W), lab] = 1.0
    report(progress, 0.0, "skeleton-pair bands")
    c = contacts if contacts is not None and not filled else find_contacts(v, f, lab)
    pairs = skeleton_pairs(skeleton, joint_parts)
    region, _, bounds = pair_regions(v, f, lab, pairs, c, cfg.blend, cfg.core_ratio, cfg.scope)
    free = np.flatnonzero(region >= 0)
    if not len(free):
        report(progress, 1.0, "skeleton-pair weights")
        return out
    report(progress, 0.4, f"skeleton-pair solve ({len(free)} vertices)")
    fb = f[(region[f] >= 0).any(1)]
    r, cc, w = cotangent_weights(v, fb)
    r, cc, w = np.r_[r, cc], np.r_[cc, r], np.r_[w, w]
    if cfg.clamp_negative and len(w):
        w = np.maximum(w, 1e-6 * float(np.median(np.abs(w))))
    keep = region[r] >= 0
    r, cc, w = r[keep], cc[keep], w[keep]
    reg_r = region[r]
    lp_p = np.array([bd[0] for bd in bounds])
    lp_q = np.array([bd[1] for bd in bounds])
    P_of = lp_p[reg_r]
    Q_of = lp_q[reg_r]
    same = region[cc] == reg_r  # neighbour free in the same region: unknown
    dir_p = (region[cc] < 0) & (lab[cc] == P_of)  # fixed neighbour of the loop's first part: w_p = 1
    dir_q = (region[cc] < 0) & (lab[cc] == Q_of)  # fixed neighbour of the second part: w_p = 0
    # every other neighbour (another region, another part): natural boundary, the edge is dropped
    loc = np.full(W, -1, dtype=np.int64)
    loc[free] = np.arange(len(free))
    n = len(free)
    diag = np.bincount(loc[r], weights=w * (same | dir_p | dir_q), minlength=n)
    A = sp.csr_matrix((-w[same], (loc[r[same]], loc[cc[same]])), shape=(n, n)) + sp.diags(diag)
    b = np.bincount(loc[r[dir_p]], weights=w[dir_p], minlength=n)
    coupled = diag > 0
    x = np.zeros(n)
    from scipy.sparse.csgraph import connected_components
    ncomp, comp = connected_components(A, directed=False)
    # blocks with no Dirichlet coupling at all are singular: keep the indicator there
    has_dir = np.zeros(ncomp, dtype=bool)
    np.logical_or.at(has_dir, comp, (np.bincount(loc[r[dir_p | dir_q]], minlength=n) > 0))
    solvable = has_dir[comp] & coupled
    if solvable.any():
        from scipy.sparse.linalg import splu
        si = np.flatnonzero(solvable)
        As = sp.csc_matrix(A[si][:, si])
        x[si] = splu(As, permc_spec="MMD_AT_PLUS_A").solve(b[si])
    x = np.clip(x, 0.0, 1.0)
    fv = free[solvable]
    xs = x[solvable]
    reg = region[fv]
    own_is_p = lab[fv] == lp_p[reg]
    other = np.where(own_is_p, 1.0 - xs, xs) * cfg.peak  # the skeleton neighbour's weight
    own = 1.0 - other
    out[fv] = 0.0
    out[fv, lab[fv]] = own
    out[fv, np.where(own_is_p, lp_q[reg], lp_p[reg])] = other
    report(progress, 1.0, "skeleton-pair weights")
    return out
