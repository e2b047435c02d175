"""Joint limits by collision sweep (beyond ATOP): sweep each direction until the first collision or a
type-specific maximum and report (lower, upper).

Revolute: up to ``revolute_max`` (default 180 deg) each way, in 5 deg steps. Prismatic: up to the part's extent
along the axis (a drawer can come fully out), capped at half the object diagonal. A joint blocked both ways
gets (0, 0). Continuous joints (wheels, knobs whose sweep never collides over a full turn) are reported by
``sweep_limits`` with ``full_turn=True``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .physics_prior import PhysicsScene


@dataclass
class Limits:
    lower: float
    upper: float
    full_turn: bool = False  # revolute part that never collides over +-180 deg


def sweep_limits(scene: PhysicsScene, typ: str, origin: np.ndarray, axis: np.ndarray, *,
                 revolute_max: float = np.pi, step_deg: float = 5.0, prismatic_steps: int = 40) -> Limits:
    origin = np.asarray(origin, np.float64)[None]
    axis = np.asarray(axis, np.float64)
    axis = axis / max(np.linalg.norm(axis), 1e-30)
    D = np.stack([axis, -axis])
    O = np.repeat(origin, 2, 0)
    if typ in ("revolute", "continuous"):
        steps = max(int(np.ceil(np.rad2deg(revolute_max) / step_deg)), 1)
        t = scene.sweep("revolute", O, D, revolute_max, steps)
        full = bool(np.all(t >= revolute_max - 1e-9))
        return Limits(-float(t[1]), float(t[0]), full)
    if typ == "prismatic":
        mx = float(scene.prismatic_max(axis[None])[0])
        t = scene.sweep("prismatic", O, D, mx, prismatic_steps)
        return Limits(-float(t[1]), float(t[0]))
    return Limits(0.0, 0.0)
