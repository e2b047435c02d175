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
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..core import Articulation, Joint, Link, Mesh, PartLabels
from ..errors import InvalidInputError
from ..geometry.sampling import sample_surface
from ..util.progress import ProgressFn
from .limits import sweep_limits
from .physics_prior import UP_VECTORS, PhysicsConfig
from .methods import AXIS_ESTIMATORS, PRIORS
from .prior import MotionPrior, get_prior
from .prompt import MotionHint, parse_prompt

log = logging.getLogger(__name__)


@dataclass
class ArticulateConfig:
    prior: str | MotionPrior = "physics"  # "physics" (weight-free) | "diffusion" (needs ATOP's model)
    method: str = "atop_search"  # "atop_search" (ATOP's OBB candidates) | "direct" (continuous optimization)
    up_axis: str | None = None  # "x" | "y" | "z" | None: auto (z for URDF/MJCF, y otherwise)
    n_part: int = 384  # surface samples on the moving part
    n_body: int = 3072  # surface samples on the rest of the object
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    seed: int = 0

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


def _dense(mesh: Mesh, fmask: np.ndarray, h: float, rng, cap: int = 150_000, region=None) -> np.ndarray:
    """Surface samples dense enough to voxelize at voxel size h (about 4 per surface voxel), from the faces
    that reach into ``region`` (lo, hi) when given."""
    if region is not None:
        tri = mesh.vertices[mesh.faces]
        inside = (tri.max(1) >= region[0]).all(1) & (tri.min(1) <= region[1]).all(1)
        fmask = fmask & inside
        if not fmask.any():
            return np.zeros((0, 3))
    tri = mesh.vertices[mesh.faces[fmask]]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    n = int(np.clip(4 * area / (h * h), 2000, cap))
    return sample_surface(mesh.vertices, mesh.faces[fmask], n, rng)


def _obb_points(mesh: Mesh, fmask: np.ndarray, rng, cap: int = 20000) -> np.ndarray:
    v = mesh.vertices[np.unique(mesh.faces[fmask])]
    return v if len(v) <= cap else v[rng.choice(len(v), cap, replace=False)]


def _articulate_points(part_pts, body_pts, hint: MotionHint, cfg: ArticulateConfig, up, *, parent: str, child: str,
                       name: str, dense: dict | None = None) -> Joint:
    prior = get_prior(cfg.prior, config=cfg.physics)
    extra = {"prompt": hint.text, "hint_type": hint.type, "hint_direction": hint.direction, "prior": prior.name,
             "method": cfg.method}
    dense = dense or {}
    # every prior proposes in the same collision scene, which also bounds the joint limits below
    scene = prior.scene(part_pts, body_pts, up, physics=cfg.physics, **dense)
    res = prior.propose(part_pts, body_pts, hint, up, scene=scene)
    types = (hint.type,) if hint.type in ("revolute", "prismatic") else ("revolute", "prismatic")
    est = AXIS_ESTIMATORS.get(cfg.method)(part_pts, res.states, body_pts, types=types, seed=cfg.seed,
                                          obb_points=dense.get("obb_points"))
    lim = sweep_limits(scene, est.type, est.origin, est.axis)
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
    extra.update({"chamfer": est.cost, "amounts": np.asarray(est.amounts).tolist(), "candidate": est.candidate})
    lower, upper = lim.lower, lim.upper
    if typ == "continuous":
        lower, upper = -np.pi, np.pi
    return Joint(name, typ, parent, child, est.origin, est.axis, float(lower), float(upper), conf, extra)


def _sample_faces(mesh: Mesh, fmask: np.ndarray, n: int, rng) -> np.ndarray:
    return sample_surface(mesh.vertices, mesh.faces[fmask], n, rng)


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
    if hint.fallback:
        log.warning("prompt %r has no motion words (open, pull out, lift, turn, press, ...): the joint type and "
                    "direction are decided by the physics prior alone", prompt)
    rng = np.random.default_rng(cfg.seed)
    part_pts = _sample_faces(mesh, fmask, cfg.n_part, rng)
    body_pts = _sample_faces(mesh, ~fmask, cfg.n_body, rng)
    dense = _dense_inputs(mesh, fmask, cfg, rng)
    pname = part if isinstance(part, str) else (parts.names[int(part)] if isinstance(part, (int, np.integer)) and parts else "part")
    return _articulate_points(part_pts, body_pts, hint, cfg, _up_vector(cfg, suffix), parent=parent, child=pname,
                              name=name or f"{pname}_joint", dense=dense)


