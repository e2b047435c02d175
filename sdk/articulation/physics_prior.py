"""Weight-free motion prior: score joint hypotheses physically, then synthesize articulated states.

Hypotheses are ATOP's OBB candidates of the part (7 origins x 6 directions for revolute, 6 directions for
prismatic). Each is scored by

* **free travel** — a collision sweep of the part against the rest of the object: the body is voxelized
  (surface voxels, interior of closed shells filled) and the part's surface samples are swept along the
  hypothesis; travel ends at the first step where the fraction of part samples newly inside body voxels
  exceeds ``collision_frac``, or at a type-specific maximum (revolute 180 deg, prismatic the part's extent
  along the direction, capped at half the object diagonal);
* **attachment** — revolute axes must lie on the contact boundary between part and body: the fraction of
  points along the axis segment that lie within a contact distance of a part sample that touches the body;
  prismatic hypotheses are scored by how much of the contact is kept while sliding (a drawer's sides stay
  on their runners; a lid lifted off loses all contact);
* **prompt hints** — the direction word ("outward", "up", ...) compared with the motion of the part's centre,
  the part noun's usual axis orientation (door axes are vertical, lid axes horizontal), and a handle cue
  (a hinge sits on the edge away from what protrudes from the part's front, e.g. a handle).

The best hypotheses then produce articulated states (the whole object's points with the part moved by a
fraction of its free travel), which ``axis_search.atop_search`` consumes exactly as it would consume the
point clouds ATOP distils from its video model. With synthesized states the search re-identifies the
hypothesis among the same candidates and refines the motion amounts: the decision is the physics score's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..geometry.sampling import sample_surface  # noqa: F401 (moved to sdk.geometry; old name kept)
from .axis_search import FAST_TREE, _move_batch, obb_candidates
from .prompt import MotionHint

PRESS_VERBS = ("press", "push", "depress", "click", "push down")
KNOBS = ("knob", "dial", "lock", "turntable", "tray", "wheel", "caster", "scissors", "shears", "pliers", "tongs",
         "blade")  # turned about the normal of their contact disc (a scissor blade about its rivet)
EDGE_HINGED = ("door", "gate", "lid", "cover", "screen", "flap", "hatch", "laptop", "lever", "pedal", "drawer")
CONTACT_STRIP = 0.1  # ours: a contact patch this thin against its length is flat (its normal is the turning axis)
SWEEP_CHUNK = 6  # ours: collision-sweep steps per batch (speed only: a hypothesis stops at its first collision)
PROTRUSION_MIN = 0.005  # ours: a handle is at least this fraction of the part's surface samples
UP_VECTORS = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]), "z": np.array([0, 0, 1.0])}


@dataclass
class PhysicsConfig:
    voxel_res: int = 96  # voxels along the longest side of the object's bounding box
    collision_frac: float = 0.02  # fraction of part samples newly inside the body that counts as a collision
    n_part: int = 384
    n_body: int = 4096
    revolute_max: float = np.pi
    revolute_steps: int = 24  # 7.5 deg (the limit sweep has its own 5 deg steps)
    prismatic_steps: int = 30
    w_travel: float = 1.0
    w_attach: float = 1.0
    w_direction: float = 0.6
    w_noun: float = 0.5
    w_handle: float = 0.3
    w_guide: float = 1.0
    w_symmetry: float = 1.0  # ours: bonus for the axis a round part (dial, wheel) maps onto itself about
    w_float: float = 1.0  # ours: penalty on a revolute axis off the contact (attach < float_attach) when another
    float_attach: float = 0.15
    press_direction: float = 3.0  # ours: direction weight multiplier for "press"/"push" prompts
    w_cavity: float = 1.0  # ours: bonus for a slide out of a cavity (body on the four sides across D, free ahead)
    cavity_walls: float = 0.4  # ours: ray-hit fraction below which a side counts as open (no cavity wall there)
    cavity_depth: float = 0.5  # ours: a part this deep along D (vs its longest side) is a box, not a slab: full bonus
    w_slab_hinge: float = 0.3  # ours: no prompt noun: a thin slab facing sideways (a door) hinges on a vertical axis
    slab_ratio: float = 0.25  # ours: thickness / middle extent below this = a slab
    hinge_evidence: float = 0.1  # ours: spread of (attach + handle) over a lid's edges below this = no hinge seen  # axis does lie on it (>= 2x): a part must stay attached to swing, not float off
    n_states: int = 2
    state_fractions: tuple = (0.5, 1.0)  # articulated states at these fractions of the usable travel
    seed: int = 0


@dataclass
class Hypothesis:
    type: str
    origin: np.ndarray  # [3] world
    axis: np.ndarray  # [3] world unit; positive amounts = the free direction
    travel: float  # free travel along +axis (radians / length units)
    score: float
    terms: dict = field(default_factory=dict)
    candidate: tuple = (0, 0)


class Occupancy:
    """Voxel occupancy of the body inside a region: surface voxels plus the filled interior of closed shells.

    Points outside the region are ignored when building and read as free when querying."""

    def __init__(self, body_points: np.ndarray, lo: np.ndarray, hi: np.ndarray, res: int,
                 part_points: np.ndarray | None = None):
        from .morphology import dilate6, erode6, fill_holes6  # scipy's binary_* with the default cross, exactly
        self.lo = np.asarray(lo, float)
        self.h = float(np.max(np.asarray(hi) - self.lo)) / res
        self.shape = np.maximum(np.ceil((np.asarray(hi) - self.lo) / self.h).astype(int), 1)
        occ = np.zeros(self.shape, dtype=bool)
        if len(body_points):
            i, ok = self._index(body_points)
            i = i[ok]
            occ[i[:, 0], i[:, 1], i[:, 2]] = True
        # random surface samples leave pinholes that would let the fill leak: close them (dilate, fill, erode)
        self.occ = occ | erode6(fill_holes6(dilate6(occ)))
        self.filled = self.occ.copy()  # the body's voxels before the part's own are removed (overlap checks)
        if part_points is not None and len(part_points):
            # voxels the part itself occupies at rest are contact, not obstacle
            pocc = np.zeros(self.shape, dtype=bool)
            i, ok = self._index(part_points)
            i = i[ok]
            pocc[i[:, 0], i[:, 1], i[:, 2]] = True
            self.occ &= ~pocc
        self.core = erode6(self.occ)  # the body's solid at least a voxel deep (thin walls: empty)

    def in_core(self, p: np.ndarray) -> np.ndarray:
        flat, ok = self._flat(p)
        return self.core.ravel().take(flat) & ok

    def _index(self, p: np.ndarray):  # p [..., 3] -> clipped voxel indices [..., 3], inside the grid [...]
        f = np.floor((p - self.lo) / self.h).astype(np.int64)
        # 0 <= f < shape per axis in one unsigned compare (a negative index wraps to a huge one); the three axes
        # combined by hand (``.all(-1)`` over a length-3 axis is a slow reduction)
        o = f.view(np.uint64) < self.shape.astype(np.uint64)
        ok = o[..., 0] & o[..., 1] & o[..., 2]
        return np.clip(f, 0, self.shape - 1, out=f), ok

    def _flat(self, p: np.ndarray):  # p [..., 3] -> flat C-order voxel index [...], inside the grid [...]
        """``_index`` as one flat index: one ``take`` per lookup instead of a 3-array fancy index (same voxels)."""
        i, ok = self._index(p)
        ny, nz = int(self.shape[1]), int(self.shape[2])
        return (i[..., 0] * ny + i[..., 1]) * nz + i[..., 2], ok

    def lookup(self, p: np.ndarray):  # p [..., 3] -> (occupied [...], in the core [...]) from one index computation
        flat, ok = self._flat(p)
        return self.occ.ravel().take(flat) & ok, self.core.ravel().take(flat) & ok

    def __call__(self, p: np.ndarray) -> np.ndarray:  # p [..., 3] -> bool [...]
        flat, ok = self._flat(p)
        return self.occ.ravel().take(flat) & ok


def part_region(part_points: np.ndarray, obj_lo: np.ndarray, obj_hi: np.ndarray):
    """Where the part can go: its box grown by its diagonal (and never beyond the object's box grown by 60%)."""
    plo, phi = part_points.min(0), part_points.max(0)
    pd = float(np.linalg.norm(phi - plo))
    pad = 0.6 * float(np.max(obj_hi - obj_lo))
    return np.maximum(plo - pd, obj_lo - pad), np.minimum(phi + pd, obj_hi + pad)


class PhysicsScene:
    """Everything about (part, body) the hypothesis scoring needs, computed once."""

    def __init__(self, part_points: np.ndarray, body_points: np.ndarray, cfg: PhysicsConfig, up: np.ndarray | None,
                 *, body_dense: np.ndarray | None = None, part_dense: np.ndarray | None = None,
                 obb_points: np.ndarray | None = None, own_dense: np.ndarray | None = None,
                 anchor_dense: np.ndarray | None = None):
        """part_points/body_points: surface samples for contact tests and the sweep; body_dense/part_dense: dense
        samples (several per voxel) to voxelize; obb_points: points whose OBB gives the candidates (the part's
        mesh vertices are exact for boxes); own_dense: dense samples of the part alone when it moves with
        descendants (a caster's fork with its wheels): what is round about an axis is judged on the part itself;
        anchor_dense: dense samples of what can hold the part's joint (the body without the other parts that move
        themselves: double doors touch at their seam but hinge on the body), default the whole body. Contact
        (hinge attachment, runners, the contact disc) is measured against it; collisions against the whole body."""
        self.cfg = cfg
        self.part = part_points
        self.body = body_points
        allp = np.vstack([part_points, body_points]) if len(body_points) else part_points
        self.lo, self.hi = allp.min(0), allp.max(0)
        self.diag = max(float(np.linalg.norm(self.hi - self.lo)), 1e-12)
        rlo, rhi = part_region(part_points if obb_points is None else obb_points, self.lo, self.hi)
        self.occ = Occupancy(body_points if body_dense is None else body_dense, rlo, rhi, cfg.voxel_res,
                             part_points if part_dense is None else part_dense)
        self.contact_eps = 1.5 * self.occ.h
        bd = body_points if body_dense is None else body_dense
        pd = part_points if part_dense is None else part_dense
        self.body_tree = cKDTree(bd, **FAST_TREE) if len(bd) else None
        if anchor_dense is None:
            self.anchor_tree = self.body_tree
        else:
            self.anchor_tree = cKDTree(anchor_dense, **FAST_TREE) if len(anchor_dense) else None
        if self.anchor_tree is not None:
            d, _ = self.anchor_tree.query(pd, distance_upper_bound=self.contact_eps)
        else:
            d = np.full(len(pd), np.inf)
        self.part_dense = pd
        self.own_dense = own_dense
        self._part_tree = None  # built on first use (symmetry)
        self._enclosed = None  # computed on first use (enclosed)
        contact = pd[d < self.contact_eps]  # [C, 3] part samples touching the body
        if len(contact) > 3000:
            contact = contact[np.random.default_rng(cfg.seed).choice(len(contact), 3000, replace=False)]
        self.contact = contact
        self.contact_tree = cKDTree(self.contact, **FAST_TREE) if len(self.contact) else None
        self.rest_inside = self.occ(part_points)
        # part samples touching the body at rest (a door's bottom edge over the floor, a drawer's sides on their
        # runners) slide along it: they collide only when they go a voxel deep into the body
        if self.body_tree is not None:
            dr, _ = self.body_tree.query(part_points, distance_upper_bound=self.contact_eps)
            self.rest_contact = dr < self.contact_eps
        else:
            self.rest_contact = np.zeros(len(part_points), bool)
        self.up = up
        self.part_center = part_points.mean(0)
        self.body_center = body_points.mean(0) if len(body_points) else self.part_center
        out = self.part_center - self.body_center
        if up is not None:  # things are pulled out / swung open sideways: use the horizontal component
            hor = out - np.dot(out, up) * up
            if np.linalg.norm(hor) > 1e-3 * self.diag:
                out = hor
        n = np.linalg.norm(out)
        self.outward = out / n if n > 1e-9 * self.diag else None
        self.origins, self.dirs, self.obb = obb_candidates(part_points if obb_points is None else obb_points)
        self.part_normals = self._box_normals(part_points)
        free = self.free_side()
        if free is not None:
            self.outward = free

    def enclosed(self, cone_deg: float = 25.0) -> bool:
        """True when body samples lie beyond the part in all six OBB directions (within a cone): a part closed in
        by the body (inside it, or in a recess under a rim). An open cabinet's drawer (nothing in front) or a key
        (nothing above) is not enclosed."""
        if self._enclosed is None:
            self._enclosed = self._closed_in(cone_deg)
        return self._enclosed

    def _closed_in(self, cone_deg: float) -> bool:
        if not len(self.body):
            return False
        obb = self.obb
        rel = self.body - obb.center
        dist = np.linalg.norm(rel, axis=1) + 1e-12
        cos = np.cos(np.deg2rad(cone_deg))
        for k in range(3):
            for sgn in (1.0, -1.0):
                d = sgn * obb.axes[k]
                along = rel @ d
                hit = (along > obb.half_extents[k]) & (along / dist > cos)
                if hit.sum() < 3:
                    return False
        return True

    def _ray_hits(self, d: np.ndarray, chunk: int = 12) -> np.ndarray:
        """[P] whether the ray from each part sample along d meets a body voxel (marched a voxel per step until it
        leaves the grid). Marched in chunks of steps, dropping rays that hit or left the grid (a box: a ray that
        left never comes back); equals ``_ray_hits_reference``."""
        steps = int(np.ceil(np.max(self.occ.shape)))
        t = np.arange(1, steps + 1) * self.occ.h
        hit = np.zeros(len(self.part), bool)
        alive = np.arange(len(self.part))
        occ = self.occ.occ.ravel()
        for s0 in range(0, steps, chunk):
            q = self.part[alive][None] + t[s0:s0 + chunk, None, None] * d  # [s, A, 3]
            flat, ok = self.occ._flat(q)
            h = (occ.take(flat) & ok).any(0)
            hit[alive[h]] = True
            alive = alive[~h & ok[-1]]
            if not len(alive):
                break
        return hit

    def _ray_hits_reference(self, d: np.ndarray) -> np.ndarray:
        steps = int(np.ceil(np.max(self.occ.shape)))
        t = (np.arange(1, steps + 1) * self.occ.h)
        q = self.part[None, :, :] + t[:, None, None] * d  # [S, P, 3]
        return self.occ(q).any(0)

    def free_side(self) -> np.ndarray | None:
        """The OBB direction in which rays from the part leave the object hitting the least body: the side the
        part faces out of (a drawer's front, a key's top). None when no side is clearly freer."""
        hits = np.array([float(self._ray_hits(d).mean()) for d in self.dirs])
        self.ray_hits = hits  # [6] fraction of rays from the part hitting the body, per OBB direction
        best = np.flatnonzero(hits <= hits.min() + 0.05)
        if len(best) == 1:
            return self.dirs[best[0]].copy()
        # a tie (a button standing proud of a face, a key open above and below): face away from where the part
        # touches the body; without contact, the side its handle sticks out of (a drawer with no carcass around
        # it), else face up
        if not len(self.contact):
            side = self.protrusion_side()
            if side is not None and np.max(self.dirs[best] @ side) > 0.99:
                return side
        if len(self.contact):
            away = self.part_center - self.contact.mean(0)
            if np.linalg.norm(away) > 1e-3 * self.diag:
                return self.dirs[best[int(np.argmax(self.dirs[best] @ away))]].copy()
        if self.up is not None:
            ups = [b for b in best if np.dot(self.dirs[b], self.up) > np.cos(np.deg2rad(30))]
            if ups:
                return self.dirs[ups[0]].copy()
        return None

    def protrusion_side(self) -> np.ndarray | None:
        """The OBB direction out of which something small sticks beyond the part's main box (a drawer front's
        handle, a knob on a door's face), when one side has it and the opposite side has at most half as much;
        else None. Slices along each box axis whose surface density falls below 40% of the typical slice, at
        either end of the longest dense run, are the protrusion."""
        pts = self.part_dense
        best, best_mass = None, 0.0
        for k in range(3):
            c = (pts - self.obb.center) @ self.obb.axes[k]
            run = _dense_run(c)
            if run is None:
                continue
            lo, hi = run
            plus, minus = float(np.mean(c > hi)), float(np.mean(c < lo))
            for mass, other, sgn in ((plus, minus, 1.0), (minus, plus, -1.0)):
                if mass > max(best_mass, PROTRUSION_MIN) and other <= 0.5 * mass and mass < 0.2:
                    best, best_mass = sgn * self.obb.axes[k], mass
        return None if best is None else best.copy()

    def cavity(self, D: np.ndarray) -> np.ndarray:
        """Prismatic: how much the part is a box sliding out of a cavity along each D [B, 3] -> [B] in [0, 1]: D is
        the side the part faces out of (``outward``: its freest side), body on the four sides across D (rays from
        the part hit it), nothing ahead, and the part deep along D (a drawer; a door in its frame is a thin slab
        along its facing side and gets little; sliding in its own plane is not out of the cavity)."""
        hits = self.ray_hits
        out = np.zeros(len(D))
        ext = 2 * self.obb.half_extents
        if self.outward is None:
            return out
        for b in range(len(D)):
            if float(np.dot(D[b], self.outward)) < np.cos(np.deg2rad(30)):  # out through the side it faces out of
                continue
            c = self.dirs @ D[b]
            k = int(np.argmax(c))
            if c[k] < 0.99:  # not one of the OBB directions
                continue
            # walls: on each of the two box axes across D, the body on at least one side (the weaker axis counts)
            walls = min(max(float(hits[2 * a]), float(hits[2 * a + 1])) for a in range(3) if a != k // 2)
            walls = float(np.clip((walls - self.cfg.cavity_walls) / (1.0 - self.cfg.cavity_walls), 0.0, 1.0))
            depth = ext[k // 2] / max(float(ext.max()), 1e-12)
            out[b] = walls * (1.0 - float(hits[k])) * min(1.0, depth / self.cfg.cavity_depth)
        return out

    def slab_hinge(self, D: np.ndarray) -> np.ndarray:
        """Revolute without a prompt noun: |D . up| for a thin slab whose face looks sideways (a door, hinged on a
        vertical edge), else 0, [B]."""
        if self.up is None:
            return np.zeros(len(D))
        ext = np.sort(2 * self.obb.half_extents)  # thin, middle, long
        normal = self.obb.axes[int(np.argmin(self.obb.half_extents))]
        if ext[0] > self.cfg.slab_ratio * ext[1] or abs(float(np.dot(normal, self.up))) > 0.5:
            return np.zeros(len(D))
        return np.abs(D @ self.up)

    def _box_normals(self, pts: np.ndarray) -> np.ndarray:
        """Outward normal [P, 3] of the part's OBB face nearest each sample (exact for box-like parts)."""
        obb = self.obb
        u = (pts - obb.center) @ obb.axes.T / np.maximum(obb.half_extents, 1e-12)  # [P, 3]
        k = np.argmax(np.abs(u), 1)
        return np.sign(u[np.arange(len(pts)), k])[:, None] * obb.axes[k]

    def overlap_fraction(self) -> float:
        """Fraction of the part's dense surface samples inside the body's solid (filled shells) and farther than
        the contact distance from the body's surface: ~1 for a part hidden inside the body, between for parts
        that interpenetrate, ~0 for a part that only touches."""
        pd = self.part_dense
        i, ok = self.occ._index(pd)
        inside = self.occ.filled[i[:, 0], i[:, 1], i[:, 2]] & ok
        if self.body_tree is None or not inside.any():
            return 0.0
        d, _ = self.body_tree.query(pd[inside], distance_upper_bound=2 * self.contact_eps)
        return float(np.sum(d > 2 * self.contact_eps)) / len(pd)

    # -- collision sweep -------------------------------------------------------------------------------
    def sweep(self, typ: str, O: np.ndarray, D: np.ndarray, max_amount: np.ndarray | float, steps: int,
              chunk: int = SWEEP_CHUNK) -> np.ndarray:
        """Free travel [B] along +D for each hypothesis (first colliding step, or the maximum). The steps are swept a
        chunk at a time and a hypothesis stops at its first collision (most collide early): equals
        ``sweep_reference``, which sweeps every step of every hypothesis."""
        B = len(D)
        max_amount = np.broadcast_to(np.asarray(max_amount, dtype=np.float64), (B,))
        fr = np.linspace(0, 1, steps + 1)[1:]
        first = np.full(B, steps)
        alive = np.arange(B)
        far_all = self._far(typ, O, D)  # [B, P] or None
        for s0 in range(0, steps, chunk):
            ss = fr[s0:s0 + chunk]
            n = len(ss)
            A = (max_amount[alive, None] * ss[None]).reshape(-1)
            hit = self._collides(typ, np.repeat(O[alive], n, 0), np.repeat(D[alive], n, 0), A,
                                 None if far_all is None else np.repeat(far_all[alive], n, 0)).reshape(len(alive), n)
            anyh = hit.any(1)
            first[alive[anyh]] = s0 + hit[anyh].argmax(1)
            alive = alive[~anyh]
            if not len(alive):
                break
        return np.where(first > 0, fr[np.maximum(first - 1, 0)], 0.0) * max_amount

    def _far(self, typ: str, O: np.ndarray, D: np.ndarray) -> np.ndarray | None:
        if typ != "revolute":
            return None
        # samples within a contact distance of the axis sweep arcs below the voxel size: a hinge's own edge
        # grazing the body is not a collision (a hinge set a few mm off the edge still folds)
        rel = self.part[None] - O[:, None]
        r = np.linalg.norm(rel - (rel * D[:, None]).sum(-1, keepdims=True) * D[:, None], axis=-1)  # [B, P]
        return r > self.contact_eps

    def _collides(self, typ: str, O: np.ndarray, D: np.ndarray, A: np.ndarray, far: np.ndarray | None) -> np.ndarray:
        """[N] whether the part moved by each (O, D, A) [N] collides with the body (far [N, P]: revolute only)."""
        moved = _move_batch(self.part, typ, O, D, A)  # [N, P, 3]
        # a touching sample slides along the body (tangential motion, or away from it) but may not move into it
        # through its own face: that counts as soon as it enters a body voxel
        disp = moved - self.part[None]
        into = (disp * self.part_normals[None]).sum(-1) > 0.05 * self.occ.h  # along the outward normal: the body side
        rc = self.rest_contact[None] & ~into
        occ, core = self.occ.lookup(moved)  # one voxel index for both grids
        inside = (occ & ~self.rest_inside[None] & ~rc) | (core & rc)  # [N, P]
        if far is not None:
            frac = (inside & far).sum(1) / np.maximum(far.sum(1), 1)
        else:
            frac = inside.mean(1)
        return frac > self.cfg.collision_frac

    def sweep_reference(self, typ: str, O: np.ndarray, D: np.ndarray, max_amount: np.ndarray | float,
                        steps: int) -> np.ndarray:
        """Every step of every hypothesis at once (the test's reference for ``sweep``)."""
        B = len(D)
        max_amount = np.broadcast_to(np.asarray(max_amount, dtype=np.float64), (B,))
        fr = np.linspace(0, 1, steps + 1)[1:]
        A = (max_amount[:, None] * fr[None]).reshape(-1)
        far = self._far(typ, O, D)
        hit = self._collides(typ, np.repeat(O, steps, 0), np.repeat(D, steps, 0), A,
                             None if far is None else np.repeat(far, steps, 0)).reshape(B, steps)
        first = np.where(hit.any(1), hit.argmax(1), steps)  # index of first colliding step
        return np.where(first > 0, fr[np.maximum(first - 1, 0)], 0.0) * max_amount

    def prismatic_max(self, D: np.ndarray) -> np.ndarray:
        ext = np.abs((self.part - self.part_center) @ D.T)  # [P, B]
        return np.minimum(2 * ext.max(0) * 1.05, 0.5 * self.diag)

    # -- scores -----------------------------------------------------------------------------------------
    def attachment(self, O: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Fraction of the axis segment (within the part's extent) lying on part-body contact, [B]."""
        if self.contact_tree is None:
            return np.zeros(len(D))
        out = np.zeros(len(D))
        ext = 2 * float(self.obb.half_extents.max()) + 1e-12
        for b in range(len(D)):
            proj = (self.part - O[b]) @ D[b]
            seg = O[b] + np.outer(np.linspace(proj.min(), proj.max(), 15), D[b])
            d, _ = self.contact_tree.query(seg)
            # a hinge runs along the part: short axis segments (a lid spun about its thickness) count less
            out[b] = np.mean(d < 2.5 * self.occ.h) * min(1.0, (proj.max() - proj.min()) / (0.5 * ext))
        return out

    def axis_contact_distance(self, O: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Distance from each axis line to the nearest part-body contact point, [B] (inf without contact)."""
        if not len(self.contact):
            return np.full(len(D), np.inf)
        rel = self.contact[None] - O[:, None]  # [B, C, 3]
        perp = rel - (rel * D[:, None]).sum(-1, keepdims=True) * D[:, None]
        return np.linalg.norm(perp, axis=-1).min(1)

    def guidance(self, D: np.ndarray, travel: np.ndarray) -> np.ndarray:
        """Prismatic: fraction of the part's body contacts kept after sliding 15% of the travel, [B]."""
        if self.anchor_tree is None or len(self.contact) == 0:
            return np.zeros(len(D))
        out = np.zeros(len(D))
        for b in range(len(D)):
            amt = max(0.15 * travel[b], 2 * self.occ.h)
            # only "closer than contact_eps" counts: the bound prunes the search and leaves the answer as it is
            d, _ = self.anchor_tree.query(self.contact + amt * D[b], distance_upper_bound=self.contact_eps)
            out[b] = np.mean(d < self.contact_eps)
        return out

    def direction_score(self, typ: str, O: np.ndarray, D: np.ndarray, direction: str | None) -> np.ndarray:
        """Agreement of the part centre's motion with the hinted direction, in [-1, 1], [B]."""
        if direction is None:
            return np.zeros(len(D))
        amt = 0.2 if typ == "revolute" else 0.05 * self.diag
        moved = _move_batch(self.part_center[None], typ, O, D, np.full(len(D), amt))[:, 0]
        disp = moved - self.part_center
        disp = disp / np.maximum(np.linalg.norm(disp, axis=1, keepdims=True), 1e-12)
        if direction in ("up", "down"):
            if self.up is None:
                return np.zeros(len(D))
            ref = self.up if direction == "up" else -self.up
        else:
            if self.outward is None:
                return np.zeros(len(D))
            ref = self.outward if direction == "outward" else -self.outward
        return disp @ ref

    def contact_normal(self) -> np.ndarray | None:
        """Normal of the part-body contact patch when it is planar (a knob's disc on a door), else None."""
        c = self.contact
        if len(c) < 12:
            return None
        _, sv, vt = np.linalg.svd(c - c.mean(0), full_matrices=False)
        # a disc (its thinnest spread well below the middle one), or a strip flat against its length (two stacked
        # blades of closed scissors touch along their whole length: thin across it, a tenth of it at most)
        if sv[2] > 0.35 * sv[1] and sv[2] > CONTACT_STRIP * sv[0]:
            return None
        return vt[2]

    def symmetry(self, O: np.ndarray, D: np.ndarray) -> np.ndarray:
        """1 where turning the part about the axis by 20 and 45 deg maps it onto itself (a dial, a wheel, a round
        knob: the axis it spins about), else 0, [B]."""
        own = self.own_dense is not None and len(self.own_dense) > 0
        if self._part_tree is None:
            self._part_tree = cKDTree(self.own_dense if own else self.part_dense, **FAST_TREE)
        src = self.own_dense if own else self.part
        pts = src[:: max(1, len(src) // 128)]
        # informative only where the 45 deg turn moves the part's farthest points well beyond the match distance
        # (2 sin 22.5 deg = 0.77 of their radius): a slender blade turned about its own length stays within a voxel
        # of itself at any angle without being round
        rel = pts[None] - O[:, None]
        r = np.linalg.norm(rel - (rel * D[:, None]).sum(-1, keepdims=True) * D[:, None], axis=-1).max(1)  # [B]
        out = 0.77 * r > 2 * self.contact_eps
        for ang in (np.deg2rad(20), np.deg2rad(45)):
            mv = _move_batch(pts, "revolute", O, D, np.full(len(D), ang))
            d, _ = self._part_tree.query(mv.reshape(-1, 3), distance_upper_bound=self.contact_eps)  # only < eps counts
            out &= (d.reshape(len(D), -1) < self.contact_eps).mean(1) > 0.8  # ours: 80% (a dial's pointer)
        return out.astype(float)

    def noun_score(self, typ: str, D: np.ndarray, noun: str | None, round_axis: np.ndarray | None = None) -> np.ndarray:
        if typ == "revolute" and noun in KNOBS:
            # turned about the axis it is round about (a wheel about its axle: ``round_axis``, from ``symmetry``),
            # else the axis sticking out of the body: the contact disc's normal, else the free side; weighs double
            # because a knob's short axis segment earns it little attachment
            ref = round_axis if round_axis is not None else self.contact_normal()
            ref = self.outward if ref is None else ref
            return 2.0 * np.abs(D @ ref) if ref is not None else np.zeros(len(D))
        if typ != "revolute" or self.up is None or noun is None:
            return np.zeros(len(D))
        c = np.abs(D @ self.up)
        if noun in ("door", "gate", "faucet", "tap"):
            return c  # vertical axes
        if noun in ("lid", "cover", "screen", "flap", "hatch", "laptop", "lever", "pedal"):
            return 1 - c  # horizontal axes
        return np.zeros(len(D))

    def handle_score(self, O: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Revolute: normalized distance of the axis from the part's protrusion (handle) centroid, [B]."""
        obb = self.obb
        thin = obb.axes[2]
        pts = self.part_dense
        rel = (pts - obb.center) @ thin
        cands = [self._edge_protrusion(pts)]
        for sign in (1.0, -1.0):  # what sticks out beyond either big face (a handle on a door's front or back)
            s = sign * rel
            cands.append(pts[s >= s.max() - 0.35 * (s.max() - s.min())])
        mid = 2 * obb.half_extents[1] + 1e-12  # the part's width (a door's, not its height)
        best = None
        for prot in cands:
            if len(prot) < 3:
                continue
            pc = prot.mean(0)
            # only informative when the protrusion is off-centre
            off = np.linalg.norm((pc - obb.center) - np.dot(pc - obb.center, thin) * thin) / mid
            if best is None or off > best[1]:
                best = (pc, off)
        if best is None:
            return np.zeros(len(D))
        pc, off = best
        # distance of the axis from the protrusion, in units of the part's extent across the axis
        across = 2 * np.sqrt(np.maximum(((obb.half_extents[None] * obb.axes[None]) ** 2).sum(-1)
                                        - ((obb.half_extents[None, :, None] * obb.axes[None]) @ D[:, :, None])[..., 0] ** 2,
                                        0)).max(1) + 1e-12  # [B]
        v = pc[None] - O
        dist = np.linalg.norm(v - (v * D).sum(1, keepdims=True) * D, axis=1)
        return np.clip(dist / across, 0, 1) * min(1.0, off * 4)

    def _edge_protrusion(self, pts: np.ndarray) -> np.ndarray:
        """Samples beyond the part's main slab along its two long axes (a lid's front lip or tab, a handle
        sticking out sideways): slices whose surface density drops below 40% of the typical slice."""
        obb = self.obb
        out = np.zeros(len(pts), bool)
        for k in (0, 1):
            c = (pts - obb.center) @ obb.axes[k]
            run = _dense_run(c)
            if run is None:
                continue
            lo, hi = run
            out |= (c < lo) | (c > hi)
        return pts[out] if out.mean() < 0.2 else pts[:0]


def _dense_run(c: np.ndarray, bins: int = 32) -> tuple[float, float] | None:
    """The slab of coordinates c [N]: the (lo, hi) ends of the longest run of histogram slices whose density is at
    least 40% of the typical (median non-empty) slice; None when c is empty."""
    hist, edges = np.histogram(c, bins=bins)
    nz = hist[hist > 0]
    if not len(nz):
        return None
    ok = np.concatenate([[0], (hist >= 0.4 * np.median(nz)).astype(int), [0]])
    starts, ends = np.flatnonzero(np.diff(ok) == 1), np.flatnonzero(np.diff(ok) == -1)
    r = int(np.argmax(ends - starts))
    return edges[starts[r]], edges[ends[r]]


def score_hypotheses(scene: PhysicsScene, hint: MotionHint) -> list[Hypothesis]:
    """Score every OBB candidate of every allowed type; best first."""
    cfg = scene.cfg
    types = [hint.type] if hint.type in ("revolute", "prismatic") else ["revolute", "prismatic"]
    hyps: list[Hypothesis] = []
    for typ in types:
        if typ == "revolute":
            pairs = [(oi, di) for oi in range(7) for di in range(6)]
        else:
            pairs = [(0, di) for di in range(6)]
        O = np.array([scene.origins[o] for o, _ in pairs])
        D = np.array([scene.dirs[d] for _, d in pairs])
        if typ == "revolute":
            mx = np.full(len(D), cfg.revolute_max)
            travel = scene.sweep(typ, O, D, mx, cfg.revolute_steps)
            t_norm = np.clip(travel / (np.pi / 2), 0, 1)
            attach = scene.attachment(O, D)
            guide = np.zeros(len(D))
            handle = scene.handle_score(O, D)
        else:
            mx = scene.prismatic_max(D)
            travel = scene.sweep(typ, O, D, mx, cfg.prismatic_steps)
            press = hint.direction in ("inward", "down") and hint.verb in PRESS_VERBS
            # a press goes a short way into the body (a button's stroke): a tenth of the part's extent is full travel
            t_norm = np.clip(travel / np.maximum(mx * (0.1 if press else 1.0), 1e-12), 0, 1)
            attach = np.zeros(len(D))
            # a press goes into the body and loses its contacts by design: the runner cue is for slides
            guide = scene.guidance(D, travel) if hint.direction not in ("inward", "down") else np.zeros(len(D))
            handle = np.zeros(len(D))
        if typ == "prismatic" and hint.direction not in ("inward", "down"):
            cavity = cfg.w_cavity * scene.cavity(D)
        else:
            cavity = np.zeros(len(D))
        if typ == "revolute" and hint.part_word is None:
            slab = cfg.w_slab_hinge * scene.slab_hinge(D)
        else:
            slab = np.zeros(len(D))
        if typ == "revolute" and hint.part_word not in EDGE_HINGED:
            sym = cfg.w_symmetry * scene.symmetry(O, D)  # a round part spins about its symmetry axis
        else:
            sym = np.zeros(len(D))
        if typ == "revolute" and attach.max() >= 2 * cfg.float_attach:
            # off the contact line and not through the contact patch either (a faucet or knob turns about an
            # axis through its small contact disc): the part would swing free of what holds it; a part spinning
            # about the axis it is round about stays where it is (a wheel on its axle)
            floating = cfg.w_float * ((attach < cfg.float_attach) & (sym <= 0)
                                      & (scene.axis_contact_distance(O, D) > 2.5 * scene.occ.h))
        else:
            floating = np.zeros(len(D))
        dirs = scene.direction_score(typ, O, D, hint.direction)
        if typ == "prismatic" and hint.verb in PRESS_VERBS:
            dirs = dirs * cfg.press_direction  # "press" names the direction outright; sideways slides are implausible
        round_axis = None
        if sym.any():  # round about one direction only (a wheel, a dial; a ball is round about every one)
            ds = D[sym > 0]
            if np.all(np.abs(ds @ ds[0]) > np.cos(np.deg2rad(10))):
                round_axis = ds[0]
        noun = scene.noun_score(typ, D, hint.part_word, round_axis)
        score = (cfg.w_travel * t_norm + cfg.w_attach * attach + cfg.w_guide * guide + cfg.w_direction * dirs
                 + cfg.w_noun * noun + cfg.w_handle * handle + sym - floating + cavity + slab)
        score = np.where(travel > 0, score, score - 10.0)  # blocked at once: implausible
        for b, (oi, di) in enumerate(pairs):
            hyps.append(Hypothesis(typ, O[b].copy(), D[b].copy(), float(travel[b]), float(score[b]),
                                   {"travel": float(t_norm[b]), "attach": float(attach[b]), "guide": float(guide[b]),
                                    "direction": float(dirs[b]), "noun": float(noun[b]), "handle": float(handle[b]),
                                    "symmetry": float(sym[b]), "cavity": float(cavity[b]), "slab": float(slab[b])},
                                   (oi, di)))
    _lift_cue(hyps, scene, hint, cfg)
    hyps.sort(key=lambda h: -h.score)
    return hyps


LIFTED = ("lid", "cover", "cap")


def _lift_cue(hyps: list, scene: "PhysicsScene", hint: MotionHint, cfg: PhysicsConfig) -> None:
    """"Lift the lid" is a hinged lid or a lid lifted off (a pot's, a coffee machine's). A hinged lid shows which
    edge is the hinge (contact along one edge, a handle or lip opposite); a lid lifted off shows none: its edges
    tie. With a lifting verb and no hinge evidence, the straight lift wins (in place)."""
    if hint.verb not in ("lift", "raise") or hint.part_word not in LIFTED or scene.up is None:
        return
    rev = [h for h in hyps if h.type == "revolute" and h.travel > 0]
    pri = [h for h in hyps if h.type == "prismatic" and h.travel > 0 and float(np.dot(h.axis, scene.up)) > 0.9]
    if not rev or not pri:
        return
    # the four best distinct hinge lines (a lid has four edges)
    lines = []
    for h in sorted(rev, key=lambda h: -h.score):
        if all(np.linalg.norm(h.origin - g.origin) > 1e-6 * scene.diag or abs(float(np.dot(h.axis, g.axis))) < 0.99
               for g in lines):
            lines.append(h)
        if len(lines) == 4:
            break
    if len(lines) < 4 or lines[0].terms["attach"] <= 0:
        return
    edge = [cfg.w_attach * h.terms["attach"] + cfg.w_handle * h.terms["handle"] for h in lines]
    # a lid closed in by the body on every side (sunk in a recess under a rim) has no free edge to swing on either
    if max(edge) - min(edge) < cfg.hinge_evidence or scene.enclosed():
        best_rev = max(h.score for h in rev)
        up = max(pri, key=lambda h: h.score)
        up.terms["lift_cue"] = float(best_rev - up.score + 0.1)
        up.score = best_rev + 0.1


def synthesize_states(part_points: np.ndarray, body_points: np.ndarray, hyp: Hypothesis,
                      fractions=(0.5, 1.0), typical: float | None = None) -> list[np.ndarray]:
    """Articulated object clouds [K_s, 3]: body at rest + part moved by fractions of the usable travel."""
    usable = hyp.travel
    if hyp.type == "revolute":
        usable = min(usable, typical or np.pi / 2)
    elif typical:
        usable = min(usable, typical)
    states = []
    for f in fractions:
        amt = max(f * usable, 1e-6)
        mv = _move_batch(part_points, hyp.type, hyp.origin[None], hyp.axis[None], np.array([amt]))[0]
        states.append(np.vstack([body_points, mv]))
    return states
