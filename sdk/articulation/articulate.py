"""Articulate a prop: joint type, axis, origin, limits and confidence from a mesh, a part and a prompt.

``articulate_part(mesh, part, prompt=None) -> Joint`` runs the weight-free pipeline for one part:
prompt -> hint (``prompt``), motion prior -> articulated states (``prior``; physics by default), ATOP's OBB
candidate search on those states (``axis_search``), limits by collision sweep (``limits``).
``articulate_object(asset, prompts=None) -> Articulation`` does every part of a segmented object, building the
kinematic tree first (each part's parent is the larger part it touches most; a knob on a door gets the door),
and moves a part together with its descendants.
"""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..core import Articulation, Joint, Link, Mesh, PartLabels
from ..errors import ArticulationWarning, InvalidInputError
from ..geometry.sampling import face_areas, sample_surface
from ..util.progress import ProgressFn
from .limits import sweep_limits
from .methods import AXIS_ESTIMATORS, PRIORS
from .physics_prior import UP_VECTORS, PhysicsConfig
from .prior import MotionPrior, get_prior
from .prompt import KNOWN_NOUNS, MotionHint, parse_prompt

log = logging.getLogger(__name__)

TREE_SAMPLES = 24000  # ours: surface samples (by area) over the whole object for the contact graph
# a few common English words: a prompt with none of them (and no known part noun) is taken as another language
ENGLISH_WORDS = frozenset("the a an this that it its of to up down out in on off and or with from by for please "
                          "my your open close pull push lift turn slide move rotate press".split())
DENSE_PER_VOXEL = 2.5  # ours: surface samples per voxel face to voxelize (pinholes are closed before filling)
ENCLOSED_TRAVEL = 0.002  # ours: a part closed in on every side that cannot slide this much (of the diagonal) is fixed
INSIDE_FRAC = 0.6  # ours: part surface this deep inside the body's solid = a part hidden inside the body
OVERLAP_FRAC = 0.05  # ours: ... this much = parts that interpenetrate (warned)
TOUCH_REL = 0.12  # ours: parts touch (for the parent choice) within this fraction of the smaller part's diagonal
ROOT_TOUCH = 0.25  # ours: a part touching the root this much (vs its strongest contact) hangs from the root


@dataclass
class ArticulateConfig:
    prior: str | MotionPrior = "physics"  # "physics" (weight-free) | "diffusion" (needs ATOP's model)
    method: str = "atop_search"  # "atop_search" (ATOP's OBB candidates) | "direct" (continuous optimization)
    up_axis: str | None = None  # "x" | "y" | "z" | None: auto (z for URDF/MJCF, y otherwise)
    n_part: int = 384  # surface samples on the moving part
    n_body: int = 3072  # surface samples on the rest of the object
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    seed: int = 0
    # ours: an estimated axis within this many degrees of an axis of the asset's frame is snapped onto it (assets
    # are authored in their frame; the OBB of an irregular part, a caster's fork, tilts by a few degrees); 0 = off
    snap_deg: float = 5.0

    def __post_init__(self):  # validated once, here (CLI, server and facade build this config)
        AXIS_ESTIMATORS.get(self.method)
        if isinstance(self.prior, str):
            PRIORS.get(self.prior)
        if self.up_axis not in (None, "x", "y", "z"):
            raise InvalidInputError(f"up_axis must be x, y, z or None, got {self.up_axis!r}", field="up_axis")


# ---------------------------------------------------------------------------------------------------------
def _face_labels(mesh: Mesh, parts: PartLabels) -> np.ndarray:  # [F] part id of each face (its first vertex)
    return parts.labels[mesh.faces[:, 0]]


