"""Procedural plain character meshes (one watertight surface, no parts, no skin) with their true joints.

The body is a smooth union of capsules (an implicit surface) polygonized by marching cubes, so the
result is what an artist's sculpt looks like to a rigger: one closed mesh without groups. The joint
positions that built it are returned too, which gives tests and benchmarks a ground truth.

    from sdk.procedural.character import biped, quadruped
    v, f, joints = biped(resolution=64)          # Y-up, +Z forward, metres, A-pose
    v, f, joints = quadruped(resolution=64)

Made by this project (CC0); numpy + scikit-image only.
"""
from __future__ import annotations

import numpy as np


def _capsule_sdf(p: np.ndarray, a, b, ra: float, rb: float) -> np.ndarray:
    """Signed distance of points p [N, 3] to a capsule (cone-ish) from a to b with radii ra -> rb."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(ab @ ab, 1e-12), 0.0, 1.0)
    c = a + t[:, None] * ab
    return np.linalg.norm(p - c, axis=1) - (ra + (rb - ra) * t)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1 - h)


def _polygonize(capsules, resolution: int, blend: float):
    from skimage.measure import marching_cubes
    lo = np.min([np.minimum(a, b) - max(ra, rb) for a, b, ra, rb in capsules], 0) - 0.05
    hi = np.max([np.maximum(a, b) + max(ra, rb) for a, b, ra, rb in capsules], 0) + 0.05
    step = float((hi - lo).max()) / resolution
    axes = [np.arange(lo[k], hi[k] + step, step) for k in range(3)]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    d = np.full(len(g), np.inf)
    for a, b, ra, rb in capsules:
        d = _smin(d, _capsule_sdf(g, a, b, ra, rb), blend) if np.isfinite(d).any() else _capsule_sdf(g, a, b, ra, rb)
    vol = d.reshape(len(axes[0]), len(axes[1]), len(axes[2]))
    v, f, _, _ = marching_cubes(vol, 0.0, spacing=(step, step, step))
    v = v + lo
    return v.astype(np.float64), f[:, ::-1].astype(np.int64).copy()  # outward normals


def biped_joints(height: float = 1.8, arm_angle_deg: float = 35.0) -> dict:
    """UE5-mannequin-like joint positions (Y-up, +Z forward, +X = character's left)."""
    s = height / 1.8
    a = np.deg2rad(arm_angle_deg)  # arm angle below horizontal (0 = T-pose)
    j = {
        "root": [0, 0, 0], "pelvis": [0, 0.98, 0], "spine_01": [0, 1.08, 0], "spine_02": [0, 1.20, 0.0],
        "spine_03": [0, 1.33, 0.0], "neck_01": [0, 1.50, 0.0], "head": [0, 1.58, 0.01], "head_end": [0, 1.78, 0.02],
        "thigh_l": [0.10, 0.93, 0], "calf_l": [0.11, 0.52, 0.01], "foot_l": [0.12, 0.09, -0.02],
        "ball_l": [0.12, 0.03, 0.11], "toe_l": [0.12, 0.03, 0.17],
    }
    sh = np.array([0.19, 1.43, 0.0])
    j["clavicle_l"] = [0.04, 1.43, 0.0]
    j["upperarm_l"] = sh.tolist()
    d = np.array([np.cos(a), -np.sin(a), 0.0])
    j["lowerarm_l"] = (sh + 0.29 * d).tolist()
    j["hand_l"] = (sh + 0.55 * d).tolist()
    j["hand_end_l"] = (sh + 0.72 * d).tolist()
    for k in list(j):
        if k.endswith("_l"):
            p = list(j[k])
            j[k[:-2] + "_r"] = [-p[0], p[1], p[2]]
    return {k: np.asarray(v, float) * s for k, v in j.items()}


def biped(resolution: int = 64, height: float = 1.8, arm_angle_deg: float = 35.0, blend: float = 0.03):
    """(vertices [V, 3], faces [F, 3], joints {name: [3]}) of a plain humanoid. ~resolution^2 faces."""
    J = biped_joints(height, arm_angle_deg)
    s = height / 1.8
    caps = [
        (J["pelvis"] + [0, -0.02 * s, 0], J["spine_02"], 0.15 * s, 0.14 * s),
        (J["spine_02"], J["spine_03"] + [0, 0.04 * s, 0], 0.14 * s, 0.16 * s),
        (J["neck_01"] - [0, 0.05 * s, 0], J["head"], 0.055 * s, 0.05 * s),
        (J["head"] + [0, 0.07 * s, 0.01 * s], J["head"] + [0, 0.12 * s, 0.015 * s], 0.10 * s, 0.095 * s),
    ]
    for side in ("l", "r"):
        caps += [
            (J[f"clavicle_{side}"], J[f"upperarm_{side}"], 0.07 * s, 0.065 * s),
            (J[f"upperarm_{side}"], J[f"lowerarm_{side}"], 0.055 * s, 0.045 * s),
            (J[f"lowerarm_{side}"], J[f"hand_{side}"], 0.045 * s, 0.035 * s),
            (J[f"hand_{side}"], J[f"hand_end_{side}"], 0.04 * s, 0.03 * s),
            (J[f"thigh_{side}"], J[f"calf_{side}"], 0.085 * s, 0.06 * s),
            (J[f"calf_{side}"], J[f"foot_{side}"], 0.06 * s, 0.045 * s),
            (J[f"foot_{side}"] + [0, -0.03 * s, -0.04 * s], J[f"toe_{side}"], 0.045 * s, 0.035 * s),
        ]
    v, f = _polygonize(caps, resolution, blend * s)
    return v, f, J


def quadruped_joints(length: float = 1.2) -> dict:
    """Dog-like joint positions (Y-up, +Z forward, +X left)."""
    s = length / 1.2
    j = {"root": [0, 0, 0], "pelvis": [0, 0.62, -0.38], "spine_01": [0, 0.63, -0.15], "spine_02": [0, 0.64, 0.08],
         "spine_03": [0, 0.65, 0.30], "neck_01": [0, 0.72, 0.42], "head": [0, 0.88, 0.55], "head_end": [0, 0.84, 0.80],
         "tail_01": [0, 0.64, -0.50], "tail_02": [0, 0.70, -0.68], "tail_03": [0, 0.76, -0.84]}
    for side, x in (("l", 0.11), ("r", -0.11)):
        j[f"thigh_{side}"] = [x, 0.58, -0.36]
        j[f"calf_{side}"] = [x, 0.33, -0.42]
        j[f"foot_{side}"] = [x, 0.06, -0.38]
        j[f"toe_{side}"] = [x, 0.02, -0.30]
        j[f"upperarm_{side}"] = [x, 0.58, 0.30]
        j[f"lowerarm_{side}"] = [x, 0.32, 0.32]
        j[f"hand_{side}"] = [x, 0.06, 0.33]
        j[f"finger_{side}"] = [x, 0.02, 0.41]
    return {k: np.asarray(v, float) * s for k, v in j.items()}


def quadruped(resolution: int = 64, length: float = 1.2, blend: float = 0.03):
    """(vertices, faces, joints) of a plain four-legged animal with a tail."""
    J = quadruped_joints(length)
    s = length / 1.2
    caps = [(J["pelvis"], J["spine_03"], 0.15 * s, 0.16 * s), (J["spine_03"], J["head"], 0.08 * s, 0.07 * s),
            (J["head"], J["head_end"], 0.10 * s, 0.05 * s), (J["tail_01"], J["tail_03"], 0.04 * s, 0.02 * s)]
    for side in ("l", "r"):
        caps += [(J[f"thigh_{side}"], J[f"calf_{side}"], 0.07 * s, 0.05 * s),
                 (J[f"calf_{side}"], J[f"foot_{side}"], 0.045 * s, 0.035 * s),
                 (J[f"foot_{side}"], J[f"toe_{side}"], 0.04 * s, 0.035 * s),
                 (J[f"upperarm_{side}"], J[f"lowerarm_{side}"], 0.065 * s, 0.045 * s),
                 (J[f"lowerarm_{side}"], J[f"hand_{side}"], 0.04 * s, 0.035 * s),
                 (J[f"hand_{side}"], J[f"finger_{side}"], 0.04 * s, 0.035 * s)]
    v, f = _polygonize(caps, resolution, blend * s)
    return v, f, J


def write_obj(path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """A plain OBJ (no groups, no materials): one 'v' line per vertex, one 'f' line per triangle."""
    from pathlib import Path
    lines = [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    Path(path).write_text("\n".join(lines) + "\n")
