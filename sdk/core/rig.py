"""A rigged mesh: mesh + skeleton + skin weights (+ parts, animations). The SDK's main output."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .animation import Animation
from .mesh import Mesh, PartLabels
from .skeleton import Skeleton
from .skin import SkinWeights


@dataclass
class Rig:
    mesh: Mesh
    skeleton: Skeleton
    skin: SkinWeights
    parts: PartLabels | None = None
    animations: list[Animation] = field(default_factory=list)
    joint_parts: np.ndarray | None = None  # [J] part id driven by each joint (-1: none)
    metadata: dict = field(default_factory=dict)

    def validate(self) -> "Rig":
        self.skeleton.validate()
        if self.mesh.look is not None:  # writers index the look by vertex and face
            self.mesh.look.validate(self.mesh.n_vertices, self.mesh.n_faces)
        self.skin.validate(self.mesh.n_vertices, self.skeleton.n_joints)
        for a in self.animations:
            a.validate(self.skeleton.n_joints)
        return self

    def animation(self, name: str | None = None) -> Animation:
        if not self.animations:
            raise KeyError("rig has no animations")
        if name is None:
            return self.animations[0]
        for a in self.animations:
            if a.name == name:
                return a
        raise KeyError(f"no animation named {name!r}; have {[a.name for a in self.animations]}")

    def pose(self, pose_world: np.ndarray) -> np.ndarray:
        """Skin the mesh with world joint transforms [..., J, 4, 4] -> vertices [..., V, 3] (LBS).

        The meaning of the rig's data (v' = sum_i w_i M_{j_i} [v, 1]), evaluated in numpy so core stays a leaf;
        ``sdk.geometry.lbs.linear_blend_skinning`` is the batched, differentiable torch kernel (tested equal)."""
        m = np.asarray(self.skeleton.skinning_matrices(pose_world))
        v = np.asarray(self.mesh.vertices, dtype=m.dtype)
        idx, w = np.asarray(self.skin.indices, dtype=np.int64), np.asarray(self.skin.weights, dtype=m.dtype)
        flat = m.reshape(-1, *m.shape[-3:])
        # bound the [chunk, V, k, 3, 4] intermediate to ~256 MB
        chunk = max(1, int(256e6 // (self.mesh.n_vertices * idx.shape[1] * 12 * 8 + 1)))
        out = np.concatenate([_lbs(v, flat[i:i + chunk], idx, w) for i in range(0, len(flat), chunk)])
        return out.reshape(*m.shape[:-3], self.mesh.n_vertices, 3)

    def animate(self, name: str | None = None) -> np.ndarray:
        """Vertices of every frame of an animation [T, V, 3]."""
        a = self.animation(name)
        return self.pose(a.world_matrices(self.skeleton.parents))

    # Deprecated conveniences kept for callers written against them: writing is ``sdk.io.save(rig, path, **opts)``
    # (the format registry). Core imports no writer: ``sdk.io`` installs its ``save`` here when it is imported
    # (every reader and the facade import it), so there is no core -> exporters edge.
    def export(self, path, **options):
        """Write by the suffix of ``path`` through the format registry (= ``sdk.io.save(self, path)``)."""
        return _registry_save()(self, path, **options)

    def export_usd(self, path, **options):
        return _registry_save()(self, path, **options)

    def export_gltf(self, path, **options):
        return _registry_save()(self, path, **options)


#: set by sdk.io.formats at import (dependency injection keeps core a leaf)
_SAVE = None


def _registry_save():
    if _SAVE is None:
        from ..errors import ArticulateError
        raise ArticulateError("no writers loaded: use sdk.io.save(rig, path) (import sdk.io)")
    return _SAVE


def _lbs(v: np.ndarray, skinning: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """v [V, 3], skinning [B, J, 4, 4], idx/w [V, k] -> [B, V, 3] (same operations as the torch kernel)."""
    m = skinning[:, idx, :3, :]  # [B, V, k, 3, 4]
    blended = (w[..., None, None] * m).sum(-3)  # [B, V, 3, 4]
    return (blended[..., :3] @ v[..., None])[..., 0] + blended[..., 3]
