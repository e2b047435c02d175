"""Texture propagation: per-vertex attributes (UVs, colours, weights) moved from a source mesh onto another mesh's
vertices by closest point + barycentric interpolation (ShapeGen4D A.2 step 2 reuses the template's UV map for every
frame; this module gives the template its UVs from a textured reference)."""
from __future__ import annotations

import numpy as np

from ..core import Mesh
from ..errors import InvalidInputError
from .kernels import closest_points_on_mesh


def transfer_attributes(src: Mesh, attrs: np.ndarray, dst_points: np.ndarray, k: int = 16) -> np.ndarray:
    """Per-vertex attributes ``attrs [V_src, C]`` of ``src`` evaluated at the closest surface point of every
    ``dst_points [N, 3]`` (barycentric interpolation within the closest triangle) -> [N, C]."""
    attrs = np.asarray(attrs)
    if len(attrs) != src.n_vertices:
        raise InvalidInputError(f"{len(attrs)} attribute rows for {src.n_vertices} vertices", field="attrs")
    _, fi, bary, _ = closest_points_on_mesh(np.asarray(dst_points, np.float64), src.vertices, src.faces, k=k)
    a = attrs.reshape(len(attrs), -1).astype(np.float64)
    out = (a[src.faces[fi]] * bary[..., None]).sum(1)
    return out.reshape((len(dst_points),) + attrs.shape[1:]).astype(attrs.dtype if attrs.dtype.kind == "f" else np.float64)


def propagate_uv(src: Mesh, dst: Mesh) -> Mesh:
    """``dst`` with UVs transferred from textured ``src`` (same pose, e.g. frame 0): closest point + barycentric."""
    if src.uvs is None:
        raise InvalidInputError("source mesh has no uvs to propagate", field="uvs")
    uv = transfer_attributes(src, src.uvs, dst.vertices).astype(np.float32)
    return Mesh(dst.vertices, dst.faces, dst.name, uvs=uv)
