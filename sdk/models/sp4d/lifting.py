"""Lifting multi-view part maps to per-vertex part ids on a mesh (project and vote).

Every labelled pixel votes for the triangle the z-buffer says is visible there (so occluded
triangles get no votes); a vertex sums the votes of its incident triangles; vertices seen by no
camera take the label of the nearest voted vertex.
"""
from __future__ import annotations

import numpy as np
import torch

from ...errors import InvalidInputError
from ...render import Camera, rasterize


def lift_part_maps(vertices, faces, cameras: Camera, part_maps, num_labels: int | None = None,
                   posed_vertices=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex part ids from part maps rendered in ``cameras``.

    vertices: [V, 3]; faces: [F, 3]; part_maps: [N, H, W] int (-1 = no label), one per camera
    posed_vertices: optional [N, V, 3], the mesh pose seen by each camera (animated frames); default rest pose
    returns (labels [V] int64, confidence [V] float: winning vote share, 0 for vertices filled from neighbours)
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    pm = torch.as_tensor(np.asarray(part_maps), dtype=torch.int64)
    if pm.ndim != 3 or pm.shape[0] != len(cameras) or pm.shape[1:] != (cameras.height, cameras.width):
        raise InvalidInputError(f"part_maps must be [{len(cameras)}, {cameras.height}, {cameras.width}], got "
                                f"{tuple(pm.shape)}", field="part_maps")
    k = int(pm.max()) + 1 if num_labels is None else int(num_labels)
    if k <= 0:
        raise InvalidInputError("part maps hold no labelled pixel", field="part_maps")
    frag = rasterize(v if posed_vertices is None else posed_vertices, f, cameras)
    fid = frag.face_id.cpu()
    ok = (fid >= 0) & (pm >= 0)
    key = fid[ok] * k + pm[ok]
    face_votes = torch.bincount(key, minlength=len(f) * k).reshape(len(f), k).double().numpy()
    vert_votes = np.zeros((len(v), k))
    for j in range(3):
        np.add.at(vert_votes, f[:, j], face_votes)
    tot = vert_votes.sum(1)
    labels = vert_votes.argmax(1).astype(np.int64)
    conf = np.where(tot > 0, vert_votes.max(1) / np.maximum(tot, 1e-12), 0.0)
    seen = tot > 0
    if not seen.any():
        raise InvalidInputError("no mesh triangle is visible under a labelled pixel", field="part_maps")
    if not seen.all():
        from scipy.spatial import cKDTree
        _, nn = cKDTree(v[seen]).query(v[~seen])
        labels[~seen] = labels[seen][nn]
    return labels, conf
