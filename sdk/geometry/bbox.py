"""Axis-aligned bounding boxes."""
from __future__ import annotations

import numpy as np


def bbox(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # points [..., N, 3] -> lo [..., 3], hi [..., 3]
    p = np.asarray(points, dtype=np.float64)
    return p.min(-2), p.max(-2)


def bbox_diagonal(points: np.ndarray) -> float:  # points [N, 3] (or [T, N, 3]: the box of all frames)
    """Length of the bounding-box diagonal; 0 for no points."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not len(p):
        return 0.0
    return float(np.linalg.norm(p.max(0) - p.min(0)))


def normalize_to_unit_box(points: np.ndarray) -> np.ndarray:  # [..., 3] -> same shape
    """Centre on the bounding box of *all* points (every frame of a [T, V, 3] array), longest side 1."""
    flat = np.asarray(points).reshape(-1, 3)
    lo, hi = flat.min(0), flat.max(0)
    return (points - (lo + hi) / 2) / max(float((hi - lo).max()), 1e-9)
