"""Readers for meshes, parts, rigs and mesh sequences: glTF/GLB (skins, animations, Draco), OBJ, PLY, USD, URDF,
MJCF, .npy/.npz; every format is declared once in :mod:`sdk.io.formats`, which also dispatches ``save``."""
from __future__ import annotations

from .asset import Asset, load_obj, load_ply, load_usd_mesh, parts_from_labels  # noqa: F401
from .formats import FORMATS, Format, load_asset, load_sequence, save

__all__ = ["Asset", "FORMATS", "Format", "load_asset", "load_sequence", "parts_from_labels", "save"]
