"""Per-joint TRS animation sampled at a fixed frame rate."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .transforms import compose_trs, decompose_trs, local_to_world


@dataclass
class Animation:
    name: str
    fps: float
    translations: np.ndarray  # [T, J, 3] joint-local
    rotations: np.ndarray  # [T, J, 4] joint-local quaternions (w, x, y, z)
    scales: np.ndarray  # [T, J, 3]

    def __post_init__(self):
        self.translations = np.asarray(self.translations, dtype=np.float64)
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.scales = np.asarray(self.scales, dtype=np.float64)

    @property
    def n_frames(self) -> int:
        return len(self.translations)

    @property
    def n_joints(self) -> int:
        return self.translations.shape[1]

    @property
    def duration(self) -> float:
        return (self.n_frames - 1) / self.fps

    def validate(self, n_joints: int) -> "Animation":
        T = self.n_frames
        for arr, nm, d in ((self.translations, "translations", 3), (self.rotations, "rotations", 4), (self.scales, "scales", 3)):
            if arr.shape != (T, n_joints, d):
                raise InvalidInputError(f"animation '{self.name}' {nm} has shape {arr.shape}, expected {(T, n_joints, d)}",
                                        field=f"animation.{nm}")
            if not np.isfinite(arr).all():
                f = int(np.flatnonzero(~np.isfinite(arr).reshape(T, -1).all(1))[0])
                raise InvalidInputError(f"animation '{self.name}' frame {f} has non-finite {nm}", field=f"animation.{nm}")
        if not self.fps > 0:
            raise InvalidInputError(f"animation fps must be positive, got {self.fps}", field="animation.fps")
        return self

    def local_matrices(self) -> np.ndarray:  # [T, J, 4, 4]
        return compose_trs(self.translations, self.rotations, self.scales)

    def world_matrices(self, parents: np.ndarray) -> np.ndarray:  # [T, J, 4, 4]
        return local_to_world(parents, self.local_matrices())

    @staticmethod
    def from_local_matrices(name: str, fps: float, local: np.ndarray) -> "Animation":
        t, q, s = decompose_trs(local)
        return Animation(name, fps, t, q, s)
