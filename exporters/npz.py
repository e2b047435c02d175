"""NumPy ``.npz`` writers: a mesh sequence (``vertices [T, V, 3]``, ``faces``, ``fps``, ``name``) or a rig's arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import MeshSequence, Rig
from sdk.util.atomic import atomic_path


def write_sequence_npz(seq: MeshSequence, path) -> Path:
    """Write ``.npz`` (vertices float32, faces, fps) atomically; ``sdk.io.load_sequence`` reads it back."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, vertices=seq.vertices.astype(np.float32),
                                faces=seq.faces if seq.faces is not None else np.zeros((0, 3), np.int64),
                                fps=np.float64(seq.fps), name=np.str_(seq.name),
                                **({"uvs": seq.uvs} if seq.uvs is not None else {}))
    return path


def write_rig_npz(rig: Rig, path) -> Path:
    """A rig with one animation as arrays: rest, faces, names, parents, bind_world, skin, parts and TRS per frame."""
    path = Path(path)
    a = rig.animations[0]
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, rest=rig.mesh.vertices, faces=rig.mesh.faces, names=np.array(rig.skeleton.names),
                                parents=rig.skeleton.parents, bind_world=rig.skeleton.bind_world,
                                skin_indices=rig.skin.indices, skin_weights=rig.skin.weights,
                                parts=rig.parts.labels, translations=a.translations, rotations=a.rotations,
                                scales=a.scales, fps=a.fps)
    return path
