"""Build the bundled procedural samples (made by this project; CC0).

    python samples/make_samples.py            # writes samples/arm.obj and samples/critter.obj

arm.obj:      one connected tube (a bent limb) with four OBJ groups: shoulder, upper_arm, forearm, hand.
critter.obj:  a quadruped of separate touching components (body, head, 4 legs, tail), the way
              game props are usually modelled: parts are disconnected sub-meshes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from exporters.obj import obj_text

HERE = Path(__file__).resolve().parent


def tube(radius_fn, length: float, rings: int, segments: int):
    """Closed tube along +x: vertices [V,3], faces [F,3] and each vertex's x."""
    xs = np.linspace(0.0, length, rings)
    th = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    r = radius_fn(xs)[:, None]
    v = np.stack([np.repeat(xs[:, None], segments, 1), r * np.cos(th), r * np.sin(th)], -1).reshape(-1, 3)
    f = []
    for i in range(rings - 1):
        for j in range(segments):
            a, b = i * segments + j, i * segments + (j + 1) % segments
            c, d = a + segments, b + segments
            f += [[a, c, b], [b, c, d]]
    n = len(v)
    v = np.vstack([v, [[0, 0, 0], [length, 0, 0]]])
    for j in range(segments):  # caps
        f.append([n, j, (j + 1) % segments])
        o = (rings - 1) * segments
        f.append([n + 1, o + (j + 1) % segments, o + j])
    return v, np.array(f), v[:, 0]


def write_obj(path: Path, groups):
    """groups: list of (name, vertices, faces) sharing one vertex list when faces index globally."""
    lines = ["# procedural sample made by articulate-sdk (CC0)"]
    verts = []
    for _, v, _ in groups:
        verts.append(v)
    allv = np.vstack(verts)
    allf = np.vstack([f + o for (_, _, f), o in zip(groups, np.cumsum([0] + [len(v) for _, v, _ in groups]))])
    gid = np.concatenate([np.full(len(f), i) for i, (_, _, f) in enumerate(groups)])
    lines += obj_text(allv, allf, face_groups=gid, group_names=[n for n, _, _ in groups]).rstrip("\n").split("\n")
    path.write_text("\n".join(lines) + "\n")


def make_arm(path: Path):
    v, f, x = tube(lambda x: 0.12 - 0.03 * x / 1.6 + 0.02 * np.exp(-((x - 1.2) / 0.08) ** 2), 1.6, 65, 24)
    # bend gently so the limb is not a straight cylinder
    v[:, 1] += 0.08 * np.sin(v[:, 0] * 1.7)
    names = ["shoulder", "upper_arm", "forearm", "hand"]
    cuts = np.array([0.25, 0.75, 1.3])
    cx = v[f].mean(1)[:, 0]
    lab = np.searchsorted(cuts, cx)
    lines = ["# procedural sample made by articulate-sdk (CC0): a limb with four parts"]
    lines += obj_text(v, f, face_groups=lab, group_names=names).rstrip("\n").split("\n")
    path.write_text("\n".join(lines) + "\n")


def make_critter(path: Path):
    import trimesh
    parts = []
    body = trimesh.creation.capsule(height=1.0, radius=0.3, count=[16, 16])
    body.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    body.apply_translation([0, 0.8, 0])
    parts.append(("body", body))
    head = trimesh.creation.icosphere(subdivisions=2, radius=0.25)
    head.apply_translation([0.85, 1.0, 0])
    parts.append(("head", head))
    for nm, (x, z) in {"leg_front_left": (0.4, 0.18), "leg_front_right": (0.4, -0.18),
                       "leg_back_left": (-0.4, 0.18), "leg_back_right": (-0.4, -0.18)}.items():
        leg = trimesh.creation.cylinder(radius=0.08, height=0.7, sections=12)
        leg.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
        leg.apply_translation([x, 0.4, z])
        parts.append((nm, leg))
    tail = trimesh.creation.cone(radius=0.07, height=0.6, sections=12)
    tail.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [0, 1, 0]))  # +z -> -x
    tail.apply_transform(trimesh.transformations.rotation_matrix(-0.5, [0, 0, 1]))  # tilt up
    tail.apply_translation([-0.7, 0.85, 0])
    parts.append(("tail", tail))
    write_obj(path, [(nm, np.asarray(m.vertices), np.asarray(m.faces)) for nm, m in parts])


if __name__ == "__main__":
    make_arm(HERE / "arm.obj")
    make_critter(HERE / "critter.obj")
    print("wrote", HERE / "arm.obj", HERE / "critter.obj")