def resolve_part(mesh: Mesh, part, parts: PartLabels | None, *, source: str | None = None) -> np.ndarray:
    """The part's face mask [F] from a part name, part id, vertex mask [V] or face mask [F]."""
    F, V = mesh.n_faces, mesh.n_vertices
    if isinstance(part, str) or isinstance(part, (int, np.integer)):
        if parts is None:
            raise InvalidInputError(f"part '{part}' requested but the input has no parts (use a face mask, OBJ groups, "
                                    "glTF nodes, USD prims or URDF/MJCF links)", field="part", source=source)
        if isinstance(part, str):
            if part not in parts.names:
                raise InvalidInputError(f"unknown part '{part}'; the input has parts: {', '.join(parts.names)}",
                                        field="part", source=source)
            pid = parts.names.index(part)
        else:
            pid = int(part)
            if not 0 <= pid < parts.n_parts:
                raise InvalidInputError(f"part id {pid} out of range [0, {parts.n_parts})", field="part", source=source)
        fmask = _face_labels(mesh, parts) == pid
    else:
        m = np.asarray(part)
        if m.dtype != bool:
            if m.ndim == 1 and m.dtype.kind in "iu" and len(m) not in (F, V):  # index list of faces
                mm = np.zeros(F, bool)
                if len(m) and (m.min() < 0 or m.max() >= F):
                    raise InvalidInputError(f"face index out of range [0, {F})", field="part", source=source)
                mm[m] = True
                m = mm
            else:
                m = m.astype(bool)
        if len(m) == F:
            fmask = m
        elif len(m) == V:
            fmask = m[mesh.faces].all(1)
        else:
            raise InvalidInputError(f"part mask has {len(m)} entries; the mesh has {V} vertices and {F} faces",
                                    field="part", source=source)
    n = int(fmask.sum())
    if n == 0:
        raise InvalidInputError("the part is empty (no faces selected)", field="part", source=source)
    if n == F:
        raise InvalidInputError("the part is the whole mesh: nothing is left to move it against; give a part mask "
                                "that leaves the body out", field="part", source=source)
    return fmask


def _up_vector(cfg: ArticulateConfig, source_suffix: str | None) -> np.ndarray:
    ax = cfg.up_axis
    if ax is None:
        from ..io.formats import up_axis_of
        ax = up_axis_of(f"x{source_suffix}" if source_suffix else None)
    return UP_VECTORS[ax]


def _line_distance(o1, d1, o2, d2) -> float:
    n = np.cross(d1, d2)
    if np.linalg.norm(n) < 1e-6:
        v = o2 - o1
        return float(np.linalg.norm(v - np.dot(v, d1) * d1))
    return float(abs(np.dot(o2 - o1, n / np.linalg.norm(n))))


AMBIGUOUS_MARGIN = 0.25  # ours: score gap below which a prompt-less estimate is reported as ambiguous


def _runner_up(hyps, best, diag: float):
    """The best hypothesis that is really different from ``best`` (other type, axis > 10 deg off, or a revolute
    line > 5% of the diagonal away)."""
    for h in hyps[1:]:
        same_axis = abs(float(np.dot(h.axis, best.axis))) > np.cos(np.deg2rad(10))
        if h.type != best.type or not same_axis or (
                h.type == "revolute" and _line_distance(h.origin, h.axis, best.origin, best.axis) > 0.05 * diag):
            return h
    return None


def _axis_words(axis, up) -> str:
    if up is not None:
        c = abs(float(np.dot(axis, up)))
        if c > 0.9:
            return "a vertical axis"
        if c < 0.2:
            return "a horizontal axis"
    return "axis " + str(tuple(round(float(x), 2) for x in axis))


def _confidence(hyps, best, diag: float, fallback: bool) -> float:
    """Score margin between the winner and the best hypothesis that is really different."""
    other = None
    for h in hyps[1:]:
        same_axis = abs(float(np.dot(h.axis, best.axis))) > np.cos(np.deg2rad(10))
        if h.type != best.type or not same_axis or (
                h.type == "revolute" and _line_distance(h.origin, h.axis, best.origin, best.axis) > 0.05 * diag):
            other = h
            break
    margin = best.score - (other.score if other is not None else best.score - 1.0)
    c = 1.0 / (1.0 + np.exp(-4.0 * margin))  # 0.5 at a tie
    if best.travel <= 0:
        c *= 0.2
    if fallback:
        c *= 0.7
    return float(np.clip(c, 0.01, 0.99))


@dataclass(frozen=True)
class _FaceData:
    """Per-face quantities of one mesh, computed once and shared by every part of the object (sampling, the
    dense voxelization samples, the input checks): areas [F] and the triangles' boxes lo/hi [F, 3]."""
    area: np.ndarray  # [F]
    lo: np.ndarray  # [F, 3]
    hi: np.ndarray  # [F, 3]


_FACE_CACHE: dict = {}  # one entry: {content key: _FaceData} (the last mesh; a mesh edited in place gets a new key)


