"""Articulated objects: rigid links and the joints between them (UsdPhysics / URDF semantics)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mesh import Mesh

JOINT_TYPES = ("revolute", "prismatic", "continuous", "fixed", "spherical")


@dataclass
class Link:
    name: str
    mesh: Mesh | None  # geometry in the object's (world) frame at the rest configuration


@dataclass
class Joint:
    name: str
    type: str  # one of JOINT_TYPES
    parent: str  # link name
    child: str  # link name
    origin: np.ndarray  # [3] a point on the joint axis, world frame at rest
    axis: np.ndarray  # [3] unit axis, world frame
    lower: float = 0.0  # radians (revolute) or length units (prismatic)
    upper: float = 0.0
    confidence: float = 1.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        a = np.asarray(self.axis, dtype=np.float64).reshape(3)
        n = np.linalg.norm(a)
        self.axis = a / n if n > 0 else a


@dataclass
class Articulation:
    links: list[Link]
    joints: list[Joint]
    name: str = "object"
    meters_per_unit: float = 1.0
    root_link: str | None = None  # the fixed body when known (articulate_object infers it); else see ``root``

    def link(self, name: str) -> Link:
        for l in self.links:
            if l.name == name:
                return l
        raise KeyError(name)

    @property
    def root(self) -> str:
        children = {j.child for j in self.joints}
        roots = [l.name for l in self.links if l.name not in children]
        return roots[0] if roots else self.links[0].name

    def movable_joints(self) -> list[Joint]:
        return [j for j in self.joints if j.type != "fixed"]
