"""Readers of mesh sequences (4D caches) -> :class:`sdk.core.MeshSequence` (fixed topology) or
:class:`sdk.core.MeshFrames` (per-frame topology).

* glTF/GLB with a skin and an animation clip: the clip baked to vertices (``load_asset(path).rig.animate(clip)``)
* a folder of OBJ, PLY or GLB frames (natural sort order), one file per frame
* USD with time-sampled ``points`` on its Mesh prims (also through value clips, as ``exporters.usd_cache`` writes),
  or a UsdSkel rig with SkelAnimations (what ``exporters.usd`` writes): the clip baked to vertices
* point trajectories ``.npy`` ``[N, T, 3]`` (e.g. Gaussian centres) with an optional mesh for faces
* ``.npz`` with ``vertices [T, V, 3]`` (and optional ``faces``, ``fps``, ``uvs``): what ``exporters.npz`` writes

Dispatch by suffix is the format registry's (``sdk.io.formats.load_sequence``).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..core.mesh import Mesh
from ..core.sequence import MeshFrames, MeshSequence
from ..errors import AssetReadError, InvalidInputError, no_such_file


def _natural_key(p: Path):
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name)]


_FRAME_SUFFIXES = (".obj", ".ply", ".glb", ".gltf")


def load_frames_folder_meshes(folder, fps: float = 30.0) -> MeshFrames:
    """A folder of ``.obj``/``.ply``/``.glb`` files, one per frame (natural sort: frame_2 before frame_10), each
    with its own topology. Errors name the frame and its file."""
    from .formats import load_asset
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _FRAME_SUFFIXES]
    if not files:
        raise AssetReadError(folder, "folder has no .obj, .ply or .glb frames")
    kinds = {p.suffix.lower() for p in files}
    if len(kinds) > 1:
        raise AssetReadError(folder, f"folder mixes frame formats {sorted(kinds)}; use one")
    files.sort(key=_natural_key)
    meshes = []
    for i, p in enumerate(files):
        try:
            m = load_asset(p).mesh
        except (AssetReadError, InvalidInputError) as e:
            raise InvalidInputError(f"frame {i} ({p.name}) could not be read: {e}", field=f"frame {i}",
                                    source=str(folder)) from None
        meshes.append(Mesh(m.vertices, m.faces, name=p.name, uvs=m.uvs, look=m.look))
    return MeshFrames(meshes, fps, folder.name, str(folder))


def load_frames_folder(folder, fps: float = 30.0) -> MeshSequence:
    """A folder of ``.obj``/``.ply``/``.glb`` files, one per frame, all with the same topology."""
    frames = load_frames_folder_meshes(folder, fps)
    m0 = frames.frames[0]
    for i, m in enumerate(frames.frames):
        if m.n_vertices != m0.n_vertices or m.faces.shape != m0.faces.shape or not np.array_equal(m.faces, m0.faces):
            what = (f"{m.n_vertices} vertices instead of {m0.n_vertices}" if m.n_vertices != m0.n_vertices
                    else "different faces")
            raise InvalidInputError(f"topology changes at frame {i} ({m.name}: {what}); a mesh sequence needs the "
                                    f"same vertices and faces in every frame (register them: articulate mesh-cache "
                                    f"--register)", field=f"frame {i}", source=str(folder))
    return MeshSequence(np.stack([m.vertices for m in frames.frames]), m0.faces, fps, frames.name, str(folder),
                        uvs=m0.uvs, look=m0.look)


def load_gltf_clip(path, clip: str | None = None, fps: float = 30.0) -> MeshSequence:
    """Bake a glTF/GLB skin animation clip (or a morph-target clip, as mesh caches are written) to vertices."""
    from .formats import load_asset
    a = load_asset(path)
    if a.rig is None:
        from .gltf import read_morph_clip
        got = read_morph_clip(path, a.mesh, clip)
        if got is not None:
            v, rate, name = got
            return MeshSequence(v, a.mesh.faces, rate, Path(path).stem, str(path), clip=name, uvs=a.mesh.uvs,
                                look=a.mesh.look)
    return bake_clip(a, clip, "glTF file")


def bake_clip(a, clip: str | None, what: str) -> MeshSequence:
    """A rigged asset's animation clip (``clip`` or the first, with a warning naming the others) baked to vertices;
    the mesh's uvs and look are kept."""
    path = a.path
    if a.rig is None:
        raise InvalidInputError(f"{what} has no skin: nothing animates its vertices", field="skin", source=str(path))
    if not a.rig.animations:
        raise InvalidInputError(f"{what} has a skin but no animation clips", field="animations", source=str(path))
    try:
        anim = a.rig.animation(clip)
    except KeyError as e:
        raise InvalidInputError(str(e.args[0]), field="clip", source=str(path)) from None
    if clip is None and len(a.rig.animations) > 1:  # never pick one of several clips silently
        import warnings
        from ..errors import MotionWarning
        others = [x.name for x in a.rig.animations if x.name != anim.name]
        warnings.warn(MotionWarning(
            f"{path}: using clip '{anim.name}', the first of {len(a.rig.animations)}; the others: "
            f"{', '.join(others)} (choose one with --clip NAME / clip=)"), stacklevel=3)
    world = anim.world_matrices(a.rig.skeleton.parents)
    v = a.rig.pose(world)
    return MeshSequence(v, a.mesh.faces, anim.fps, f"{Path(path).stem}_{anim.name}", str(path), clip=anim.name,
                        uvs=a.mesh.uvs, look=_posed_look(a.rig, world[0]))