def _face_data(mesh: Mesh) -> _FaceData:
    import hashlib
    v, f = np.ascontiguousarray(mesh.vertices), np.ascontiguousarray(mesh.faces)
    key = (v.shape, f.shape, v.dtype.str, f.dtype.str,
           hashlib.blake2b(v.data, digest_size=16).digest(), hashlib.blake2b(f.data, digest_size=16).digest())
    fd = _FACE_CACHE.get(key)
    if fd is None:
        tri = v[f]
        fd = _FaceData(face_areas(v, f), tri.min(1), tri.max(1))
        for x in (fd.area, fd.lo, fd.hi):  # shared between calls: nobody may write into them
            x.setflags(write=False)
        _FACE_CACHE.clear()
        _FACE_CACHE[key] = fd
    return fd


def _dense(mesh: Mesh, fmask: np.ndarray, h: float, rng, cap: int = 150_000, region=None,
           fd: _FaceData | None = None) -> np.ndarray:
    """Surface samples dense enough to voxelize at voxel size h (DENSE_PER_VOXEL per surface voxel), from the faces
    that reach into ``region`` (lo, hi) when given."""
    fd = fd or _face_data(mesh)
    if region is not None:
        a, b = fd.hi >= region[0], fd.lo <= region[1]  # [F, 3] each; combined by hand (faster than .all(1))
        inside = a[:, 0] & a[:, 1] & a[:, 2] & b[:, 0] & b[:, 1] & b[:, 2]
        fmask = fmask & inside
        if not fmask.any():
            return np.zeros((0, 3))
    a = fd.area[fmask]
    area = a.sum()
    n = int(np.clip(DENSE_PER_VOXEL * area / (h * h), 2000, cap))
    return sample_surface(mesh.vertices, mesh.faces[fmask], n, rng, area=a)


def _obb_points(mesh: Mesh, fmask: np.ndarray, rng, cap: int = 20000) -> np.ndarray:
    v = mesh.vertices[np.unique(mesh.faces[fmask])]
    return v if len(v) <= cap else v[rng.choice(len(v), cap, replace=False)]


def _warn(notes: list, child: str, msg: str) -> None:
    """Record a doubt on the joint (``extra["warnings"]``) and raise it as an ``ArticulationWarning``."""
    notes.append(msg)
    warnings.warn(f"part '{child}': {msg}", ArticulationWarning, stacklevel=3)


def _fixed_joint(name, parent, child, center, reason: str, extra: dict) -> Joint:
    extra = dict(extra, fixed_reason=reason)
    return Joint(name, "fixed", parent, child, np.asarray(center, float), [1.0, 0.0, 0.0], 0.0, 0.0, 0.0, extra)


def _part_names_words(name: str) -> set:
    return set(re.sub(r"[^a-z]+", " ", name.lower().replace("_", " ")).split()) | {
        n for n in KNOWN_NOUNS if n in name.lower()}


def check_part_and_prompt(mesh: Mesh, fmask: np.ndarray, hint: MotionHint, child: str, part_names, notes: list,
                          source: str | None = None, fd: _FaceData | None = None) -> None:
    """Input checks that turn into warnings (or an error for a part without area) before any estimation."""
    nv = len(np.unique(mesh.faces[fmask]))
    area = (fd or _face_data(mesh)).area[fmask].sum()
    if not area > 1e-12 * mesh.bbox_diagonal ** 2:
        raise InvalidInputError(f"part '{child}' has no surface area ({nv} vertices, degenerate faces): nothing to "
                                "sample or sweep", field="part", source=source)
    if nv < 8:
        _warn(notes, child, f"the part has only {nv} vertices (less than a box): its bounding box and hence the "
                            "candidate axes are approximate")
    if hint.text and hint.fallback:
        words = re.findall(r"[a-z]+", hint.text.lower())
        if re.search(r"[^\x00-\x7f]", hint.text) or not any(w in ENGLISH_WORDS or w in KNOWN_NOUNS for w in words):
            _warn(notes, child, f"prompt {hint.text!r} does not look like English (only English motion words such as "
                                "open, pull out, lift, turn, press are understood): the physics prior decides alone")
        else:
            _warn(notes, child, f"prompt {hint.text!r} has no motion words (open, pull out, lift, turn, press, ...): "
                                "the physics prior decides alone")
    if hint.part_word and part_names:
        mine = _part_names_words(child)
        others = [n for n in part_names if n != child and hint.part_word in _part_names_words(n)]
        if hint.part_word not in mine and others:
            _warn(notes, child, f"prompt {hint.text!r} names '{hint.part_word}', which matches another part "
                                f"({', '.join(others[:3])}); the joint is estimated for '{child}' as asked")


