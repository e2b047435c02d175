"""Procedurally generated articulated objects with known kinematics.

An object is a tree of rigid parts. Each part is built from boxes and cylinders (given in the
world frame of the rest pose) and hangs from its parent through a joint (fixed, revolute about an
axis through a pivot, or prismatic along an axis). Forward kinematics poses every part::

    from sdk.procedural import generate, CATEGORIES
    obj = generate("quadruped", seed=3)
    mesh = obj.mesh()                    # rest pose: vertices [V,3], faces [F,3], vertex_part [V], face_part [F]
    q = obj.animate(num_frames=8, seed=3)  # [T, P] joint values
    verts = obj.pose_vertices(q)         # [T, V, 3]

All arrays are numpy. Generators are deterministic in ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CATEGORIES = ("lamp", "quadruped", "robot_arm", "cabinet", "humanoid", "scissors")

_PALETTE = np.array([
    [0.85, 0.25, 0.25], [0.25, 0.55, 0.85], [0.30, 0.75, 0.35], [0.90, 0.70, 0.20], [0.60, 0.35, 0.75],
    [0.20, 0.75, 0.75], [0.85, 0.50, 0.20], [0.55, 0.55, 0.55], [0.80, 0.40, 0.65], [0.45, 0.30, 0.20],
    [0.70, 0.80, 0.30], [0.30, 0.30, 0.60]], dtype=np.float64)


@dataclass
class Primitive:
    """A box (``size`` = full extents x, y, z) or a cylinder (``size`` = (radius, height, -); axis ``axis``),
    centred at ``center`` in the rest-pose world frame."""

    kind: str
    size: tuple
    center: tuple
    axis: int = 1
    color: tuple = (0.7, 0.7, 0.7)


@dataclass
class Part:
    name: str
    parent: int
    joint: str = "fixed"                 # fixed | revolute | prismatic
    pivot: tuple = (0.0, 0.0, 0.0)       # joint origin in the rest pose (world frame)
    axis: tuple = (0.0, 0.0, 1.0)        # joint axis (world frame, rest pose)
    limits: tuple = (0.0, 0.0)           # radians (revolute) or length (prismatic)
    primitives: list = field(default_factory=list)


@dataclass
class PartedMesh:
    """A generated object's triangles with their ground-truth parts and colours (was a second ``Mesh`` class);
    :meth:`to_core` gives the SDK's ``sdk.core.Mesh`` + ``PartLabels``."""
    vertices: np.ndarray     # [V, 3] float64
    faces: np.ndarray        # [F, 3] int64
    vertex_part: np.ndarray  # [V] int64
    face_part: np.ndarray    # [F] int64
    face_colors: np.ndarray  # [F, 3] float64 in [0, 1]

    def to_core(self, names: list[str] | None = None):
        from ..core import Mesh, PartLabels
        return Mesh(self.vertices, self.faces, name="procedural"), PartLabels(self.vertex_part, names or [])


def box_mesh(size, center) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box. Returns vertices [8, 3], faces [12, 3] (outward, counter-clockwise)."""
    s = np.asarray(size, dtype=np.float64) / 2
    c = np.asarray(center, dtype=np.float64)
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64) * s + c
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], dtype=np.int64)
    return v, f


def cylinder_mesh(radius, height, center, axis: int = 1, segments: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Capped cylinder along world axis ``axis``. Returns vertices [2S+2, 3], faces [4S, 3]."""
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([radius * np.cos(t), radius * np.sin(t)], 1)
    lo = np.concatenate([ring, np.full((segments, 1), -height / 2)], 1)
    hi = np.concatenate([ring, np.full((segments, 1), height / 2)], 1)
    v = np.concatenate([lo, hi, [[0, 0, -height / 2], [0, 0, height / 2]]], 0)
    i = np.arange(segments)
    j = (i + 1) % segments
    side = np.concatenate([np.stack([i, j, segments + j], 1), np.stack([i, segments + j, segments + i], 1)])
    cap0 = np.stack([np.full(segments, 2 * segments), j, i], 1)
    cap1 = np.stack([np.full(segments, 2 * segments + 1), segments + i, segments + j], 1)
    f = np.concatenate([side, cap0, cap1]).astype(np.int64)
    # local z -> world axis
    perm = {0: [2, 0, 1], 1: [1, 2, 0], 2: [0, 1, 2]}[axis]
    v = v[:, perm] + np.asarray(center, dtype=np.float64)
    return v, f