def _posed_look(rig, pose_world: np.ndarray):
    """The rig mesh's look with normals and tangents skinned to ``pose_world`` [J, 4, 4] (a sequence's look
    describes its frame 0; LBS of directions: the blended linear part, renormalised)."""
    from dataclasses import replace
    lk = rig.mesh.look
    if lk is None or (lk.normals is None and lk.tangents is None):
        return lk
    m = np.asarray(rig.skeleton.skinning_matrices(pose_world[None]))[0, :, :3, :3]  # [J, 3, 3]
    lin = (rig.skin.weights[..., None, None].astype(np.float64) * m[rig.skin.indices]).sum(1)  # [V, 3, 3]

    def turn(d):
        d = np.einsum("vab,vb->va", lin, d.astype(np.float64))
        return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-30)

    return replace(lk, normals=turn(lk.normals) if lk.normals is not None else None,
                   tangents=np.c_[turn(lk.tangents[:, :3]), lk.tangents[:, 3:]] if lk.tangents is not None else None)


def _usd_time_codes(meshes) -> list[float]:
    times: set[float] = set()
    for m in meshes:
        times.update(m.GetPointsAttr().GetTimeSamples())
    return sorted(times)


def _usd_frame(UsdGeom, Usd, meshes, tc: float, topology: bool = True):
    """World points, fan-triangulated faces and per-vertex uvs (glTF convention) of every visible Mesh at ``tc``.

    ``topology=False`` skips faces and uvs of meshes whose topology is static (faces returned for the others only,
    to detect changes)."""
    t = Usd.TimeCode(tc)
    cache = UsdGeom.XformCache(t)
    pts_all, faces, uvs, n = [], [], [], 0
    for m in meshes:
        if UsdGeom.Imageable(m.GetPrim()).ComputeVisibility(t) == UsdGeom.Tokens.invisible:
            continue
        pts = m.GetPointsAttr().Get(t)
        if pts is None or len(pts) == 0:
            continue
        p = np.asarray(pts, dtype=np.float64)
        xf = np.asarray(cache.GetLocalToWorldTransform(m.GetPrim()), dtype=np.float64).T
        pts_all.append((xf @ np.c_[p, np.ones(len(p))].T).T[:, :3])
        if not topology and not m.GetFaceVertexIndicesAttr().ValueMightBeTimeVarying():
            n += len(p)
            continue
        cnt = np.asarray(m.GetFaceVertexCountsAttr().Get(t) or [], dtype=np.int64)
        idx = np.asarray(m.GetFaceVertexIndicesAttr().Get(t) or [], dtype=np.int64)
        faces.append(_fan_triangles(cnt, idx) + n)
        uvs.append(_usd_vertex_uvs(UsdGeom, m, t, idx, len(p)))
        n += len(p)
    v = np.concatenate(pts_all) if pts_all else np.zeros((0, 3))
    uv = np.concatenate(uvs) if uvs and all(u is not None for u in uvs) else None
    return v, (np.concatenate(faces) if faces else np.zeros((0, 3), np.int64)), uv


