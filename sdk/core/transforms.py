"""Rigid-transform helpers (numpy). Quaternions are (w, x, y, z), matrices are column-vector 4x4:
``p_world = M @ [p, 1]`` (translation in the last column)."""
from __future__ import annotations

import numpy as np


def quat_normalize(q: np.ndarray) -> np.ndarray:  # [..., 4]
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    return q / np.where(n == 0, 1.0, n)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:  # [..., 4] (w,x,y,z) -> [..., 3, 3]
    q = quat_normalize(np.asarray(q, dtype=np.float64))
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - w * z)
    m[..., 0, 2] = 2 * (x * z + w * y)
    m[..., 1, 0] = 2 * (x * y + w * z)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - w * x)
    m[..., 2, 0] = 2 * (x * z - w * y)
    m[..., 2, 1] = 2 * (y * z + w * x)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat(m: np.ndarray) -> np.ndarray:  # [..., 3, 3] -> [..., 4] (w,x,y,z), w >= 0
    m = np.asarray(m, dtype=np.float64)
    from scipy.spatial.transform import Rotation
    flat = m.reshape(-1, 3, 3)
    xyzw = Rotation.from_matrix(flat).as_quat()
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q.reshape(m.shape[:-2] + (4,))


def compose_trs(t: np.ndarray, q: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
    """t [...,3], q [...,4] (w,x,y,z), s [...,3] -> [...,4,4] = T @ R @ S."""
    t = np.asarray(t, dtype=np.float64)
    r = quat_to_matrix(q)
    if s is not None:
        r = r * np.asarray(s, dtype=np.float64)[..., None, :]
    m = np.zeros(t.shape[:-1] + (4, 4))
    m[..., :3, :3] = r
    m[..., :3, 3] = t
    m[..., 3, 3] = 1.0
    return m


def decompose_trs(m: np.ndarray):
    """[...,4,4] -> (t [...,3], q [...,4], s [...,3]); assumes no shear."""
    m = np.asarray(m, dtype=np.float64)
    t = m[..., :3, 3].copy()
    a = m[..., :3, :3]
    s = np.linalg.norm(a, axis=-2)
    det = np.linalg.det(a)
    s[..., 0] *= np.where(det < 0, -1.0, 1.0)
    r = a / np.where(s == 0, 1.0, s)[..., None, :]
    return t, matrix_to_quat(r), s


def translation(t) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = t
    return m


def rigid_inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of [...,4,4] transforms (general, not only rigid: uses linalg.inv for safety)."""
    return np.linalg.inv(m)


def local_to_world(parents: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Forward kinematics. parents [J] (-1 root, parent index < child index), local [..., J, 4, 4]."""
    world = np.empty_like(local)
    for j, p in enumerate(parents):
        world[..., j, :, :] = local[..., j, :, :] if p < 0 else world[..., p, :, :] @ local[..., j, :, :]
    return world


def world_to_local(parents: np.ndarray, world: np.ndarray) -> np.ndarray:
    local = np.empty_like(world)
    for j, p in enumerate(parents):
        local[..., j, :, :] = world[..., j, :, :] if p < 0 else np.linalg.inv(world[..., p, :, :]) @ world[..., j, :, :]
    return local


def axis_angle_to_matrix(axis: np.ndarray, angle) -> np.ndarray:  # axis [3], angle [...] -> [..., 3, 3]
    """Rodrigues: R = I + sin(t) K + (1 - cos(t)) K^2 about the normalised ``axis`` (zero axis: identity)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / max(np.linalg.norm(a), 1e-30)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = np.asarray(angle, dtype=np.float64)[..., None, None]
    return np.eye(3) + np.sin(t) * K + (1 - np.cos(t)) * (K @ K)