def _articulate_points(part_pts, body_pts, hint: MotionHint, cfg: ArticulateConfig, up, *, parent: str, child: str,
                       name: str, dense: dict | None = None, notes: list | None = None) -> Joint:
    prior = get_prior(cfg.prior, config=cfg.physics)
    notes = [] if notes is None else notes
    extra = {"prompt": hint.text, "hint_type": hint.type, "hint_direction": hint.direction, "prior": prior.name,
             "method": cfg.method, "warnings": notes}
    dense = dense or {}
    # one physics scene (voxels, contact, OBB) serves the input checks, the prior and the limit sweep
    scene = prior.scene(part_pts, body_pts, up, physics=cfg.physics, **dense)
    ov = scene.overlap_fraction()
    enclosed = scene.enclosed()
    if ov >= INSIDE_FRAC:
        reason = (f"the part lies inside the body ({ov:.0%} of its surface is within the body's solid): it cannot "
                  "move without passing through it; a fixed joint is written")
        _warn(notes, child, reason)
        return _fixed_joint(name, parent, child, part_pts.mean(0), reason, extra)
    if ov >= OVERLAP_FRAC:
        _warn(notes, child, f"the part overlaps the body ({ov:.0%} of its surface is inside the body's solid); "
                            "collision-free travel is measured from the overlapping rest pose")
    res = prior.propose(part_pts, body_pts, hint, up, scene=scene)
    best = res.hypotheses[0] if res.hypotheses else None
    no_room = best is None or best.travel <= (ENCLOSED_TRAVEL * scene.diag if best.type == "prismatic" else 0.0)
    if enclosed and (no_room or not len(scene.contact)):
        reason = ("the part lies inside the body (closed in on every side: there is body geometry beyond it along "
                  "all six box directions, and " + ("no room to move in" if no_room else "it touches nothing that "
                  "could hold a joint") + "); a fixed joint is written")
        _warn(notes, child, reason)
        return _fixed_joint(name, parent, child, part_pts.mean(0), reason, extra)
    if res.hypotheses and res.hypotheses[0].travel <= 0:
        reason = ("every hypothesis collides at once (the part is locked in by the body, or overlaps it): no "
                  "collision-free motion was found; a fixed joint is written")
        _warn(notes, child, reason)
        return _fixed_joint(name, parent, child, part_pts.mean(0), reason, extra)
    if enclosed:
        _warn(notes, child, "the part is closed in on every side (body geometry beyond it along all six box "
                            "directions): its motion stays within the room it has there")
    types = (hint.type,) if hint.type in ("revolute", "prismatic") else ("revolute", "prismatic")
    est = AXIS_ESTIMATORS.get(cfg.method)(part_pts, res.states, body_pts, types=types, seed=cfg.seed,
                                          obb_points=dense.get("obb_points"))
    snapped = snap_axis(est.axis, cfg.snap_deg, _body_frames(body_pts))
    if snapped is not None:
        extra["axis_before_snap"] = est.axis.tolist()
        est.axis = snapped
    lim = sweep_limits(scene, est.type, est.origin, est.axis)
    if lim.upper - lim.lower <= 1e-9:
        _warn(notes, child, f"the estimated {est.type} joint is blocked both ways by the collision sweep (limits 0, 0)")
    typ = est.type
    if typ == "revolute" and lim.full_turn:
        typ = "continuous"
    conf = 0.5
    if res.hypotheses:
        best = res.hypotheses[0]
        conf = _confidence(res.hypotheses, best, scene.diag, hint.fallback)
        extra["physics_best"] = {"type": best.type, "origin": best.origin.tolist(), "axis": best.axis.tolist(),
                                 "travel": best.travel, "score": best.score, "terms": best.terms}
        # the search should re-identify the physics winner; if it does not, trust it less
        if best.type != est.type or abs(float(np.dot(best.axis, est.axis))) < np.cos(np.deg2rad(10)):
            conf *= 0.5
        alt = _runner_up(res.hypotheses, best, scene.diag)
        if alt is not None and best.score - alt.score < AMBIGUOUS_MARGIN and (hint.fallback or hint.type is None):
            a_best, a_alt = _axis_words(best.axis, up), _axis_words(alt.axis, up)
            if alt.type == best.type and a_best == a_alt:  # the same direction: say where each hinge line runs
                a_best += " through " + str(tuple(round(float(x), 2) for x in best.origin))
                a_alt = "a parallel axis through " + str(tuple(round(float(x), 2) for x in alt.origin))
            _warn(notes, child, f"ambiguous without a prompt: a {best.type} about {a_best} (chosen) and a "
                                f"{alt.type} about {a_alt} fit the geometry almost equally (score {best.score:.2f} vs "
                                f"{alt.score:.2f}); a prompt such as 'open the door' or 'pull out the drawer' "
                                "decides")
    extra.update({"chamfer": est.cost, "amounts": np.asarray(est.amounts).tolist(), "candidate": est.candidate})
    lower, upper = lim.lower, lim.upper
    if typ == "continuous":
        lower, upper = -np.pi, np.pi
    return Joint(name, typ, parent, child, est.origin, est.axis, float(lower), float(upper), conf, extra)