def _rotation(axis, angle: float) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64)
    a = a / max(np.linalg.norm(a), 1e-12)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


@dataclass
class ArticulatedObject:
    name: str
    category: str
    parts: list

    @property
    def num_parts(self) -> int:
        return len(self.parts)

    def mesh(self) -> PartedMesh:
        """Rest-pose triangle mesh with a part id per vertex and face."""
        vs, fs, vp, fp, fc = [], [], [], [], []
        off = 0
        for pi, part in enumerate(self.parts):
            for pr in part.primitives:
                if pr.kind == "box":
                    v, f = box_mesh(pr.size, pr.center)
                elif pr.kind == "cylinder":
                    v, f = cylinder_mesh(pr.size[0], pr.size[1], pr.center, pr.axis)
                else:
                    raise ValueError(f"unknown primitive kind {pr.kind!r}")
                vs.append(v)
                fs.append(f + off)
                vp.append(np.full(len(v), pi))
                fp.append(np.full(len(f), pi))
                fc.append(np.tile(np.asarray(pr.color, dtype=np.float64), (len(f), 1)))
                off += len(v)
        return PartedMesh(np.concatenate(vs), np.concatenate(fs), np.concatenate(vp).astype(np.int64),
                    np.concatenate(fp).astype(np.int64), np.concatenate(fc))

    def part_transforms(self, q) -> np.ndarray:
        """World transforms of every part for joint values ``q`` [P] -> [P, 4, 4] (parents come first)."""
        q = np.asarray(q, dtype=np.float64)
        out = np.zeros((len(self.parts), 4, 4))
        for i, p in enumerate(self.parts):
            local = np.eye(4)
            if p.joint == "revolute":
                r = _rotation(p.axis, q[i])
                o = np.asarray(p.pivot, dtype=np.float64)
                local[:3, :3] = r
                local[:3, 3] = o - r @ o
            elif p.joint == "prismatic":
                a = np.asarray(p.axis, dtype=np.float64)
                local[:3, 3] = a / max(np.linalg.norm(a), 1e-12) * q[i]
            out[i] = local if p.parent < 0 else out[p.parent] @ local
        return out

    def pose_vertices(self, q, mesh: PartedMesh | None = None) -> np.ndarray:
        """Posed vertices. q: [P] or [T, P] -> [V, 3] or [T, V, 3]"""
        mesh = mesh or self.mesh()
        q = np.asarray(q, dtype=np.float64)
        single = q.ndim == 1
        qs = q[None] if single else q
        out = np.empty((len(qs), len(mesh.vertices), 3))
        for t, qt in enumerate(qs):
            tr = self.part_transforms(qt)[mesh.vertex_part]            # [V, 4, 4]
            out[t] = np.einsum("vij,vj->vi", tr[:, :3, :3], mesh.vertices) + tr[:, :3, 3]
        return out[0] if single else out

    def animate(self, num_frames: int, seed: int = 0, amplitude: float = 1.0) -> np.ndarray:
        """A smooth motion within joint limits: per joint a sinusoid with random phase. -> q [T, P]"""
        rng = np.random.default_rng(seed)
        t = np.linspace(0, 1, num_frames)
        q = np.zeros((num_frames, len(self.parts)))
        for i, p in enumerate(self.parts):
            if p.joint == "fixed":
                continue
            lo, hi = p.limits
            mid, half = (lo + hi) / 2, (hi - lo) / 2 * amplitude
            ph = rng.uniform(0, 2 * np.pi)
            fr = rng.uniform(0.5, 1.0)
            q[:, i] = mid + half * np.sin(2 * np.pi * fr * t + ph)
        return q


# ----------------------------------------------------------------------------------------------- generators

class _Colorer:
    """Primitive colours: per-primitive palette colours, or one colour for the whole object."""

    def __init__(self, rng, uniform_prob: float = 0.3):
        self.rng = rng
        self.uniform = rng.random() < uniform_prob
        self.base = _PALETTE[rng.integers(len(_PALETTE))] * rng.uniform(0.8, 1.1)

    def __call__(self):
        if self.uniform:
            return tuple(np.clip(self.base, 0, 1))
        c = _PALETTE[self.rng.integers(len(_PALETTE))] * self.rng.uniform(0.8, 1.15)
        return tuple(np.clip(c, 0, 1))


