"""Skeleton templates and their embedding onto the medial sphere graph.

Canonical joint names are the UE5 mannequin's (``sdk.autorig.naming`` maps them to other profiles).

biped      root, pelvis, spine_01..03, neck_01, head, clavicle/upperarm/lowerarm/hand _l/_r,
           thigh/calf/foot/ball _l/_r                                      (22 joints, UE5 topology)
quadruped  root, pelvis, spine_01..03, neck_01, head, tail_01..03 (when a tail is found),
           front legs upperarm/lowerarm/hand _l/_r, back legs thigh/calf/foot _l/_r

Embedding (what is implemented, compared with Pinocchio §4-5):

* Discrete step. Pinocchio searches all assignments of template joints to sphere centres with A* over
  penalty terms (bone length, symmetry, direction, leaf extremity). Here the template's *extremities*
  (feet, hands, head, tail) are assigned to leaf spheres of the medial graph by the same kinds of
  penalty -- leafness, height (up direction), side of the symmetry plane, distance along the graph --
  and the template's chains are the graph's shortest paths between them (pelvis = the highest point of
  the foot-to-foot path, chest = the point of the hand-to-hand path nearest the symmetry plane).
* Continuous step. Joints are placed on those paths at template proportions (arc length / height) and
  then refined: each joint moves to the centre of the mesh cross-section perpendicular to its bone
  (Pinocchio minimizes a continuous energy of the same kind), left/right pairs are mirrored onto each
  other and centre joints onto the symmetry plane when the mesh is symmetric.

Leaf tips (head top, hand tip, toe tip) are returned for the bone-heat solver's leaf bones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError
from .frame import Frame
from .medial import MedialGraph, graph_path

BIPED = [  # (name, parent)
    ("root", None), ("pelvis", "root"), ("spine_01", "pelvis"), ("spine_02", "spine_01"), ("spine_03", "spine_02"),
    ("neck_01", "spine_03"), ("head", "neck_01"),
    ("clavicle_l", "spine_03"), ("upperarm_l", "clavicle_l"), ("lowerarm_l", "upperarm_l"), ("hand_l", "lowerarm_l"),
    ("clavicle_r", "spine_03"), ("upperarm_r", "clavicle_r"), ("lowerarm_r", "upperarm_r"), ("hand_r", "lowerarm_r"),
    ("thigh_l", "pelvis"), ("calf_l", "thigh_l"), ("foot_l", "calf_l"), ("ball_l", "foot_l"),
    ("thigh_r", "pelvis"), ("calf_r", "thigh_r"), ("foot_r", "calf_r"), ("ball_r", "foot_r"),
]
QUADRUPED = [
    ("root", None), ("pelvis", "root"), ("spine_01", "pelvis"), ("spine_02", "spine_01"), ("spine_03", "spine_02"),
    ("neck_01", "spine_03"), ("head", "neck_01"),
    ("upperarm_l", "spine_03"), ("lowerarm_l", "upperarm_l"), ("hand_l", "lowerarm_l"),
    ("upperarm_r", "spine_03"), ("lowerarm_r", "upperarm_r"), ("hand_r", "lowerarm_r"),
    ("thigh_l", "pelvis"), ("calf_l", "thigh_l"), ("foot_l", "calf_l"),
    ("thigh_r", "pelvis"), ("calf_r", "thigh_r"), ("foot_r", "calf_r"),
    ("tail_01", "pelvis"), ("tail_02", "tail_01"), ("tail_03", "tail_02"),
]
TEMPLATES = {"biped": BIPED, "quadruped": QUADRUPED}


@dataclass
class BipedProportions:
    """Where joints sit on the embedded chains. Values are ours (from the UE5 mannequin's proportions)."""

    spine: tuple = (0.22, 0.49, 0.78)  # spine_01..03 as arc fractions pelvis -> chest
    neck: float = 0.25  # neck_01, arc fraction chest -> head centre
    head: float = 0.6  # head joint (skull base)
    arm: tuple = (0.05, 0.22, 0.55, 0.85)  # clavicle, upperarm, lowerarm, hand: arc fractions chest -> hand leaf
    pelvis_up: float = 0.03  # pelvis above the crotch junction, in body heights
    thigh_down: float = 0.03  # hip joints below the pelvis, in body heights
    ankle: float = 0.05  # ankle height above the ground, in body heights
    ball: float = 0.7  # ball joint between ankle and toe tip (fraction)


@dataclass
class QuadrupedProportions:
    spine: tuple = (0.25, 0.5, 0.8)  # spine_01..03 on pelvis -> shoulders
    neck: float = 0.3
    head: float = 0.75
    ankle: float = 0.06
    tail: tuple = (0.0, 0.4, 0.75)


@dataclass
class Embedding:
    names: list[str]  # canonical joint names
    parents: np.ndarray  # [J]
    positions: np.ndarray  # [J, 3]
    tips: np.ndarray  # [J, 3] leaf bone tips (= position for non-leaves)
    template: str
    score: dict = field(default_factory=dict)


def _polyline(g: MedialGraph, path: list[int]) -> np.ndarray:
    return g.centers[np.asarray(path)]


def along(pts: np.ndarray, frac: float) -> np.ndarray:
    """Point at arc-length fraction ``frac`` of a polyline pts [N, 3]."""
    if len(pts) == 1:
        return pts[0].copy()
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    t = float(np.clip(frac, 0, 1)) * s[-1]
    k = int(np.clip(np.searchsorted(s, t) - 1, 0, len(seg) - 1))
    u = (t - s[k]) / max(seg[k], 1e-12)
    return pts[k] + np.clip(u, 0, 1) * (pts[k + 1] - pts[k])


def at_height(pts: np.ndarray, up: np.ndarray, h: float) -> np.ndarray:
    """First point of polyline pts (walked from its start) at height h (interpolated), else the closest."""
    hs = pts @ up
    for k in range(len(pts) - 1):
        a, b = hs[k], hs[k + 1]
        if (a - h) * (b - h) <= 0 and a != b:
            u = (h - a) / (b - a)
            return pts[k] + u * (pts[k + 1] - pts[k])
    return pts[int(np.argmin(np.abs(hs - h)))].copy()


def leaves(g: MedialGraph) -> np.ndarray:
    deg = np.diff(g.adjacency.indptr)
    return np.flatnonzero(deg <= 1)


def _tip(g: MedialGraph, node: int, direction: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """The surface point beyond a leaf sphere along ``direction`` (ray from the centre, nearest sample)."""
    c = g.centers[node]
    d = direction / max(np.linalg.norm(direction), 1e-12)
    rel = surface - c
    t = rel @ d
    perp = np.linalg.norm(rel - t[:, None] * d, axis=1)
    ok = (t > 0) & (perp < max(g.radii[node], 2 * g.step))
    if not ok.any():
        return c + d * g.radii[node]
    return c + d * float(t[ok].max())


def refine(positions: dict, bones: dict, surface: np.ndarray, g: MedialGraph, frame: Frame, pairs, center_names,
           symmetric: bool, iterations: int = 2):
    """Continuous refinement: cross-section centring, then mirror symmetry.

    positions: name -> [3]; bones: name -> direction [3] of the bone through that joint.
    """
    out = {k: np.asarray(v, float).copy() for k, v in positions.items()}
    for _ in range(iterations):
        for name, d in bones.items():
            p = out[name]
            d = d / max(np.linalg.norm(d), 1e-12)
            r = max(float(g.radius_at(p[None])[0]), 1.5 * g.step)
            rel = surface - p
            t = rel @ d
            perp = rel - t[:, None] * d
            dist = np.linalg.norm(perp, axis=1)
            sel = (np.abs(t) < 0.5 * r) & (dist < 2.0 * r)
            if sel.sum() >= 6:
                shift = perp[sel].mean(0)
                out[name] = p + shift
    if symmetric:
        L = frame.left
        for a, b in pairs:
            if a in out and b in out:
                qa, qb = frame.to_local(out[a][None])[0], frame.to_local(out[b][None])[0]
                m = 0.5 * (qa + qb * [-1, 1, 1])
                out[a] = frame.to_world(m[None])[0]
                out[b] = frame.to_world((m * [-1, 1, 1])[None])[0]
        for n in center_names:
            if n in out:
                out[n] = out[n] - ((out[n] - frame.center) @ L) * L
    return out


def _bone_directions(template, pos: dict, tips: dict, skip=()) -> dict:
    """Per joint, the direction of the bone whose cross-section centres it: towards its first child
    (template order), else its leaf tip, else away from its parent."""
    out = {}
    for name, parent in template:
        if name in skip or name not in pos:
            continue
        kids = [n for n, p in template if p == name and n in pos]
        if kids:
            out[name] = pos[kids[0]] - pos[name]
        elif name in tips:
            out[name] = tips[name] - pos[name]
        elif parent in pos:
            out[name] = pos[name] - pos[parent]
    return out


def _require(cond, template: str, what: str):
    if not cond:
        raise InvalidInputError(f"--template {template}: {what}; this mesh does not look like a {template} "
                                f"(use --template chain for props and creatures without {template} limbs)",
                                field="template")


def embed_biped(g: MedialGraph, frame: Frame, surface: np.ndarray, prop: BipedProportions | None = None) -> Embedding:
    from scipy.sparse.csgraph import dijkstra
    P = prop or BipedProportions()
    up, H = frame.up, frame.height
    lf = leaves(g)
    q = frame.to_local(g.centers)  # lateral, up, forward (relative to the plane centre)
    h = (g.centers @ up - frame.ground) / max(H, 1e-12)
    side = np.sign(q[:, 0])
    foot_c = [n for n in lf if h[n] < 0.25]
    feet = {}
    for s, tag in ((1, "l"), (-1, "r")):
        c = [n for n in foot_c if side[n] == s and abs(q[n, 0]) > 0.3 * g.step]
        if c:
            feet[tag] = min(c, key=lambda n: h[n])
    _require(len(feet) == 2, "biped", "found no pair of legs reaching the ground on both sides of the symmetry plane")
    head_c = [n for n in lf if h[n] > 0.7]
    _require(len(head_c) > 0, "biped", "found no head (a top extremity)")
    head = max(head_c, key=lambda n: h[n] - 2.0 * abs(q[n, 0]) / max(H, 1e-12))
    # pelvis: highest point of the foot-to-foot path
    ff = graph_path(g.adjacency, feet["l"], feet["r"])
    crotch = ff[int(np.argmax(h[ff]))]
    D, pred = dijkstra(g.adjacency, directed=False, indices=crotch, return_predecessors=True)
    hands = {}
    used = {feet["l"], feet["r"], head}
    for s, tag in ((1, "l"), (-1, "r")):
        c = [n for n in lf if n not in used and side[n] == s and h[n] > 0.3 and abs(q[n, 0]) > 0.06 * H]
        if c:
            hands[tag] = max(c, key=lambda n: abs(q[n, 0]) + 0.5 * D[n])
    _require(len(hands) == 2, "biped", "found no pair of arms")
    hh = graph_path(g.adjacency, hands["l"], hands["r"])
    chest = hh[int(np.argmin(np.abs(q[hh, 0]) + 0.2 * np.abs(h[hh] - h[hh].max())))]
    pos = {}
    crotch_p = g.centers[crotch]
    pelvis = crotch_p + P.pelvis_up * H * up
    pos["pelvis"] = pelvis
    spine = np.vstack([pelvis, _polyline(g, graph_path(g.adjacency, crotch, chest, pred))[1:]])
    chest_p = spine[-1]
    for k, f in enumerate(P.spine):
        pos[f"spine_0{k + 1}"] = along(spine, f)
    neck = _polyline(g, graph_path(g.adjacency, chest, head))
    pos["neck_01"] = along(neck, P.neck)
    pos["head"] = along(neck, P.head)
    tips = {"head": _tip(g, head, up, surface)}
    for tag in ("l", "r"):
        arm = _polyline(g, graph_path(g.adjacency, chest, hands[tag]))
        for nm, f in zip(("clavicle", "upperarm", "lowerarm", "hand"), P.arm):
            pos[f"{nm}_{tag}"] = along(arm, f)
        tips[f"hand_{tag}"] = _tip(g, hands[tag], arm[-1] - along(arm, P.arm[2]), surface)
        leg = _polyline(g, graph_path(g.adjacency, crotch, feet[tag]))
        ground = frame.ground
        ankle = at_height(leg[::-1], up, ground + P.ankle * H)  # walked up from the foot
        knee_h = 0.5 * ((pelvis @ up) + (ankle @ up))
        knee = at_height(leg, up, knee_h)
        thigh = pelvis + ((knee - pelvis) @ frame.left) * frame.left - P.thigh_down * H * up
        # toe tip: the forward-most surface point of this foot
        near = surface[(np.abs((surface - ankle) @ frame.left) < 0.08 * H) & ((surface @ up) < ground + 0.12 * H)]
        toe = near[int(np.argmax(near @ frame.forward))] if len(near) else ankle + 0.1 * H * frame.forward
        toe = toe - ((toe - ground * up) @ up) * up + (ground + 0.02 * H) * up
        ball = ankle + P.ball * (toe - ankle)
        ball = ball - (ball @ up) * up + (ground + 0.025 * H) * up
        pos[f"thigh_{tag}"], pos[f"calf_{tag}"], pos[f"foot_{tag}"], pos[f"ball_{tag}"] = thigh, knee, ankle, ball
        tips[f"ball_{tag}"] = toe
    bones = _bone_directions(BIPED, pos, tips, skip=("root", "pelvis", "ball_l", "ball_r"))
    for t in ("l", "r"):
        bones[f"foot_{t}"] = up  # the ankle is centred in the horizontal section of the shin
    pairs = [(f"{b}_l", f"{b}_r") for b in ("clavicle", "upperarm", "lowerarm", "hand", "thigh", "calf", "foot", "ball")]
    centre = ["pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head"]
    symmetric = frame.symmetry_error < 0.02
    pos = refine(pos, bones, surface, g, frame, pairs, centre, symmetric)
    if symmetric:
        tips = refine(tips, {}, surface, g, frame, [("hand_l", "hand_r"), ("ball_l", "ball_r")], ["head"], True)
    pos["root"] = pos["pelvis"] - ((pos["pelvis"] @ up) - frame.ground) * up
    names = [n for n, _ in BIPED]
    parents = np.array([-1 if p is None else names.index(p) for _, p in BIPED])
    P_ = np.array([pos[n] for n in names])
    T_ = np.array([tips.get(n, pos[n]) for n in names])
    # T- or A-pose: the arms' angle below the horizontal (upperarm -> hand), both sides averaged
    ang = []
    for t in ("l", "r"):
        d = pos[f"hand_{t}"] - pos[f"upperarm_{t}"]
        ang.append(float(np.degrees(np.arcsin(np.clip(-(d @ up) / max(np.linalg.norm(d), 1e-12), -1, 1)))))
    arm = float(np.mean(ang))
    return Embedding(names, parents, P_, T_, "biped", {"symmetric": symmetric, "arm_angle_deg": arm,
                                                        "pose": "T" if arm < 20 else "A"})


def embed_quadruped(g: MedialGraph, frame: Frame, surface: np.ndarray,
                    prop: QuadrupedProportions | None = None) -> Embedding:
    P = prop or QuadrupedProportions()
    up, H = frame.up, frame.height
    lf = leaves(g)
    q = frame.to_local(g.centers)
    h = (g.centers @ up - frame.ground) / max(H, 1e-12)
    side = np.sign(q[:, 0])
    zc = float(np.median(q[:, 2]))
    feet = {}
    low = [n for n in lf if h[n] < 0.3]
    for fb, fs in (("front", 1), ("back", -1)):
        for s, tag in ((1, "l"), (-1, "r")):
            c = [n for n in low if side[n] == s and np.sign(q[n, 2] - zc) == fs]
            if c:
                feet[(fb, tag)] = min(c, key=lambda n: h[n])
    _require(len(feet) == 4, "quadruped", f"found {len(feet)} of the 4 legs")
    used = set(feet.values())
    high = [n for n in lf if n not in used and h[n] >= 0.3]
    _require(len(high) > 0, "quadruped", "found no head")
    head = max(high, key=lambda n: q[n, 2])
    bf = graph_path(g.adjacency, feet[("back", "l")], feet[("back", "r")])
    hips = bf[int(np.argmax(h[bf]))]
    ffp = graph_path(g.adjacency, feet[("front", "l")], feet[("front", "r")])
    shoulders = ffp[int(np.argmax(h[ffp]))]
    tail_c = [n for n in high if n != head and q[n, 2] < q[hips, 2]]
    pos, tips = {}, {}
    spine = _polyline(g, graph_path(g.adjacency, hips, shoulders))
    pos["pelvis"] = spine[0]
    for k, f in enumerate(P.spine):
        pos[f"spine_0{k + 1}"] = along(spine, f)
    neck = _polyline(g, graph_path(g.adjacency, shoulders, head))
    pos["neck_01"] = along(neck, P.neck)
    pos["head"] = along(neck, P.head)
    tips["head"] = _tip(g, head, neck[-1] - along(neck, P.head), surface)
    names = [n for n, _ in QUADRUPED]
    if tail_c:
        tail = min(tail_c, key=lambda n: q[n, 2])
        tl = _polyline(g, graph_path(g.adjacency, hips, tail))
        for k, f in enumerate(P.tail):
            pos[f"tail_0{k + 1}"] = along(tl, 0.15 + 0.85 * f)
        tips["tail_03"] = _tip(g, tail, tl[-1] - tl[max(len(tl) - 3, 0)], surface)
    else:
        names = [n for n in names if not n.startswith("tail")]
    for (fb, tag), foot in feet.items():
        root_node = shoulders if fb == "front" else hips
        leg = _polyline(g, graph_path(g.adjacency, root_node, foot))
        top = leg[0]
        ankle = at_height(leg[::-1], up, frame.ground + P.ankle * H)
        knee = at_height(leg, up, 0.5 * ((top @ up) + (ankle @ up)))
        hip = top + ((knee - top) @ frame.left) * frame.left - 0.03 * H * up
        a, b, c = ("upperarm", "lowerarm", "hand") if fb == "front" else ("thigh", "calf", "foot")
        pos[f"{a}_{tag}"], pos[f"{b}_{tag}"], pos[f"{c}_{tag}"] = hip, knee, ankle
        tips[f"{c}_{tag}"] = _tip(g, foot, -up, surface)
    tmpl = [(n, p) for n, p in QUADRUPED if n in names]
    bones = _bone_directions(tmpl, pos, tips, skip=("root", "pelvis"))
    pairs = [(f"{b}_l", f"{b}_r") for b in ("upperarm", "lowerarm", "hand", "thigh", "calf", "foot")]
    centre = ["pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head", "tail_01", "tail_02", "tail_03"]
    symmetric = frame.symmetry_error < 0.02
    pos = refine(pos, bones, surface, g, frame, pairs, centre, symmetric)
    pos["root"] = pos["pelvis"] - ((pos["pelvis"] @ up) - frame.ground) * up
    parents = np.array([-1 if p is None else names.index(p) for _, p in tmpl])
    P_ = np.array([pos[n] for n in names])
    T_ = np.array([tips.get(n, pos[n]) for n in names])
    return Embedding(names, parents, P_, T_, "quadruped", {"symmetric": symmetric})