def _dense_inputs(mesh: Mesh, fmask: np.ndarray, cfg: ArticulateConfig, rng) -> dict:
    from .physics_prior import part_region
    obb = _obb_points(mesh, fmask, rng)
    region = part_region(obb, mesh.vertices.min(0), mesh.vertices.max(0))
    h = float(np.max(region[1] - region[0])) / cfg.physics.voxel_res
    return {"body_dense": _dense(mesh, ~fmask, h, rng, region=region), "part_dense": _dense(mesh, fmask, h, rng),
            "obb_points": obb}


# ---------------------------------------------------------------------------------------------------------
def infer_tree(mesh: Mesh, parts: PartLabels, *, n: int = 256, seed: int = 0) -> tuple[str, dict]:
    """Root part and parent of every other part: the larger part (bbox volume) it touches most.

    Returns (root name, {part: parent}).
    """
    rng = np.random.default_rng(seed)
    fl = _face_labels(mesh, parts)
    P = parts.n_parts
    pts, lab, vol = [], [], np.zeros(P)
    for p in range(P):
        fm = fl == p
        if not fm.any():
            vol[p] = -1
            continue
        s = _sample_faces(mesh, fm, n, rng)
        pts.append(s)
        lab.append(np.full(len(s), p))
        vol[p] = float(np.prod(np.maximum(s.max(0) - s.min(0), 1e-6 * mesh.bbox_diagonal)))
    pts, lab = np.concatenate(pts), np.concatenate(lab)
    eps = 0.02 * mesh.bbox_diagonal
    tree = cKDTree(pts)
    pairs = tree.query_pairs(eps, output_type="ndarray")
    touch = np.zeros((P, P))
    if len(pairs):
        a, b = lab[pairs[:, 0]], lab[pairs[:, 1]]
        m = a != b
        np.add.at(touch, (a[m], b[m]), 1)
        np.add.at(touch, (b[m], a[m]), 1)
    root = int(np.argmax(vol))
    parent = {}
    for p in range(P):
        if p == root or vol[p] < 0:
            continue
        cand = [q for q in range(P) if q != p and vol[q] > vol[p] and touch[p, q] > 0]
        q = max(cand, key=lambda q: touch[p, q]) if cand else root
        parent[parts.names[p]] = parts.names[q]
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
    root, parent = infer_tree(mesh, parts, seed=cfg.seed)
    children: dict[str, list[str]] = {}
    for c, p in parent.items():
        children.setdefault(p, []).append(c)

    def subtree(n):
        out = [n]
        for c in children.get(n, []):
            out += subtree(c)
        return out

    fl = _face_labels(mesh, parts)
    links = []
    for i, nm in enumerate(parts.names):
        fm = fl == i
        if not fm.any():
            continue
        used = np.unique(mesh.faces[fm])
        remap = np.full(mesh.n_vertices, -1)
        remap[used] = np.arange(len(used))
        links.append(Link(nm, Mesh(mesh.vertices[used], remap[mesh.faces[fm]], name=nm)))
    suffix = path.suffix.lower() if path else None
    up = _up_vector(cfg, suffix)
    rng = np.random.default_rng(cfg.seed)
    joints = []
    todo = [n for n in parts.names if n in parent and (only is None or n in only)]
    callback = progress if callable(progress) else None
    for k, name in enumerate(_progress(todo, desc="articulating parts", enable=None if progress is True else False)):
        report(callback, k / max(len(todo), 1), f"part {name} ({k + 1}/{len(todo)})")
        sub = subtree(name)
        ids = [parts.names.index(s) for s in sub]
        fmask = np.isin(fl, ids)
        part_pts = _sample_faces(mesh, fmask, cfg.n_part, rng)
        body_pts = _sample_faces(mesh, ~fmask, cfg.n_body, rng)
        hint = parse_prompt(prompts.get(name))
        if hint.fallback and name in prompts:
            log.warning("prompt %r for part '%s' has no motion words: physics prior decides alone", prompts[name], name)
        j = _articulate_points(part_pts, body_pts, hint, cfg, up, parent=parent[name], child=name, name=f"{name}_joint",
                               dense=_dense_inputs(mesh, fmask, cfg, rng))
        joints.append(j)
    for name in parts.names:
        if name in parent and only is not None and name not in only:
            joints.append(Joint(f"{name}_fixed", "fixed", parent[name], name, np.zeros(3), [1, 0, 0]))
    art = Articulation(links, joints, name=mesh.name or "object", root_link=root)
    report(callback, 1.0, "articulated")
    return art