def _lamp(rng, col):
    bw, bh = rng.uniform(0.5, 0.8), rng.uniform(0.08, 0.15)
    l1, l2 = rng.uniform(0.5, 0.8), rng.uniform(0.4, 0.7)
    r = rng.uniform(0.035, 0.06)
    parts = [Part("base", -1, primitives=[Primitive("box", (bw, bh, bw * 0.8), (0, bh / 2, 0), color=col())])]
    y0 = bh
    parts.append(Part("arm_lower", 0, "revolute", (0, y0, 0), (0, 0, 1), (-0.6, 0.6),
                      [Primitive("cylinder", (r, l1), (0, y0 + l1 / 2, 0), 1, col()),
                       Primitive("cylinder", (r * 1.6, r * 3), (0, y0, 0), 2, col())]))
    y1 = y0 + l1
    parts.append(Part("arm_upper", 1, "revolute", (0, y1, 0), (0, 0, 1), (-0.9, 0.3),
                      [Primitive("cylinder", (r, l2), (l2 / 2, y1, 0), 0, col())]))
    hs = rng.uniform(0.15, 0.25)
    parts.append(Part("head", 2, "revolute", (l2, y1, 0), (0, 0, 1), (-0.7, 0.5),
                      [Primitive("cylinder", (hs * 0.6, hs), (l2, y1 - hs / 2, 0), 1, col()),
                       Primitive("box", (hs * 0.5, hs * 0.3, hs * 0.5), (l2, y1 + hs * 0.1, 0), color=col())]))
    return parts


def _quadruped(rng, col):
    L, W, H = rng.uniform(0.9, 1.4), rng.uniform(0.35, 0.55), rng.uniform(0.3, 0.45)
    leg = rng.uniform(0.45, 0.75)
    two_seg = rng.random() < 0.5
    y = leg + H / 2
    parts = [Part("torso", -1, primitives=[Primitive("box", (L, H, W), (0, y, 0), color=col())])]
    hs = rng.uniform(0.25, 0.38)
    neck = (L / 2, y + H * 0.3, 0)
    parts.append(Part("head", 0, "revolute", neck, (0, 0, 1), (-0.5, 0.5),
                      [Primitive("box", (hs * 1.2, hs, hs * 0.9), (L / 2 + hs * 0.5, y + H * 0.3 + hs * 0.4, 0), color=col()),
                       Primitive("box", (hs * 0.6, hs * 0.45, hs * 0.55), (L / 2 + hs * 1.3, y + H * 0.3 + hs * 0.25, 0), color=col()),
                       Primitive("box", (hs * 0.15, hs * 0.4, hs * 0.2), (L / 2 + hs * 0.3, y + H * 0.3 + hs * 1.05, hs * 0.3), color=col()),
                       Primitive("box", (hs * 0.15, hs * 0.4, hs * 0.2), (L / 2 + hs * 0.3, y + H * 0.3 + hs * 1.05, -hs * 0.3), color=col())]))
    lr = rng.uniform(0.05, 0.09)
    lc = col()
    for sx in (1, -1):
        for sz in (1, -1):
            hip = (sx * (L / 2 - lr * 1.5), leg, sz * (W / 2 - lr))
            name = f"leg_{'f' if sx > 0 else 'b'}{'l' if sz > 0 else 'r'}"
            if two_seg:
                up = leg * 0.5
                parts.append(Part(name + "_upper", 0, "revolute", hip, (0, 0, 1), (-0.5, 0.5),
                                  [Primitive("cylinder", (lr, up), (hip[0], leg - up / 2, hip[2]), 1, lc)]))
                knee = (hip[0], leg - up, hip[2])
                parts.append(Part(name + "_lower", len(parts) - 1, "revolute", knee, (0, 0, 1), (-0.7, 0.1),
                                  [Primitive("cylinder", (lr * 0.8, leg - up), (hip[0], (leg - up) / 2, hip[2]), 1, lc)]))
            else:
                parts.append(Part(name, 0, "revolute", hip, (0, 0, 1), (-0.6, 0.6),
                                  [Primitive("cylinder", (lr, leg), (hip[0], leg / 2, hip[2]), 1, lc)]))
    if rng.random() < 0.7:
        tl = rng.uniform(0.3, 0.6)
        base = (-L / 2, y + H * 0.25, 0)
        parts.append(Part("tail", 0, "revolute", base, (0, 1, 0), (-0.8, 0.8),
                          [Primitive("cylinder", (lr * 0.6, tl), (-L / 2 - tl / 2, base[1], 0), 0, col())]))
    return parts


