"""A rigged mesh: mesh + skeleton + skin weights (+ parts, animations). The SDK's main output."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
        """Skin the mesh with world joint transforms [..., J, 4, 4] -> vertices [..., V, 3] (LBS)."""
        from ..rigging.lbs import linear_blend_skinning
        import torch
        m = torch.as_tensor(self.skeleton.skinning_matrices(pose_world))
        v = torch.as_tensor(self.mesh.vertices)
        idx, w = torch.as_tensor(self.skin.indices), torch.as_tensor(self.skin.weights, dtype=m.dtype)
        if m.ndim == 3:
            return linear_blend_skinning(v, m, idx, w).numpy()
        flat = m.reshape(-1, *m.shape[-3:])
        # bound the [chunk, V, k, 3, 4] intermediate to ~256 MB
        chunk = max(1, int(256e6 // (self.mesh.n_vertices * idx.shape[1] * 12 * 8 + 1)))
        out = torch.cat([linear_blend_skinning(v, flat[i:i + chunk], idx, w) for i in range(0, len(flat), chunk)])
        return out.reshape(*m.shape[:-3], self.mesh.n_vertices, 3).numpy()

    def animate(self, name: str | None = None) -> np.ndarray:
        """Vertices of every frame of an animation [T, V, 3]."""
        a = self.animation(name)
        return self.pose(a.world_matrices(self.skeleton.parents))

    def export_usd(self, path, **options) -> Path:
        from exporters.usd import write_rig_usd
        return write_rig_usd(self, path, **options)

    def export_gltf(self, path, **options) -> Path:
        from exporters.gltf import write_rig_gltf
        return write_rig_gltf(self, path, **options)

    def export(self, path, **options) -> Path:
        """Write by extension: .usd/.usda/.usdc -> USD, .gltf/.glb -> glTF."""
        suffix = Path(path).suffix.lower()
        if suffix in (".usd", ".usda", ".usdc"):
            return self.export_usd(path, **options)
        if suffix in (".gltf", ".glb"):
            return self.export_gltf(path, **options)
        from ..errors import InvalidInputError
        raise InvalidInputError(f"unknown output format '{suffix}' (use .usda, .usdc, .usd, .gltf or .glb)", field="output")
