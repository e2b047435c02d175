"""Skeleton: named joints, parents, rest transforms (joint-local) and bind transforms (world)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .transforms import local_to_world, world_to_local


def sanitize_name(name: str, taken: set[str] | None = None) -> str:
    """A USD-safe, human-readable identifier, unique within ``taken``."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_") or "joint"
    if s[0].isdigit():
        s = "j_" + s
    if taken is not None:
        base, k = s, 1
        while s in taken:
            k += 1
            s = f"{base}_{k}"
        taken.add(s)
    return s


@dataclass
class Skeleton:
    names: list[str]  # [J] unique, USD-safe
    parents: np.ndarray  # [J] int64, -1 for roots, parents[j] < j
    rest_local: np.ndarray  # [J, 4, 4] rest pose relative to the parent joint (world for roots)
    bind_world: np.ndarray  # [J, 4, 4] world-space bind transforms (the pose the mesh was skinned in)
    tips: np.ndarray | None = None  # [J, 3] where each bone ends when known (rigs from parts: part centroids)

    def __post_init__(self):
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        self.rest_local = np.asarray(self.rest_local, dtype=np.float64).reshape(-1, 4, 4)
        self.bind_world = np.asarray(self.bind_world, dtype=np.float64).reshape(-1, 4, 4)
        self.names = list(self.names)

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def validate(self) -> "Skeleton":
        J = self.n_joints
        if J == 0:
            raise InvalidInputError("skeleton has no joints", field="skeleton")
        if len(set(self.names)) != J:
            raise InvalidInputError("skeleton joint names are not unique", field="skeleton.names")
        for arr, nm in ((self.parents, "parents"), (self.rest_local, "rest_local"), (self.bind_world, "bind_world")):
            if len(arr) != J:
                raise InvalidInputError(f"skeleton.{nm} has {len(arr)} entries for {J} joints", field=f"skeleton.{nm}")
        for j, p in enumerate(self.parents):
            if p >= j:
                raise InvalidInputError(f"joint {j} ('{self.names[j]}') has parent {p}: parents must precede children",
                                        field="skeleton.parents")
        return self

    @staticmethod
    def from_world(names, parents, bind_world, tips: np.ndarray | None = None) -> "Skeleton":
        """Skeleton whose rest pose equals its bind pose."""
        parents = np.asarray(parents, dtype=np.int64)
        bind_world = np.asarray(bind_world, dtype=np.float64)
        return Skeleton(list(names), parents, world_to_local(parents, bind_world), bind_world, tips)

    def rest_world(self) -> np.ndarray:  # [J, 4, 4]
        return local_to_world(self.parents, self.rest_local)

    def joint_positions(self) -> np.ndarray:  # [J, 3] bind-pose joint positions
        return self.bind_world[:, :3, 3].copy()

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.flatnonzero(self.parents == j)]

    def paths(self) -> list[str]:
        """UsdSkel joint paths ("root/spine/neck")."""
        out: list[str] = []
        for j, p in enumerate(self.parents):
            out.append(self.names[j] if p < 0 else f"{out[p]}/{self.names[j]}")
        return out

    def skinning_matrices(self, pose_world: np.ndarray) -> np.ndarray:
        """pose_world [..., J, 4, 4] -> [..., J, 4, 4] = pose_world @ inv(bind_world)."""
        return pose_world @ np.linalg.inv(self.bind_world)
