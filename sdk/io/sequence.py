"""Readers of mesh sequences with fixed topology (4D caches) -> :class:`sdk.core.MeshSequence`.

* glTF/GLB with a skin and an animation clip: the clip baked to vertices (``load_asset(path).rig.animate(clip)``)
* a folder of OBJ or PLY frames (natural sort order), one file per frame, all with the same topology
* USD with time-sampled ``points`` on its Mesh prims
* point trajectories ``.npy`` ``[N, T, 3]`` (e.g. Gaussian centres) with an optional mesh for faces
* ``.npz`` with ``vertices [T, V, 3]`` (and optional ``faces``, ``fps``): what ``exporters.npz.write_sequence_npz``
  writes

Dispatch by suffix is the format registry's (``sdk.io.formats.load_sequence``).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..core.sequence import MeshSequence
from ..errors import AssetReadError, InvalidInputError

def _natural_key(p: Path):
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name)]


def load_frames_folder(folder, fps: float = 30.0) -> MeshSequence:
    """A folder of ``.obj`` or ``.ply`` files, one per frame (sorted naturally: frame_2 before frame_10)."""
    from .formats import load_asset
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in (".obj", ".ply")]
    if not files:
        raise AssetReadError(folder, "folder has no .obj or .ply frames")
    kinds = {p.suffix.lower() for p in files}
    if len(kinds) > 1:
        raise AssetReadError(folder, f"folder mixes frame formats {sorted(kinds)}; use one")
    files.sort(key=_natural_key)
    verts, faces0 = [], None
    for i, p in enumerate(files):
        m = load_asset(p).mesh
        if faces0 is None:
            faces0 = m.faces
        elif m.n_vertices != len(verts[0]) or m.faces.shape != faces0.shape or not np.array_equal(m.faces, faces0):
            what = (f"{m.n_vertices} vertices instead of {len(verts[0])}" if m.n_vertices != len(verts[0])
                    else "different faces")
            raise InvalidInputError(f"topology changes at frame {i} ({p.name}: {what}); a mesh sequence needs the "
                                    f"same vertices and faces in every frame", field=f"frame {i}", source=str(folder))
        verts.append(m.vertices)
    return MeshSequence(np.stack(verts), faces0, fps, folder.name, str(folder))


def load_gltf_clip(path, clip: str | None = None, fps: float = 30.0) -> MeshSequence:
    """Bake a glTF/GLB skin animation clip to vertices (the clip at ``fps``)."""
    from .formats import load_asset
    a = load_asset(path)
    if a.rig is None:
        raise InvalidInputError("glTF file has no skin: nothing animates its vertices", field="skin", source=str(path))
    if not a.rig.animations:
        raise InvalidInputError("glTF file has a skin but no animation clips", field="animations", source=str(path))
    try:
        anim = a.rig.animation(clip)
    except KeyError as e:
        raise InvalidInputError(str(e.args[0]), field="clip", source=str(path)) from None
    v = a.rig.pose(anim.world_matrices(a.rig.skeleton.parents))
    return MeshSequence(v, a.mesh.faces, anim.fps, f"{Path(path).stem}_{anim.name}", str(path), clip=anim.name)


def load_usd_points(path, fps: float | None = None) -> MeshSequence:
    """USD Mesh prims with time-sampled ``points`` (world space per time code), concatenated."""
    from ._lazy import pxr
    Usd, UsdGeom = pxr("Usd"), pxr("UsdGeom")
    path = Path(path)
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise AssetReadError(path, "USD stage could not be opened")
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    if not meshes:
        raise AssetReadError(path, "stage has no Mesh prims")
    times: set[float] = set()
    for m in meshes:
        times.update(m.GetPointsAttr().GetTimeSamples())
    if not times:
        raise InvalidInputError("no Mesh prim has time-sampled points: the stage is not animated",
                                field="points", source=str(path))
    times_l = sorted(times)
    frames, faces, n0 = [], [], 0
    for ti, tc in enumerate(times_l):
        cache = UsdGeom.XformCache(Usd.TimeCode(tc))
        pts_all, n = [], 0
        for m in meshes:
            pts = m.GetPointsAttr().Get(Usd.TimeCode(tc))
            if pts is None or len(pts) == 0:
                continue
            p = np.asarray(pts, dtype=np.float64)
            xf = np.asarray(cache.GetLocalToWorldTransform(m.GetPrim()), dtype=np.float64).T
            pts_all.append((xf @ np.c_[p, np.ones(len(p))].T).T[:, :3])
            if ti == 0:
                cnt = np.asarray(m.GetFaceVertexCountsAttr().Get() or [])
                idx = np.asarray(m.GetFaceVertexIndicesAttr().Get() or [])
                starts = np.r_[0, np.cumsum(cnt)[:-1]] if len(cnt) else []
                faces += [[idx[s] + n, idx[s + k] + n, idx[s + k + 1] + n]
                          for s, c in zip(starts, cnt) for k in range(1, c - 1)]
            n += len(p)
        v = np.concatenate(pts_all) if pts_all else np.zeros((0, 3))
        if frames and len(v) != len(frames[0]):
            raise InvalidInputError(f"topology changes at time {tc}: {len(v)} points instead of {len(frames[0])}",
                                    field=f"frame {ti}", source=str(path))
        frames.append(v)
    if fps is None:
        fps = float(stage.GetTimeCodesPerSecond() or 24.0)
    return MeshSequence(np.stack(frames), np.array(faces) if faces else None, fps, path.stem, str(path))


def load_trajectories(path, mesh=None, fps: float = 30.0) -> MeshSequence:
    """Point trajectories ``[N, T, 3]`` (``.npy``) with an optional mesh (path or Mesh) giving faces."""
    path = Path(path)
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as e:
        raise AssetReadError(path, f"not a readable .npy array ({type(e).__name__}: {e})") from e
    if x.ndim != 3 or x.shape[-1] != 3:
        raise InvalidInputError(f"trajectories must have shape [N, T, 3], got {tuple(x.shape)}", field="trajectories",
                                source=str(path))
    faces = None
    if mesh is not None:
        if not hasattr(mesh, "faces"):
            from .formats import load_asset
            mesh = load_asset(mesh).mesh
        if mesh.n_vertices != x.shape[0]:
            raise InvalidInputError(f"mesh has {mesh.n_vertices} vertices but there are {x.shape[0]} trajectories",
                                    field="mesh", source=str(path))
        faces = mesh.faces
    return MeshSequence(x.transpose(1, 0, 2), faces, fps, path.stem, str(path))


def load_npz(path) -> MeshSequence:
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:
        raise AssetReadError(path, f"not a readable .npz ({type(e).__name__}: {e})") from e
    if "vertices" not in z:
        raise AssetReadError(path, ".npz needs an array 'vertices' [T, V, 3]")
    faces = z["faces"] if "faces" in z else None
    fps = float(z["fps"]) if "fps" in z else 30.0
    name = str(z["name"]) if "name" in z else path.stem
    return MeshSequence(z["vertices"], faces, fps, name, str(path))


def load_sequence(path, *, clip: str | None = None, mesh=None, fps: float | None = None) -> MeshSequence:
    """Read any supported sequence by its kind (see the module docstring); dispatches through the format registry."""
    from .formats import load_sequence as _load
    return _load(path, clip=clip, mesh=mesh, fps=fps)
