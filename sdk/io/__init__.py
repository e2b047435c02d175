"""Readers for meshes, parts and rigs: glTF/GLB (skins, animations, Draco), OBJ, PLY, USD."""
from __future__ import annotations

from pathlib import Path

from ..errors import AssetReadError
from .asset import Asset, load_obj, load_ply, load_usd_mesh, parts_from_labels

__all__ = ["Asset", "load_asset", "parts_from_labels"]


def load_asset(path, **kw) -> Asset:
    """Read any supported file by extension."""
    path = Path(path)
    if not path.exists():
        raise AssetReadError(path, "file does not exist")
    if path.is_dir():
        raise AssetReadError(path, "is a directory, not a mesh file")
    if path.stat().st_size == 0:
        raise AssetReadError(path, "file is empty")
    ext = path.suffix.lower()
    if ext in (".gltf", ".glb"):
        from .gltf import load_gltf
        return load_gltf(path, **kw)
    if ext == ".obj":
        return load_obj(path)
    if ext == ".ply":
        return load_ply(path)
    if ext in (".usd", ".usda", ".usdc", ".usdz"):
        return load_usd_mesh(path)
    if ext == ".urdf":  # links become parts; the joints stay hidden as ground truth
        from .urdf import load_urdf
        return load_urdf(path)
    if ext in (".xml", ".mjcf"):
        from .mjcf import load_mjcf
        return load_mjcf(path)
    raise AssetReadError(path, f"unsupported file type '{ext}' (glTF/GLB, OBJ, PLY, USD, URDF, MJCF)")