def _robot_arm(rng, col):
    br, bh = rng.uniform(0.25, 0.4), rng.uniform(0.1, 0.2)
    l1, l2 = rng.uniform(0.5, 0.8), rng.uniform(0.4, 0.7)
    w = rng.uniform(0.08, 0.14)
    parts = [Part("base", -1, primitives=[Primitive("cylinder", (br, bh), (0, bh / 2, 0), 1, col())])]
    th = rng.uniform(0.12, 0.2)
    parts.append(Part("turntable", 0, "revolute", (0, bh, 0), (0, 1, 0), (-1.5, 1.5),
                      [Primitive("box", (br * 1.2, th, br * 1.0), (0, bh + th / 2, 0), color=col())]))
    y0 = bh + th
    parts.append(Part("link1", 1, "revolute", (0, y0, 0), (0, 0, 1), (-0.7, 0.7),
                      [Primitive("box", (w, l1, w), (0, y0 + l1 / 2, 0), color=col())]))
    y1 = y0 + l1
    parts.append(Part("link2", 2, "revolute", (0, y1, 0), (0, 0, 1), (-1.2, 0.2),
                      [Primitive("box", (l2, w * 0.8, w * 0.8), (l2 / 2, y1, 0), color=col()),
                       Primitive("cylinder", (w * 0.7, w * 1.4), (0, y1, 0), 2, col())]))
    x2 = l2
    pw = rng.uniform(0.15, 0.25)
    parts.append(Part("wrist", 3, "revolute", (x2, y1, 0), (1, 0, 0), (-1.5, 1.5),
                      [Primitive("box", (w * 0.6, pw, pw), (x2 + w * 0.3, y1, 0), color=col())]))
    fl = rng.uniform(0.12, 0.22)
    for s in (1, -1):
        parts.append(Part(f"finger_{'a' if s > 0 else 'b'}", 4, "prismatic", (x2, y1, 0), (0, s, 0), (-pw * 0.3, 0.0),
                          [Primitive("box", (fl, w * 0.3, w * 0.5), (x2 + w * 0.6 + fl / 2, y1 + s * pw * 0.35, 0), color=col())]))
    return parts


def _cabinet(rng, col):
    W, H, D = rng.uniform(0.7, 1.1), rng.uniform(0.8, 1.4), rng.uniform(0.4, 0.6)
    t = 0.04
    body_c = col()
    parts = [Part("body", -1, primitives=[
        Primitive("box", (W, H, t), (0, H / 2, -D / 2 + t / 2), color=body_c),
        Primitive("box", (t, H, D), (-W / 2 + t / 2, H / 2, 0), color=body_c),
        Primitive("box", (t, H, D), (W / 2 - t / 2, H / 2, 0), color=body_c),
        Primitive("box", (W, t, D), (0, t / 2, 0), color=body_c),
        Primitive("box", (W, t, D), (0, H - t / 2, 0), color=body_c)])]
    n_drawers = int(rng.integers(0, 3))
    dh = H * 0.22
    for i in range(n_drawers):
        yc = t + dh * (i + 0.5)
        parts.append(Part(f"drawer{i}", 0, "prismatic", (0, yc, D / 2), (0, 0, 1), (0.0, D * 0.6),
                          [Primitive("box", (W - 2 * t, dh * 0.9, D * 0.9), (0, yc, 0.02), color=col()),
                           Primitive("box", (W * 0.3, dh * 0.15, 0.05), (0, yc, D / 2 + 0.045), color=col())]))
    y_lo = t + dh * n_drawers
    door_h = H - t - y_lo
    two = rng.random() < 0.5
    if two:
        for s in (1, -1):
            hx = s * W / 2
            parts.append(Part(f"door_{'r' if s > 0 else 'l'}", 0, "revolute", (hx, 0, D / 2), (0, 1, 0),
                              (0.0, 1.4) if s < 0 else (-1.4, 0.0),
                              [Primitive("box", (W / 2, door_h, t), (hx - s * W / 4, y_lo + door_h / 2, D / 2 + t / 2), color=col())]))
    else:
        parts.append(Part("door", 0, "revolute", (-W / 2, 0, D / 2), (0, 1, 0), (0.0, 1.5),
                          [Primitive("box", (W, door_h, t), (0, y_lo + door_h / 2, D / 2 + t / 2), color=col()),
                           Primitive("box", (0.04, door_h * 0.3, 0.05), (W * 0.4, y_lo + door_h / 2, D / 2 + t + 0.02), color=col())]))
    return parts


