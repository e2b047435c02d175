"""Procedural animated sample for ``articulate rig-from-motion``: a 3-segment arm (a tube) bending at two hinges.

    python samples/make_motion_sample.py            # writes samples/arm_motion.npz (vertices [T,V,3], faces, fps)
    python samples/make_motion_sample.py --obj DIR  # also a folder of OBJ frames

Ground truth (also returned by ``make_arm_sequence``): segment 0 is static, joint 1 at x=1 is a hinge about +Z,
joint 2 at x=2 a hinge about +Y; vertices within ``blend`` of a joint are linearly blended between the two
segments (smooth skin), the rest follow one segment rigidly.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from exporters.obj import write_obj


def _rot(axis, angle):
    from scipy.spatial.transform import Rotation
    return Rotation.from_rotvec(np.asarray(axis, float) * angle).as_matrix()


def make_arm_sequence(n_frames: int = 40, rings: int = 30, sides: int = 12, radius: float = 0.15,
                      blend: float = 0.05, fps: float = 30.0):
    """-> dict(vertices [T,V,3], faces [F,3], fps, labels [V] segment, centres [2,3], axes [2,3], weights [V,3])."""
    xs = np.linspace(0.0, 3.0, rings)
    th = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    rest = np.stack([np.repeat(xs, sides), radius * np.tile(np.cos(th), rings), radius * np.tile(np.sin(th), rings)], 1)
    faces = []
    for i in range(rings - 1):
        for j in range(sides):
            a, b = i * sides + j, i * sides + (j + 1) % sides
            c, d = a + sides, b + sides
            faces += [[a, b, d], [a, d, c]]
    # caps
    rest = np.vstack([rest, [[0.0, 0, 0], [3.0, 0, 0]]])
    c0, c1 = len(rest) - 2, len(rest) - 1
    last = (rings - 1) * sides
    for j in range(sides):
        faces.append([c0, (j + 1) % sides, j])
        faces.append([c1, last + j, last + (j + 1) % sides])
    faces = np.array(faces)
    x = rest[:, 0]
    # weights over segments 0,1,2 (linear blend within +-blend of the joints)
    w = np.zeros((len(rest), 3))
    for k, xj in enumerate((1.0, 2.0)):
        s = np.clip((x - (xj - blend)) / (2 * blend), 0, 1) if blend > 0 else (x >= xj).astype(float)
        w[:, k + 1] = s
    w[:, 2] = w[:, 2]
    w[:, 1] = w[:, 1] - w[:, 2]
    w[:, 0] = 1 - w[:, 1] - w[:, 2]
    centres = np.array([[1.0, 0, 0], [2.0, 0, 0]])
    axes = np.array([[0, 0, 1.0], [0, 1.0, 0]])
    t = np.linspace(0, 1, n_frames)
    a1 = 0.9 * np.sin(2 * np.pi * t)
    a2 = 0.7 * np.sin(4 * np.pi * t + 0.5)
    frames = []
    for f in range(n_frames):
        m = np.tile(np.eye(4), (3, 1, 1))
        m1 = np.eye(4)
        m1[:3, :3] = _rot(axes[0], a1[f])
        m1[:3, 3] = centres[0] - m1[:3, :3] @ centres[0]
        m2l = np.eye(4)
        m2l[:3, :3] = _rot(axes[1], a2[f])
        m2l[:3, 3] = centres[1] - m2l[:3, :3] @ centres[1]
        m[1], m[2] = m1, m1 @ m2l
        p = np.einsum("bij,vj->vbi", m[:, :3, :3], rest) + m[None, :, :3, 3]
        frames.append((w[..., None] * p).sum(1))
    return {"vertices": np.stack(frames), "faces": faces, "fps": fps, "labels": w.argmax(1), "centres": centres,
            "axes": axes, "weights": w, "angles": np.stack([a1, a2], 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", default=str(Path(__file__).with_name("arm_motion.npz")))
    p.add_argument("--obj", default=None, help="also write a folder of OBJ frames here")
    a = p.parse_args(argv)
    d = make_arm_sequence()
    np.savez_compressed(a.output, vertices=d["vertices"].astype(np.float32), faces=d["faces"], fps=np.float64(d["fps"]),
                        name=np.str_("arm_motion"), labels=d["labels"])
    print(f"wrote {a.output}: {d['vertices'].shape[0]} frames, {d['vertices'].shape[1]} vertices")
    if a.obj:
        out = Path(a.obj)
        out.mkdir(parents=True, exist_ok=True)
        for i, v in enumerate(d["vertices"]):
            write_obj(v, d["faces"], out / f"frame_{i:03d}.obj")
        print(f"wrote {len(d['vertices'])} OBJ frames to {out}")


if __name__ == "__main__":
    main()
