"""From a fitted 4D-GS to engines: the field-deformed canonical mesh as a ``MeshSequence`` (-> ``rig_from_motion``
-> UsdSkel / glTF, or a USD points cache), and the Gaussians themselves as a ``GaussianSequence`` (-> 3DGS .ply
sequence, time-sampled ``ParticleField3DGaussianSplat``)."""
from __future__ import annotations

import numpy as np

from ..core.gaussians import GaussianSequence
from ..core.sequence import MeshSequence
from ..errors import InvalidInputError
from .model import Gaussians4D


def to_mesh_sequence(model: Gaussians4D, n_vertices: int, faces, times, fps: float = 30.0,
                     name: str = "reconstruction") -> MeshSequence:
    """The canonical mesh carried by the model: vertex i follows the Gaussian born on it (mu_i + dx(mu_i, t)).
    ``n_vertices`` = the mesh's vertex count (``canonical_from_mesh`` puts those Gaussians first)."""
    if not 0 < n_vertices <= model.n:
        raise InvalidInputError(f"n_vertices {n_vertices} must be in (0, {model.n}]", field="n_vertices")
    v = model.trajectories(n_vertices, list(times)).cpu().numpy().astype(np.float64)
    return MeshSequence(v, np.asarray(faces), fps=fps, name=name)


def to_gaussian_sequence(model: Gaussians4D, times, fps: float = 30.0, name: str = "gaussians4d") -> GaussianSequence:
    return model.to_sequence(list(times), fps=fps, name=name)