def _fan_triangles(cnt: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Fan-triangulate polygons (counts [P], indices [sum counts]) -> [F, 3] (vectorised)."""
    if not len(cnt):
        return np.zeros((0, 3), np.int64)
    if (cnt == 3).all():
        return idx.reshape(-1, 3).astype(np.int64)
    starts = np.r_[0, np.cumsum(cnt)[:-1]]
    ntri = np.clip(cnt - 2, 0, None)
    s = np.repeat(starts, ntri)
    k = np.arange(ntri.sum()) - np.repeat(np.cumsum(ntri) - ntri, ntri) + 1
    return np.stack([idx[s], idx[s + k], idx[s + k + 1]], 1).astype(np.int64)


def _usd_vertex_uvs(UsdGeom, m, t, fvi: np.ndarray, nv: int):
    """primvars:st as per-vertex uvs (glTF convention), when it is vertex-interpolated or face-varying with one uv
    per vertex; None otherwise."""
    pv = UsdGeom.PrimvarsAPI(m).GetPrimvar("st")
    if not pv or not pv.HasValue():
        return None
    vals = pv.Get(t)
    if vals is None:
        return None
    st = np.asarray(vals, dtype=np.float32).reshape(-1, 2)
    interp = pv.GetInterpolation()
    if pv.IsIndexed():
        ind = np.asarray(pv.GetIndices(t), dtype=np.int64)
    else:
        ind = np.arange(len(st))
    if interp == UsdGeom.Tokens.vertex and len(ind) == nv:
        uv = st[ind]
    elif interp == UsdGeom.Tokens.faceVarying and len(ind) == len(fvi):
        uv = np.zeros((nv, 2), np.float32)
        uv[fvi] = st[ind]
        if not np.allclose(uv[fvi], st[ind], atol=1e-6):  # seams: a vertex with two uvs has no per-vertex uv
            return None
    else:
        return None
    return np.c_[uv[:, 0], 1.0 - uv[:, 1]].astype(np.float32)


def _open_usd_meshes(path: Path):
    from ._lazy import pxr
    Usd, UsdGeom = pxr("Usd"), pxr("UsdGeom")
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise AssetReadError(path, "USD stage could not be opened")
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    if not meshes:
        raise AssetReadError(path, "stage has no Mesh prims")
    return Usd, UsdGeom, stage, meshes


def load_usd_points(path, fps: float | None = None, clip: str | None = None) -> MeshSequence:
    """USD Mesh prims with time-sampled ``points`` (world space per time code), concatenated; the topology (and
    per-vertex ``primvars:st``) of the first time code. Value clips resolve through the stage."""
    path = Path(path)
    Usd, UsdGeom, stage, meshes = _open_usd_meshes(path)
    times_l = _usd_time_codes(meshes)
    if not times_l:
        from .usdskel import has_skin, read_rig_usd
        if has_skin(stage):  # a UsdSkel rig (what the rig writers author): bake its SkelAnimation
            seq = bake_clip(read_rig_usd(path), clip, "USD stage")
            if fps is not None:
                seq.fps = fps
            return seq
        raise InvalidInputError("no Mesh prim has time-sampled points nor a skinned mesh with a SkelAnimation: the "
                                "stage is not animated", field="points", source=str(path))
    frames, faces, uvs = [], None, None
    varying = any(m.GetFaceVertexIndicesAttr().ValueMightBeTimeVarying() for m in meshes)
    if fps is None:
        fps = float(stage.GetTimeCodesPerSecond() or 24.0)
    if not varying:
        return _usd_points_with_look(Usd, UsdGeom, meshes, times_l, fps, path)
    for ti, tc in enumerate(times_l):
        v, f, uv = _usd_frame(UsdGeom, Usd, meshes, tc, topology=ti == 0 or varying)
        if ti == 0:
            faces, uvs = f, uv
        elif len(v) != len(frames[0]) or (varying and not np.array_equal(f, faces)):
            raise InvalidInputError(f"topology changes at time {tc}: {len(v)} points instead of {len(frames[0])}"
                                    f" (read it with load_usd_frames)", field=f"frame {ti}", source=str(path))
        frames.append(v)
    if fps is None:
        fps = float(stage.GetTimeCodesPerSecond() or 24.0)
    return MeshSequence(np.stack(frames), faces if len(faces) else None, fps, path.stem, str(path), uvs=uvs)


def _usd_points_with_look(Usd, UsdGeom, meshes, times_l, fps, path) -> MeshSequence:
    """Fixed topology: the first time code's triangles, uvs and look (face-varying seams split, as
    :func:`sdk.io.usd_look.read_usd_mesh` does) and every time code's world points mapped onto those vertices."""
    from ..core.look import merge_looks
    from .usd_look import read_usd_mesh
    t0 = Usd.TimeCode(times_l[0])
    used = []
    for m in meshes:
        if UsdGeom.Imageable(m.GetPrim()).ComputeVisibility(t0) == UsdGeom.Tokens.invisible:
            continue
        um = read_usd_mesh(m.GetPrim(), times_l[0])
        if um is not None:
            used.append((m, um))
    if not used:
        raise InvalidInputError("no visible Mesh prim with faces", field="points", source=str(path))
    frames = []
    for ti, tc in enumerate(times_l):
        t = Usd.TimeCode(tc)
        cache = UsdGeom.XformCache(t)
        vs = []
        for m, um in used:
            p = np.asarray(m.GetPointsAttr().Get(t), dtype=np.float64)
            if len(p) <= um.vertex_of.max():
                raise InvalidInputError(f"topology changes at time {tc}: {m.GetPath()} has {len(p)} points (read it "
                                        f"with load_usd_frames)", field=f"frame {ti}", source=str(path))
            xf = np.asarray(cache.GetLocalToWorldTransform(m.GetPrim()), dtype=np.float64).T
            vs.append((p @ xf[:3, :3].T + xf[:3, 3])[um.vertex_of])
        frames.append(np.concatenate(vs))
    ums = [um for _, um in used]
    offs = np.cumsum([0] + [len(u.points) for u in ums])
    faces = np.concatenate([u.faces + o for u, o in zip(ums, offs)])
    uvs = (np.concatenate([u.uvs if u.uvs is not None else np.zeros((len(u.points), 2), np.float32) for u in ums])
           if any(u.uvs is not None for u in ums) else None)
    look = merge_looks([u.look for u in ums], [len(u.points) for u in ums], [len(u.faces) for u in ums])
    return MeshSequence(np.stack(frames), faces, fps, path.stem, str(path), uvs=uvs, look=look)


