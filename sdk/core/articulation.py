"""Articulated objects: rigid links and the joints between them (UsdPhysics / URDF semantics)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mesh import Mesh
from .transforms import axis_angle_to_matrix

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

    def transform(self, amount: float) -> np.ndarray:  # -> [4, 4]
        """World-frame rigid motion of the child at joint value ``amount`` (radians: a rotation about the axis through
        ``origin``; length units: a translation along the axis; fixed / spherical: identity)."""
        return joint_motion(self.type, self.origin, self.axis, amount)


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

    def link_transforms(self, amounts: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """World motion [4, 4] of every link for joint values {joint name: amount} (missing joints: 0); a link moves
        with its parent: M_child = M_parent @ joint.transform(amount)."""
        amounts = amounts or {}
        by_child = {j.child: j for j in self.joints}
        out: dict[str, np.ndarray] = {}

        def motion(link: str, depth: int = 0) -> np.ndarray:
            if link not in out:
                j = by_child.get(link)
                if j is None or depth > len(self.joints):  # a root (or a malformed cycle)
                    out[link] = np.eye(4)
                else:
                    out[link] = motion(j.parent, depth + 1) @ j.transform(amounts.get(j.name, 0.0))
            return out[link]

        for l in self.links:
            motion(l.name)
        return out


def joint_motion(type: str, origin, axis, amount) -> np.ndarray:  # -> [4, 4] world-frame motion
    """The rigid motion of a joint of ``type`` (the kinematics used by previews, URDF and the engine bridges)."""
    m = np.eye(4)
    if type in ("revolute", "continuous"):
        R = axis_angle_to_matrix(axis, amount)
        m[:3, :3] = R
        m[:3, 3] = origin - R @ origin
    elif type == "prismatic":
        a = np.asarray(axis, float)
        m[:3, 3] = amount * a / max(np.linalg.norm(a), 1e-30)
    return m