def _humanoid(rng, col):
    tw, th, td = rng.uniform(0.35, 0.5), rng.uniform(0.5, 0.7), rng.uniform(0.2, 0.3)
    leg = rng.uniform(0.6, 0.9)
    arm = rng.uniform(0.45, 0.7)
    r = rng.uniform(0.05, 0.08)
    y = leg + th / 2
    parts = [Part("torso", -1, primitives=[Primitive("box", (tw, th, td), (0, y, 0), color=col())])]
    hs = rng.uniform(0.2, 0.3)
    parts.append(Part("head", 0, "revolute", (0, leg + th, 0), (0, 1, 0), (-0.8, 0.8),
                      [Primitive("box", (hs, hs * 1.1, hs), (0, leg + th + hs * 0.6, 0), color=col())]))
    ac, lc = col(), col()
    for s in (1, -1):
        sh = (s * (tw / 2 + r), leg + th - r, 0)
        parts.append(Part(f"arm_{'l' if s > 0 else 'r'}", 0, "revolute", sh, (0, 0, 1),
                          (-0.2, 1.2) if s > 0 else (-1.2, 0.2),
                          [Primitive("cylinder", (r, arm), (sh[0], sh[1] - arm / 2, 0), 1, ac)]))
        hip = (s * tw / 4, leg, 0)
        parts.append(Part(f"leg_{'l' if s > 0 else 'r'}", 0, "revolute", hip, (1, 0, 0), (-0.6, 0.6),
                          [Primitive("cylinder", (r * 1.2, leg), (hip[0], leg / 2, 0), 1, lc)]))
    return parts


def _scissors(rng, col):
    L = rng.uniform(0.9, 1.3)
    w = rng.uniform(0.06, 0.1)
    parts = []
    for i, s in enumerate((1, -1)):
        parts.append(Part(f"blade_{i}", -1 if i == 0 else 0, "fixed" if i == 0 else "revolute", (0, 0.3, 0), (0, 0, 1),
                          (0.0, 0.0) if i == 0 else (-0.6, 0.0),
                          [Primitive("box", (L, w, 0.03), (L * 0.15, 0.3, s * 0.02), color=col()),
                           Primitive("cylinder", (w * 1.5, 0.03), (-L * 0.35 - w, 0.3 - s * w * 1.2, s * 0.02), 2, col())]))
    return parts


_GENERATORS = {"lamp": _lamp, "quadruped": _quadruped, "robot_arm": _robot_arm, "cabinet": _cabinet,
               "humanoid": _humanoid, "scissors": _scissors}


def generate(category: str, seed: int = 0, uniform_color_prob: float = 0.3) -> ArticulatedObject:
    """One random articulated object of ``category`` (see ``CATEGORIES``)."""
    if category not in _GENERATORS:
        raise ValueError(f"unknown category {category!r}; choose one of {CATEGORIES}")
    rng = np.random.default_rng(seed)
    col = _Colorer(rng, uniform_color_prob)
    parts = _GENERATORS[category](rng, col)
    return ArticulatedObject(f"{category}_{seed}", category, parts)


def random_object(seed: int, categories=CATEGORIES, uniform_color_prob: float = 0.3) -> ArticulatedObject:
    rng = np.random.default_rng(seed + 7919)
    return generate(categories[int(rng.integers(len(categories)))], seed, uniform_color_prob)