def load_usd_frames(path, fps: float | None = None) -> MeshFrames:
    """USD Mesh prims sampled at every time code of their points, each frame with its own topology (value clips,
    time-sampled topology, or per-frame prims switched by time-sampled visibility)."""
    path = Path(path)
    Usd, UsdGeom, stage, meshes = _open_usd_meshes(path)
    times_l = _usd_time_codes(meshes)
    if not times_l:  # per-frame prims with default points, switched by visibility
        times_l = sorted({t for m in meshes for t in m.GetVisibilityAttr().GetTimeSamples()})
    if not times_l:
        raise InvalidInputError("the stage is not animated (no time-sampled points or visibility)", field="points",
                                source=str(path))
    out = []
    for ti, tc in enumerate(times_l):
        v, f, uv = _usd_frame(UsdGeom, Usd, meshes, tc)
        out.append(Mesh(v, f, name=f"time {tc:g}", uvs=uv))
    if fps is None:
        fps = float(stage.GetTimeCodesPerSecond() or 24.0)
    return MeshFrames(out, fps, path.stem, str(path))


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
    return MeshSequence(z["vertices"], faces, fps, name, str(path), uvs=z["uvs"] if "uvs" in z else None)

def load_sequence(path, *, clip: str | None = None, mesh=None, fps: float | None = None) -> MeshSequence:
    """Read any supported sequence by its kind (see the module docstring); dispatches through the format registry."""
    from .formats import load_sequence as _load
    return _load(path, clip=clip, mesh=mesh, fps=fps)


def load_mesh_frames(path, *, clip: str | None = None, fps: float | None = None) -> MeshFrames:
    """Any supported input as per-frame meshes, whose topology may vary: a folder of OBJ/PLY/GLB frames, a USD
    cache (time samples, value clips or visibility-switched prims), or any fixed-topology sequence input."""
    path = Path(path)
    if not path.exists():
        raise no_such_file(path)
    if path.is_dir():
        return load_frames_folder_meshes(path, fps or 30.0)
    if path.suffix.lower() in (".usd", ".usda", ".usdc", ".usdz"):
        return load_usd_frames(path, fps)
    s = load_sequence(path, clip=clip, fps=fps)
    if s.faces is None:
        raise InvalidInputError("the sequence has no faces (point trajectories): a mesh cache needs faces",
                                field="faces", source=str(path))
    look = s.look.static() if s.look is not None else None  # frame 0's normals are not every frame's
    return MeshFrames([Mesh(v, s.faces, name=f"frame {t}", uvs=s.uvs, look=look) for t, v in enumerate(s.vertices)],
                      s.fps, s.name, s.source)