def _body_frames(body_pts: np.ndarray) -> np.ndarray:
    """[6, 3]: the asset's x, y, z and the body's principal axes (a rotated asset's body keeps its own frame)."""
    if len(body_pts) < 4:
        return np.eye(3)
    _, _, vt = np.linalg.svd(body_pts - body_pts.mean(0), full_matrices=False)
    return np.vstack([np.eye(3), vt])


def snap_axis(axis: np.ndarray, max_deg: float, frame: np.ndarray | None = None) -> np.ndarray | None:
    """The frame axis (rows of ``frame`` [K, 3], default the asset's x, y, z) nearest ``axis`` when it is within
    ``max_deg``, with the sign of ``axis``; None when none is that close, when ``axis`` already lies on it, or
    when ``max_deg`` <= 0."""
    if max_deg <= 0:
        return None
    frame = np.eye(3) if frame is None else np.asarray(frame, float)
    a = np.asarray(axis, float) / max(float(np.linalg.norm(axis)), 1e-30)
    c = frame @ a
    k = int(np.argmax(np.abs(c)))
    if abs(c[k]) < np.cos(np.deg2rad(max_deg)) or abs(c[k]) > 1 - 1e-12:
        return None
    return np.sign(c[k]) * frame[k] / np.linalg.norm(frame[k])


def _sample_faces(mesh: Mesh, fmask: np.ndarray, n: int, rng, fd: _FaceData | None = None) -> np.ndarray:
    return sample_surface(mesh.vertices, mesh.faces[fmask], n, rng, area=(fd or _face_data(mesh)).area[fmask])


def articulate_part(mesh, part, prompt: str | None = None, *, parts: PartLabels | None = None,
                    config: ArticulateConfig | None = None, moves_with=None, parent: str = "body",
                    name: str | None = None) -> Joint:
    """Estimate the joint that moves ``part`` of ``mesh`` (a Mesh or an Asset with parts).

    part: a part name or id (needs parts), a vertex mask [V], a face mask [F] or face indices.
    moves_with: optional face mask [F] of geometry attached to the part (e.g. its knob) that moves with it.
    """
    cfg = config or ArticulateConfig()
    source = None
    suffix = None
    if hasattr(mesh, "mesh") and hasattr(mesh, "parts"):  # an Asset
        parts = parts if parts is not None else mesh.parts
        path = getattr(mesh, "path", None)
        source = str(path) if path else None
        suffix = path.suffix.lower() if path else None
        mesh = mesh.mesh
    if not isinstance(mesh, Mesh):
        raise InvalidInputError(f"expected a Mesh or an Asset, got {type(mesh).__name__}", field="mesh")
    mesh = mesh.validate(source)
    fmask = resolve_part(mesh, part, parts, source=source)
    if moves_with is not None:
        fmask = fmask | np.asarray(moves_with, bool)
        if fmask.all():
            raise InvalidInputError("the part with its attachments is the whole mesh", field="part", source=source)
    hint = parse_prompt(prompt)
    pname = part if isinstance(part, str) else (parts.names[int(part)] if isinstance(part, (int, np.integer)) and parts else "part")
    notes: list = []
    fd = _face_data(mesh)
    check_part_and_prompt(mesh, fmask, hint, pname, parts.names if parts is not None else None, notes, source, fd)
    rng = np.random.default_rng(cfg.seed)
    part_pts = _sample_faces(mesh, fmask, cfg.n_part, rng, fd)
    body_pts = _sample_faces(mesh, ~fmask, cfg.n_body, rng, fd)
    dense = _dense_inputs(mesh, fmask, cfg, rng, fd)
    return _articulate_points(part_pts, body_pts, hint, cfg, _up_vector(cfg, suffix), parent=parent, child=pname,
                              name=name or f"{pname}_joint", dense=dense, notes=notes)


