"""Skeleton from kinematic parts and their motion: tree, joint centres, joint types, names.

* tree: maximum spanning tree of the part adjacency graph (weight = shared boundary size), rooted at the largest
  part; parts not touching any other hang off the nearest part;
* joint centre between parent p and child c: the rest-pose point that moves least between the two parts,
  ``argmin_x sum_t |M_p(t) x - M_c(t) x|^2 + lambda |x - b|^2`` (b: centre of their shared boundary; the small
  ridge term picks the point on a hinge axis closest to the boundary, where the least-squares problem is singular);
* joint type from the relative motion ``M_p(t)^-1 M_c(t)``: rotation vectors spanning one direction -> revolute
  (hinge axis = that direction, limits = observed angle range), spanning more -> spherical, no rotation but
  translation -> prismatic (axis = main translation direction), neither -> fixed; each with a confidence in
  [0, 1] from how much it moved, how well one pivot explains it and how clean the type decision is;
* names from geometry (glTF convention: +Y up, +Z front, +X the model's left): the root is ``root``; every other
  joint is named after the direction of its limb from the root (``upper``/``lower``, ``front``/``back``,
  ``left``/``right``) and its depth along the limb, e.g. ``lower_front_left_2``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from ..core import sanitize_name


@dataclass
class JointFit:
    name: str
    part: int  # kinematic part this joint drives
    parent: int  # parent joint index (-1 root)
    type: str  # root | revolute | spherical | prismatic | fixed
    origin: np.ndarray  # [3] rest-pose joint centre
    axis: np.ndarray  # [3] hinge / slide axis (zeros for spherical, fixed, root)
    lower: float | None = None
    upper: float | None = None
    confidence: float = 1.0
    extra: dict = field(default_factory=dict)


@dataclass
class SkeletonFit:
    joints: list  # [J] JointFit, parents before children
    part_to_joint: np.ndarray  # [P] joint index of each part

    @property
    def names(self):
        return [j.name for j in self.joints]

    @property
    def parents(self) -> np.ndarray:
        return np.array([j.parent for j in self.joints], dtype=np.int64)

    @property
    def origins(self) -> np.ndarray:  # [J, 3]
        return np.stack([j.origin for j in self.joints])


def fit_joint_centre(m_p: np.ndarray, m_c: np.ndarray, prior: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """The rest point moving least between two parts: m_p, m_c [T, 4, 4], prior [3] -> [3]."""
    a = m_p[:, :3, :3] - m_c[:, :3, :3]  # [T, 3, 3]
    r = m_p[:, :3, 3] - m_c[:, :3, 3]  # [T, 3]
    ata = np.einsum("tki,tkj->ij", a, a)
    atr = np.einsum("tki,tk->i", a, r)
    lam = ridge * max(np.trace(ata) / 3, 1e-12)
    return np.linalg.solve(ata + lam * np.eye(3), -atr + lam * prior)


def classify_joint(m_p: np.ndarray, m_c: np.ndarray, centre: np.ndarray, diag: float,
                   min_angle: float = np.radians(3.0), min_slide: float = 0.01):
    """Joint type, axis, limits and confidence from the relative motion of child c w.r.t. parent p."""
    rel = np.linalg.inv(m_p) @ m_c  # [T, 4, 4] child motion in the parent's rest frame
    rv = Rotation.from_matrix(rel[:, :3, :3]).as_rotvec()  # [T, 3]
    ang = np.linalg.norm(rv, axis=1)
    c_h = np.r_[centre, 1.0]
    disp = (rel @ c_h)[:, :3] - centre  # pivot displacement under the relative motion [T, 3]
    rms_disp = float(np.sqrt((disp ** 2).sum(1).mean())) / diag
    max_ang = float(ang.max())
    max_slide = float(np.linalg.norm(disp, axis=1).max()) / diag
    extra = {"max_angle_deg": float(np.degrees(max_ang)), "pivot_rms": rms_disp, "max_slide": max_slide}
    if max_ang < min_angle:
        if max_slide > min_slide:
            _, _, vt = np.linalg.svd(disp, full_matrices=False)
            axis = _canon(vt[0])
            s = disp @ axis / 1.0
            conf = float((1 - np.exp(-max_slide / 0.03)) * np.exp(-max_ang / min_angle))
            return "prismatic", axis, float(s.min()), float(s.max()), conf, extra
        return "fixed", np.zeros(3), None, None, 0.3, extra
    _, sv, vt = np.linalg.svd(rv, full_matrices=False)
    planarity = float(sv[0] ** 2 / max((sv ** 2).sum(), 1e-30))
    extra["planarity"] = planarity
    motion = 1 - np.exp(-max_ang / np.radians(20.0))
    fit = float(np.exp(-rms_disp / 0.01))
    if planarity > 0.97:
        axis = _canon(vt[0])
        a = rv @ axis
        conf = motion * fit * min(1.0, (planarity - 0.9) / 0.1)
        return "revolute", axis, float(a.min()), float(a.max()), float(conf), extra
    conf = motion * fit * min(1.0, (1 - planarity) / 0.1)
    return "spherical", np.zeros(3), None, float(max_ang), float(conf), extra


def _canon(v: np.ndarray) -> np.ndarray:
    v = v / max(np.linalg.norm(v), 1e-30)
    return v if v[np.argmax(np.abs(v))] > 0 else -v


def fit_skeleton(
    rest: np.ndarray,  # [N, 3] welded rest positions
    labels: np.ndarray,  # [N] part per vertex, [0, P)
    transforms: np.ndarray,  # [P, T, 4, 4] part motion rest -> frame t
    edges: np.ndarray,  # [E, 2] welded vertex graph
    static: np.ndarray | None = None,  # [P] bool
) -> SkeletonFit:
    import networkx as nx
    P = len(transforms)
    diag = float(np.linalg.norm(rest.max(0) - rest.min(0))) or 1.0
    size = np.bincount(labels, minlength=P)
    cent = np.stack([rest[labels == p].mean(0) if size[p] else rest.mean(0) for p in range(P)])
    ea, eb = labels[edges[:, 0]], labels[edges[:, 1]]
    cross = ea != eb
    g = nx.Graph()
    g.add_nodes_from(range(P))
    bmid: dict = {}
    for a, b, i in zip(ea[cross], eb[cross], np.flatnonzero(cross)):
        key = (min(a, b), max(a, b))
        g.add_edge(int(key[0]), int(key[1]), weight=g.get_edge_data(*key, {"weight": 0})["weight"] + 1)
        bmid.setdefault(key, []).append(edges[i])
    # pieces that touch nothing: link each graph component to its nearest other component
    comps = list(nx.connected_components(g))
    while len(comps) > 1:
        c0 = list(comps[0])
        others = [p for p in range(P) if p not in comps[0]]
        d = np.linalg.norm(cent[c0][:, None] - cent[others][None], axis=-1)
        i, j = np.unravel_index(d.argmin(), d.shape)
        g.add_edge(int(c0[i]), int(others[j]), weight=0.5)
        comps = list(nx.connected_components(g))
    tree = nx.maximum_spanning_tree(g) if P > 1 else g
    root = int(np.argmax(size))  # the largest part (the body; the static base of an articulated object)
    # BFS order, children sorted by (height desc, x, z) for stable numbering
    order, parent_part = [root], {root: -1}
    k = 0
    while k < len(order):
        p = order[k]
        kids = sorted((c for c in tree.neighbors(p) if c not in parent_part),
                      key=lambda c: (-round(cent[c, 1], 6), round(cent[c, 0], 6), round(cent[c, 2], 6)))
        for c in kids:
            parent_part[c] = p
            order.append(c)
        k += 1
    part_to_joint = np.full(P, -1)
    part_to_joint[order] = np.arange(len(order))
    joints: list[JointFit] = []
    taken: set[str] = set()
    limb_of: dict = {}
    depth: dict = {root: 0}
    extent = np.maximum(rest.max(0) - rest.min(0), 1e-12)
    for p in order:
        pp = parent_part[p]
        if pp < 0:
            joints.append(JointFit(sanitize_name("root", taken), p, -1, "root", cent[p].copy(), np.zeros(3)))
            continue
        key = (min(p, pp), max(p, pp))
        if key in bmid:
            e = np.array(bmid[key])
            prior = rest[e.reshape(-1)].mean(0)
        else:  # no shared boundary: midpoint of the closest pair of vertices
            a_ix, b_ix = np.flatnonzero(labels == p), np.flatnonzero(labels == pp)
            a_ix, b_ix = a_ix[:: max(1, len(a_ix) // 500)], b_ix[:: max(1, len(b_ix) // 500)]
            if len(a_ix) and len(b_ix):
                d = np.linalg.norm(rest[a_ix][:, None] - rest[b_ix][None], axis=-1)
                i, j = np.unravel_index(d.argmin(), d.shape)
                prior = (rest[a_ix[i]] + rest[b_ix[j]]) / 2
            else:  # a bone that wins no vertex (it only blends): its parent's centre
                prior = cent[pp] if len(b_ix) else cent[p]
        centre = fit_joint_centre(transforms[pp], transforms[p], prior)
        if np.linalg.norm(centre - prior) > 0.5 * diag:  # ill-posed (almost no relative motion): keep the prior
            centre = prior
        typ, axis, lo, hi, conf, extra = classify_joint(transforms[pp], transforms[p], centre, diag)
        depth[p] = depth[pp] + 1
        if pp == root:
            d = (cent[p] - cent[root]) / extent.max()
            words = []
            for ax, (pos, neg) in ((1, ("upper", "lower")), (2, ("front", "back")), (0, ("left", "right"))):
                if abs(d[ax]) > 0.35 * np.abs(d).max():
                    words.append(pos if d[ax] > 0 else neg)
            limb_of[p] = "_".join(words) or "center"
        else:
            limb_of[p] = limb_of[pp]
        name = sanitize_name(f"{limb_of[p]}_{depth[p]}", taken)
        joints.append(JointFit(name, p, int(part_to_joint[pp]), typ, centre, axis, lo, hi, conf, extra))
    return SkeletonFit(joints, part_to_joint)
