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


def uv_charts(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Chart id per face [F]: connected components of faces through shared vertex indices (glTF-style meshes duplicate
    vertices along UV seams, so a seam separates charts)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    F = len(faces)
    rows = np.repeat(np.arange(F), 3)
    inc = coo_matrix((np.ones(3 * F), (rows, faces.reshape(-1))), shape=(F, n_vertices)).tocsr()
    _, lab = connected_components(inc @ inc.T, directed=False)
    return lab


def propagate_uv_seams(src: Mesh, dst: Mesh, k: int = 16) -> tuple[Mesh, np.ndarray, np.ndarray, np.ndarray]:
    """UVs from textured ``src`` onto ``dst`` *with seams*: every ``dst`` face takes the UV chart of ``src`` under its
    centroid, and a ``dst`` vertex whose faces lie in several charts is split into one copy per chart, each with the uv
    of its closest point *within that chart* (closest point + barycentrics restricted to the chart's triangles).

    Per-vertex transfer (:func:`propagate_uv`) gives every vertex one uv, so a ``dst`` triangle straddling a seam of
    ``src`` interpolates across the atlas (a smeared strip of unrelated texture along every seam). Returns
    (mesh with split vertices, ``source_index [V']``: the ``dst`` vertex each output vertex copies, so a registered
    sequence becomes ``vertices[:, source_index]``; ``face [V']`` and ``bary [V', 3]``: the ``src`` surface point whose uv
    each output vertex holds)."""
    if src.uvs is None:
        raise InvalidInputError("source mesh has no uvs to propagate", field="uvs")
    chart = uv_charts(src.faces, src.n_vertices)
    cen = dst.vertices[dst.faces].mean(1)
    _, fi, _, _ = closest_points_on_mesh(cen, src.vertices, src.faces, k=k)
    fchart = chart[fi]  # [F_dst]
    pairs = np.stack([dst.faces.reshape(-1), np.repeat(fchart, 3)], 1)  # (vertex, chart) per corner
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    uv = np.zeros((len(uniq), 2))
    bface, bary = np.zeros(len(uniq), np.int64), np.zeros((len(uniq), 3))
    for c in np.unique(uniq[:, 1]):
        sel = np.nonzero(uniq[:, 1] == c)[0]
        fsub = np.nonzero(chart == c)[0]
        sub = src.faces[fsub]
        _, sf, b, _ = closest_points_on_mesh(dst.vertices[uniq[sel, 0]], src.vertices, sub, k=min(k, len(sub)))
        uv[sel] = (src.uvs[sub[sf]] * b[..., None]).sum(1)
        bface[sel], bary[sel] = fsub[sf], b
    faces = inv.reshape(-1, 3)
    return (Mesh(dst.vertices[uniq[:, 0]], faces, dst.name, uvs=uv.astype(np.float32)), uniq[:, 0].astype(np.int64),
            bface, bary)


def split_sequence_seams(seq, src: Mesh):
    """A registered ``MeshSequence`` (template topology) with its template's UVs re-propagated from ``src`` (the
    textured frame-0 mesh) with seams (:func:`propagate_uv_seams`): the vertices of seam-straddling faces are
    duplicated (the copies move together) -> (new ``MeshSequence``, face [V'], bary [V', 3]: the ``src`` point whose
    uv each vertex holds)."""
    from ..core import MeshSequence
    m, idx, bf, bb = propagate_uv_seams(src, Mesh(seq.vertices[0], seq.faces))
    return MeshSequence(seq.vertices[:, idx], m.faces, seq.fps, seq.name, seq.source, uvs=m.uvs), bf, bb