def _dense_inputs(mesh: Mesh, fmask: np.ndarray, cfg: ArticulateConfig, rng, fd: _FaceData | None = None,
                  own: np.ndarray | None = None, anchor: np.ndarray | None = None) -> dict:
    """own: face mask [F] of the part alone when ``fmask`` also holds its descendants; anchor: face mask [F] of
    what can hold the joint when it is less than the rest of the object (other parts that move themselves left
    out)."""
    from .physics_prior import part_region
    obb = _obb_points(mesh, fmask, rng)
    region = part_region(obb, mesh.vertices.min(0), mesh.vertices.max(0))
    h = float(np.max(region[1] - region[0])) / cfg.physics.voxel_res
    fd = fd or _face_data(mesh)
    out = {"body_dense": _dense(mesh, ~fmask, h, rng, region=region, fd=fd), "part_dense": _dense(mesh, fmask, h, rng, fd=fd),
           "obb_points": obb}
    if own is not None and (own != fmask).any() and own.any():
        out["own_dense"] = _dense(mesh, own, h, rng, fd=fd)
    if anchor is not None and (anchor != ~fmask).any():
        out["anchor_dense"] = _dense(mesh, anchor, h, rng, region=region, fd=fd) if anchor.any() else np.zeros((0, 3))
    return out


