"""Mesh sequences for rig-from-motion (old names kept for callers).

Welding over time and the mesh graph moved to ``sdk.geometry`` (``weld_over_time``, ``graph.mesh_graph``), the
readers to ``sdk.io.sequence`` (dispatch: ``sdk.io.load_sequence``) and the ``.npz`` writer to
``exporters.npz``; their old names stay importable from here.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..core.sequence import MeshSequence
from ..errors import AssetReadError, InvalidInputError, MotionWarning  # noqa: F401 (old names)
from ..geometry.graph import mesh_graph  # noqa: F401 (old name)
from ..geometry.weld import weld_over_time as weld  # noqa: F401 (old name: weld over time)
from ..io.sequence import (load_frames_folder, load_frames_folder_meshes, load_gltf_clip,  # noqa: F401 (old names)
                           load_mesh_frames, load_npz, load_sequence, load_trajectories, load_usd_frames,
                           load_usd_points)

log = logging.getLogger(__name__)

__all__ = ["MeshSequence", "load_frames_folder", "load_frames_folder_meshes", "load_gltf_clip", "load_mesh_frames",
           "load_npz", "load_sequence", "load_trajectories", "load_usd_frames", "load_usd_points", "mesh_graph",
           "save_npz", "weld"]


def save_npz(seq: MeshSequence, path) -> Path:
    """Write ``.npz`` (vertices float32, faces, fps) atomically (``exporters.npz.write_sequence_npz``)."""
    from exporters.npz import write_sequence_npz
    return write_sequence_npz(seq, path)