# ---------------------------------------------------------------------------------------------------------
def infer_tree(mesh: Mesh, parts: PartLabels, *, n: int = 256, seed: int = 0,
               movable: list[str] | None = None) -> tuple[str, dict]:
    """Root part and parent of every other part.

    Root: the largest part (bbox volume) among the parts not asked to move (``movable``: the parts the caller
    wants joints for; a named part is never made the root, so asking for a joint never yields none).
    Parent: the root when the part touches it (at least ``ROOT_TOUCH`` of its strongest contact: doors, drawers
    and keys hang from the body even where they touch a neighbour more), else the larger part it touches most
    (a knob on a door gets the door), else the root.

    Returns (root name, {part: parent}).
    """
    rng = np.random.default_rng(seed)
    fl = _face_labels(mesh, parts)
    P = parts.n_parts
    farea = _face_data(mesh).area
    parea = np.bincount(fl, weights=farea, minlength=P)
    total = max(float(parea.sum()), 1e-30)
    pts, lab, vol = [], [], np.zeros(P)
    for p in range(P):
        fm = fl == p
        if not fm.any():
            vol[p] = -1
            continue
        # samples by area (a large body gets many, so a key or a door finds it), at least n per part
        k = int(np.clip(TREE_SAMPLES * parea[p] / total, n, 8 * n))
        s = _sample_faces(mesh, fm, k, rng)
        pts.append(s)
        lab.append(np.full(len(s), p))
        vol[p] = float(np.prod(np.maximum(s.max(0) - s.min(0), 1e-6 * mesh.bbox_diagonal)))
    pts, lab = np.concatenate(pts), np.concatenate(lab)
    eps = 0.02 * mesh.bbox_diagonal
    tree = cKDTree(pts)
    d, nb = tree.query(pts, k=12, distance_upper_bound=eps)
    cnt = np.bincount(lab, minlength=P).astype(float)
    ok = np.isfinite(d[:, 1:])
    src = np.broadcast_to(np.arange(len(pts))[:, None], ok.shape)[ok]
    other = lab[nb[:, 1:][ok]]
    dist = d[:, 1:][ok]

    def touch_matrix(pair_eps):  # touch[p, q]: fraction of p's samples with a sample of q within pair_eps[p, q]
        t = np.zeros((P, P))
        m = (other != lab[src]) & (dist < pair_eps[lab[src], other])
        if m.any():
            pair = np.unique(src[m] * P + other[m])  # each (sample, other part) once
            np.add.at(t, (lab[pair // P], pair % P), 1)
        return t / np.maximum(cnt[:, None], 1)

    # the body choice reads the generous contact (a fixed eps of the object's size)
    touch = touch_matrix(np.full((P, P), eps + 1e-12))
    # parents read contact at the scale of the smaller part of each pair: a caster's wheel 2 cm below the chair's
    # base does not touch it (its fork does), though 2 cm is within 2% of the chair
    size = np.array([float(np.linalg.norm(np.ptp(pts[lab == p], 0))) if vol[p] >= 0 else 0.0 for p in range(P)])
    peps = np.minimum(eps, TOUCH_REL * size) + 1e-12
    ptouch = touch_matrix(np.minimum(peps[:, None], peps[None, :]))
    asked = set(movable or [])
    pool = [p for p in range(P) if vol[p] >= 0 and parts.names[p] not in asked]
    if not pool:  # every part asked to move (an object without body geometry): the largest stays put
        pool = [p for p in range(P) if vol[p] >= 0]
    # the body holds the others: size (bbox volume^2/3) times (1 + number of parts touching it); a chair's leg base (five casters
    # and the seat) wins over the larger seat, a cabinet body over its doors
    deg = ((touch > 0) | (touch.T > 0)).sum(1)
    root = max(pool, key=lambda p: vol[p] ** (2 / 3) * (1 + deg[p]))
    # contact-graph distance from the root: a part hangs from a neighbour nearer the root, or from a larger
    # neighbour as near (a knob on a door), never from one farther out (a caster's fork holds its wheels, which
    # touch nothing else, though they are the larger parts)
    adj = (ptouch > 0) | (ptouch.T > 0)
    gap = np.full((P, P), np.inf)  # nearest samples of each pair of parts (within eps)
    np.minimum.at(gap, (lab[src], other), dist)
    gap = np.minimum(gap, gap.T)
    rel_gap = gap / np.maximum(np.minimum(size[:, None], size[None, :]), 1e-12)
    depth = np.full(P, P + 1)
    depth[root] = 0
    frontier = [root]
    while True:
        while frontier:
            nxt = []
            for a in frontier:
                for b in np.flatnonzero(adj[a]):
                    if depth[b] > depth[a] + 1 and vol[b] >= 0:
                        depth[b] = depth[a] + 1
                        nxt.append(int(b))
            frontier = nxt
        # a group of parts not in contact with the reached ones (sparse samples on a large body): it hangs from
        # the reached part across the smallest gap (relative to the smaller part), through the part nearest it
        reached = depth <= P
        g = np.where(reached[:, None] & ~reached[None, :] & (vol >= 0)[None, :], rel_gap, np.inf)
        if not np.isfinite(g).any():
            break
        a, b = np.unravel_index(int(np.argmin(g)), g.shape)
        adj[a, b] = adj[b, a] = True
        ptouch[b, a] = max(ptouch[b, a], 1e-6)
        depth[b] = depth[a] + 1
        frontier = [int(b)]
    parent = {}
    for p in range(P):
        if p == root or vol[p] < 0:
            continue
        cand = [q for q in range(P) if q != p and ptouch[p, q] > 0 and
                (depth[q] < depth[p] or (depth[q] == depth[p] and vol[q] > vol[p]))]
        if not cand:
            q = root
        elif ptouch[p, root] >= ROOT_TOUCH * max(ptouch[p, c] for c in cand):
            q = root
        else:
            q = max(cand, key=lambda q: ptouch[p, q])
        parent[parts.names[p]] = parts.names[q]
    # no cycles: a part whose chain does not reach the root hangs from the root
    for c in list(parent):
        seen, x = {c}, parent[c]
        while x in parent and x not in seen:
            seen.add(x)
            x = parent[x]
        if x != parts.names[root]:
            parent[c] = parts.names[root]
    return parts.names[root], parent


def articulate_object(asset, prompts: dict | None = None, *, config: ArticulateConfig | None = None,
                      only: list[str] | None = None, progress: ProgressFn | bool | None = True) -> Articulation:
    """Articulate every movable part of a segmented asset (``asset.mesh``, ``asset.parts``).

    prompts: optional {part name: prompt}; only: restrict to these part names (others become fixed).
    progress: ``progress(fraction, message)`` reported before every part (a callback that raises cancels between
    parts); ``True`` shows a tqdm bar (silenced by ``settings.progress``), ``False``/``None`` nothing.
    """
    from ..util.progress import progress as _progress
    from ..util.progress import report
    cfg = config or ArticulateConfig()
    mesh, parts = asset.mesh, asset.parts
    path = getattr(asset, "path", None)
    source = str(path) if path else None
    if parts is None or parts.n_parts < 2:
        raise InvalidInputError("articulating a whole object needs at least two parts (OBJ groups, glTF nodes, USD "
                                "prims or URDF/MJCF links)", field="parts", source=source)
    mesh = mesh.validate(source)
    prompts = dict(prompts or {})
    for k in prompts:
        if k not in parts.names:
            raise InvalidInputError(f"prompt given for unknown part '{k}'; parts: {', '.join(parts.names)}",
                                    field="prompts", source=source)
    for k in only or []:
        if k not in parts.names:
            raise InvalidInputError(f"unknown part '{k}'; parts: {', '.join(parts.names)}", field="only", source=source)
    asked = list(only) if only is not None else list(prompts)
    root, parent = infer_tree(mesh, parts, seed=cfg.seed, movable=asked)
    virtual = None
    if root in asked:
        # no body geometry (a cabinet exported without its carcass): the object hangs from a root link without
        # geometry, and every part, the largest too, moves against the others held at rest
        virtual = next(n for n in ("base", "world", "root_link", "_root") if n not in parts.names)
        warnings.warn(f"part '{root}': every part was asked to move, so none is left as the fixed body; they hang from "
                      f"a root link '{virtual}' without geometry and each is estimated against the others at rest "
                      "(contact with parts that move themselves is no hinge evidence)", ArticulationWarning,
                      stacklevel=2)
        parent = {c: (virtual if p == root else p) for c, p in parent.items()}
        parent[root] = virtual
        root = virtual
    children: dict[str, list[str]] = {}
    for c, p in parent.items():
        children.setdefault(p, []).append(c)

    def subtree(n):
        out = [n]
        for c in children.get(n, []):
            out += subtree(c)
        return out

    fl = _face_labels(mesh, parts)
    links = [] if virtual is None else [Link(virtual, None)]
    for i, nm in enumerate(parts.names):
        fm = fl == i
        if not fm.any():
            continue
        links.append(Link(nm, mesh.submesh(fm, name=nm)))  # keeps the part's uvs and look
    suffix = path.suffix.lower() if path else None
    up = _up_vector(cfg, suffix)
    rng = np.random.default_rng(cfg.seed)
    fd = _face_data(mesh)  # every part of the object samples the same faces
    joints = []
    todo = [n for n in parts.names if n in parent and (only is None or n in only)]
    callback = progress if callable(progress) else None
    def chain(n):  # n's ancestors
        out = []
        while n in parent and parent[n] not in out:
            n = parent[n]
            out.append(n)
        return out

    for k, name in enumerate(_progress(todo, desc="articulating parts", enable=None if progress is True else False)):
        report(callback, k / max(len(todo), 1), f"part {name} ({k + 1}/{len(todo)})")
        sub = subtree(name)
        ids = [parts.names.index(s) for s in sub]
        fmask = np.isin(fl, ids)
        # what can hold the joint: the rest of the object without the other parts being articulated (a sibling
        # door touching at the seam moves itself), its ancestors kept (a knob's door)
        others = [parts.names.index(o) for o in todo if o not in sub and o not in chain(name)]
        anchor = ~fmask & ~np.isin(fl, others) if others else None
        part_pts = _sample_faces(mesh, fmask, cfg.n_part, rng, fd)
        body_pts = _sample_faces(mesh, ~fmask, cfg.n_body, rng, fd)
        hint = parse_prompt(prompts.get(name))
        notes: list = []
        check_part_and_prompt(mesh, fl == parts.names.index(name), hint, name, parts.names, notes, source, fd)
        j = _articulate_points(part_pts, body_pts, hint, cfg, up, parent=parent[name], child=name, name=f"{name}_joint",
                               dense=_dense_inputs(mesh, fmask, cfg, rng, fd, own=fl == parts.names.index(name),
                                                   anchor=anchor),
                               notes=notes)
        joints.append(j)
    for name in parts.names:
        if name in parent and only is not None and name not in only:
            joints.append(Joint(f"{name}_fixed", "fixed", parent[name], name, np.zeros(3), [1, 0, 0]))
    art = Articulation(links, joints, name=mesh.name or "object", root_link=root)
    report(callback, 1.0, "articulated")
    return art
