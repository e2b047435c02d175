"""Write 4D mesh caches as USD: time-sampled points on one ``UsdGeom.Mesh`` (fixed topology) or value clips
(topology changing per frame).

Files written for ``write_mesh_cache_usd(seq, "out/Walk.usdc")``::

    out/Walk.usdc              the asset: stage metadata (timeCodesPerSecond, start/endTimeCode, upAxis,
                               metersPerUnit), defaultPrim /<Name> (Xform, kind=component) that *references*
    out/Walk.cache.usdc        the cache layer: /<Name>/Mesh with static topology (faceVertexCounts/Indices,
                               subdivisionScheme "none", face-varying primvars:st), time-sampled points + extent
                               (+ optional normals, velocities)

Varying topology (:class:`~sdk.core.MeshFrames`), ``varying="clips"`` (default)::

    out/Walk.usdc              the asset (as above), referencing
    out/Walk.cache.usdc        the clip-set layer written by ``UsdUtils.StitchClips`` (clips.assetPaths/active/times)
    out/Walk.cache.topology.usdc, out/Walk.cache.manifest.usdc   the topology and manifest layers StitchClips writes
    out/Walk.clips/frame_00000.usdc ...  one layer per frame; each sets startTimeCode = endTimeCode = its frame
                               (without that StitchClips emits ``active=[(0,0),(0,1),...]``, which USD rejects; the
                               writer checks the stitched result and refuses such output).

Documented fallback, ``varying="visibility"``: one Mesh prim per frame under /<Name>/Frames with time-sampled
``visibility`` (``inherited`` at its frame only). It is validator-clean and plays in every USD consumer, but every
frame is loaded at once.

Static data is never time-sampled (importers break on time-sampled UVs). UVs: per-vertex ``uvs [V, 2]`` in the glTF
convention become indexed face-varying ``primvars:st`` with ``st = (u, 1 - v)`` (USD's origin is bottom-left). A fixed-
topology cache also keeps the sequence's look (further UV sets, colours, materials with their textures next to the
asset, GeomSubsets per primitive; ``exporters.usd_look``); normals and tangents deform, so they are not static.
Outputs are atomic: the side files are written into a temporary folder, moved into place, and the asset last.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sdk.core import Mesh, MeshFrames, MeshSequence, sanitize_name
from sdk.errors import InvalidInputError

from ._pxr import pxr

_SUFFIXES = (".usd", ".usda", ".usdc")


@dataclass
class UsdCacheOptions:
    up_axis: str = "Y"
    meters_per_unit: float = 1.0
    normals: bool = False  # author per-frame vertex normals (omit to let consumers compute them)
    velocities: bool = False  # author per-frame velocities (units per second) for motion blur
    separate_layer: bool = True  # the cache in its own layer referenced from the asset (False: one file)
    varying: str = "clips"  # topology-varying frames: "clips" (value clips) or "visibility" (fallback)
    name: str | None = None


def cache_paths(path) -> dict[str, Path]:
    """The files a cache at ``path`` consists of (asset, cache layer, topology layer, clip folder)."""
    path = Path(path)
    ext = ".usdc" if path.suffix.lower() == ".usd" else path.suffix.lower()
    return {"asset": path, "cache": path.with_name(f"{path.stem}.cache{ext}"),
            "topology": path.with_name(f"{path.stem}.cache.topology{ext}"),
            "manifest": path.with_name(f"{path.stem}.cache.manifest{ext}"), "clips": path.with_name(f"{path.stem}.clips")}


# ---------------------------------------------------------------------------------------------- helpers
def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:  # v [V,3], f [F,3] -> [V,3] (area weighted)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    out = np.zeros_like(v)
    for c in range(3):
        np.add.at(out, f[:, c], n)
    ln = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(ln > 0, ln, 1)


def _stage_metadata(UsdGeom, stage, opts: UsdCacheOptions, n_frames: int, fps: float):
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y if opts.up_axis == "Y" else UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, float(opts.meters_per_unit))
    stage.SetStartTimeCode(0)
    stage.SetEndTimeCode(max(n_frames - 1, 0))
    stage.SetTimeCodesPerSecond(float(fps))
    stage.SetFramesPerSecond(float(fps))


def _author_topology(Vt, UsdGeom, Sdf, mesh_prim, faces: np.ndarray, uvs: np.ndarray | None, time=None):
    """Counts, indices, subdivision and (face-varying) st; ``time`` None = default value (static)."""
    from pxr import Usd
    t = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    mesh_prim.CreateFaceVertexCountsAttr().Set(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)), t)
    mesh_prim.CreateFaceVertexIndicesAttr().Set(Vt.IntArray.FromNumpy(faces.astype(np.int32).ravel()), t)
    if uvs is not None:
        st = UsdGeom.PrimvarsAPI(mesh_prim).CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray,
                                                          UsdGeom.Tokens.faceVarying)
        st.Set(Vt.Vec2fArray.FromNumpy(np.c_[uvs[:, 0], 1.0 - uvs[:, 1]].astype(np.float32)), t)
        st.SetIndices(Vt.IntArray.FromNumpy(faces.astype(np.int32).ravel()), t)


def _define_mesh(UsdGeom, stage, path: str):
    m = UsdGeom.Mesh.Define(stage, path)
    m.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    m.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    return m


def _extent(Vt, Gf, v: np.ndarray):
    lo, hi = v.min(0), v.max(0)
    return Vt.Vec3fArray([Gf.Vec3f(*lo.tolist()), Gf.Vec3f(*hi.tolist())])


def _check_input(seq) -> MeshSequence | MeshFrames:
    if isinstance(seq, MeshFrames):
        seq.validate(min_frames=1)
        if seq.fixed_topology:
            return seq.to_sequence()
        return seq
    if not isinstance(seq, MeshSequence):
        raise InvalidInputError(f"expected a MeshSequence or MeshFrames, got {type(seq).__name__}", field="sequence")
    if seq.faces is None:
        raise InvalidInputError("a mesh cache needs faces (the sequence has points only)", field="faces",
                                source=seq.source)
    if seq.n_frames < 1 or seq.n_vertices == 0:
        raise InvalidInputError(f"sequence is empty ({seq.n_frames} frames, {seq.n_vertices} vertices)",
                                field="vertices", source=seq.source)
    bad = ~np.isfinite(seq.vertices).all(axis=(1, 2))
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"frame {t} has non-finite vertices ({int(bad.sum())} such frames)",
                                field=f"frame {t}", source=seq.source)
    f = seq.faces
    if f.min() < 0 or f.max() >= seq.n_vertices:
        raise InvalidInputError(f"faces reference vertices out of range (sequence has {seq.n_vertices})",
                                field="faces", source=seq.source)
    if seq.uvs is not None and len(seq.uvs) != seq.n_vertices:
        raise InvalidInputError(f"{len(seq.uvs)} uvs for {seq.n_vertices} vertices", field="uvs", source=seq.source)
    if not seq.fps > 0:
        raise InvalidInputError(f"fps must be positive, got {seq.fps}", field="fps", source=seq.source)
    return seq


# ---------------------------------------------------------------------------------------------- fixed topology
def _write_points_layer(pxrm, stage, prim_path: str, seq: MeshSequence, opts: UsdCacheOptions, asset_path: Path):
    Usd, UsdGeom, Sdf, Vt, Gf = pxrm
    m = _define_mesh(UsdGeom, stage, prim_path)
    _author_topology(Vt, UsdGeom, Sdf, m, seq.faces, None)
    from .usd_look import write_look_usd
    write_look_usd(stage, m.GetPrim(), Mesh(seq.vertices[0], seq.faces, uvs=seq.uvs, look=seq.look.static() if seq.look is not None else None),
                   asset_path, looks_path=prim_path.rsplit("/", 1)[0] + "/Looks", interpolation="faceVarying")
    pts_attr, ext_attr = m.CreatePointsAttr(), m.CreateExtentAttr()
    v32 = seq.vertices.astype(np.float32)
    pts_attr.Set(Vt.Vec3fArray.FromNumpy(v32[0]))  # default for consumers that are not time-aware
    ext_attr.Set(_extent(Vt, Gf, v32[0]))
    nrm_attr = m.CreateNormalsAttr() if opts.normals else None
    if nrm_attr is not None:
        m.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    vel_attr = m.CreateVelocitiesAttr() if opts.velocities else None
    vel = None
    if vel_attr is not None:
        vel = np.gradient(seq.vertices, axis=0) * seq.fps if seq.n_frames > 1 else np.zeros_like(seq.vertices)
    for t in range(seq.n_frames):
        pts_attr.Set(Vt.Vec3fArray.FromNumpy(v32[t]), t)
        ext_attr.Set(_extent(Vt, Gf, v32[t]), t)
        if nrm_attr is not None:
            nrm_attr.Set(Vt.Vec3fArray.FromNumpy(_vertex_normals(seq.vertices[t], seq.faces).astype(np.float32)), t)
        if vel_attr is not None:
            vel_attr.Set(Vt.Vec3fArray.FromNumpy(vel[t].astype(np.float32)), t)
    return m


# ---------------------------------------------------------------------------------------------- varying topology
def _write_clip_layers(pxrm, tmpdir: Path, ext: str, root: str, frames: MeshFrames, opts, clips_dirname: str):
    Usd, UsdGeom, Sdf, Vt, Gf = pxrm
    clip_dir = tmpdir / clips_dirname
    clip_dir.mkdir()
    files = []
    for t, mesh in enumerate(frames.frames):
        p = clip_dir / f"frame_{t:05d}{ext}"
        st = Usd.Stage.CreateNew(str(p))
        # each clip layer names its own time range: StitchClips derives clips.active/times from it
        st.SetStartTimeCode(t)
        st.SetEndTimeCode(t)
        st.SetTimeCodesPerSecond(float(frames.fps))
        st.SetFramesPerSecond(float(frames.fps))
        UsdGeom.Xform.Define(st, f"/{root}")
        m = _define_mesh(UsdGeom, st, f"/{root}/Mesh")
        v = mesh.vertices.astype(np.float32)
        _author_topology(Vt, UsdGeom, Sdf, m, mesh.faces, mesh.uvs, time=t)  # clips carry time samples only
        m.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(v), t)
        m.CreateExtentAttr().Set(_extent(Vt, Gf, v), t)
        if opts.normals:
            m.CreateNormalsAttr().Set(Vt.Vec3fArray.FromNumpy(_vertex_normals(mesh.vertices, mesh.faces)
                                                               .astype(np.float32)), t)
            m.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        st.GetRootLayer().Save()
        files.append(p)
    return files


def _check_clip_set(Usd, prim, n_frames: int, where: str):
    """Refuse a stitched clip set whose activation is not one clip per frame (StitchClips without per-layer
    start/end time codes writes active=[(0,0),(0,1),...], which USD rejects)."""
    clips = Usd.ClipsAPI(prim)
    active = [tuple(a) for a in (clips.GetClipActive() or [])]
    want = [(float(t), float(t)) for t in range(n_frames)]
    if [(float(a), float(b)) for a, b in active] != want:
        raise InvalidInputError(f"stitched value clips are not one clip per frame (clips.active {active[:4]}...); "
                                f"each clip layer must set startTimeCode = endTimeCode = its frame", field="clips",
                                source=where)


def _write_visibility_frames(pxrm, stage, root: str, frames: MeshFrames, opts):
    Usd, UsdGeom, Sdf, Vt, Gf = pxrm
    UsdGeom.Scope.Define(stage, f"/{root}/Frames")
    T = frames.n_frames
    for t, mesh in enumerate(frames.frames):
        m = _define_mesh(UsdGeom, stage, f"/{root}/Frames/Frame_{t:05d}")
        _author_topology(Vt, UsdGeom, Sdf, m, mesh.faces, mesh.uvs)
        v = mesh.vertices.astype(np.float32)
        m.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(v))
        m.CreateExtentAttr(_extent(Vt, Gf, v))
        vis = m.CreateVisibilityAttr()
        vis.Set(UsdGeom.Tokens.invisible if t else UsdGeom.Tokens.inherited, 0)
        if t:
            vis.Set(UsdGeom.Tokens.inherited, t)
        if t + 1 < T:
            vis.Set(UsdGeom.Tokens.invisible, t + 1)
    return stage


# ---------------------------------------------------------------------------------------------- entry point
def write_mesh_cache_usd(seq: MeshSequence | MeshFrames, path, *, up_axis: str = "Y", meters_per_unit: float = 1.0,
                         normals: bool = False, velocities: bool = False, separate_layer: bool = True,
                         varying: str = "clips", name: str | None = None) -> Path:
    """Write ``seq`` as a USD mesh cache at ``path`` (.usdc default, .usda, .usd); returns the asset path.

    A :class:`MeshSequence` (or :class:`MeshFrames` whose frames share one topology) becomes time-sampled points;
    varying topology becomes value clips (``varying="clips"``) or per-frame prims with time-sampled visibility
    (``varying="visibility"``). See the module docstring for the file layout.
    """
    opts = UsdCacheOptions(up_axis.upper(), meters_per_unit, normals, velocities, separate_layer, varying, name)
    if opts.up_axis not in ("Y", "Z"):
        raise InvalidInputError(f"up axis must be Y or Z, got {up_axis!r}", field="up_axis")
    if not meters_per_unit > 0:
        raise InvalidInputError(f"meters_per_unit must be positive, got {meters_per_unit}", field="meters_per_unit")
    if varying not in ("clips", "visibility"):
        raise InvalidInputError(f"varying must be 'clips' or 'visibility', got {varying!r}", field="varying")
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise InvalidInputError(f"USD output must end in .usdc, .usda or .usd, got '{path.suffix}'", field="output")
    seq = _check_input(seq)
    pxrm = pxr("Usd", "UsdGeom", "Sdf", "Vt", "Gf")
    Usd, UsdGeom, Sdf, Vt, Gf = pxrm
    root = sanitize_name(name or seq.name or "Cache")
    n_frames, fps = seq.n_frames, float(seq.fps)
    names = cache_paths(path)
    ext = names["cache"].suffix
    clips = isinstance(seq, MeshFrames) and varying == "clips"
    side_layer = separate_layer or clips

    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    try:
        asset_tmp = tmpdir / path.name
        if side_layer:
            cache_tmp = tmpdir / names["cache"].name
            if clips:
                files = _write_clip_layers(pxrm, tmpdir, ext, root, seq, opts, names["clips"].name)
                UsdUtils = pxr("UsdUtils")
                layer = Sdf.Layer.CreateNew(str(cache_tmp))
                # also writes the topology (manifest) layer <cache>.topology<ext> beside it
                UsdUtils.StitchClips(layer, [str(f) for f in files], Sdf.Path(f"/{root}"), 0, n_frames - 1)
                layer.Save()
                # StitchClips writes absolute asset paths of the temporary folder: make them relative
                _relativize_clip_paths(Sdf, layer, tmpdir)
                cstage = Usd.Stage.Open(layer)
            else:
                cstage = Usd.Stage.CreateNew(str(cache_tmp))
                UsdGeom.Xform.Define(cstage, f"/{root}")
                _write_points_layer(pxrm, cstage, f"/{root}/Mesh", seq, opts, path)
            _stage_metadata(UsdGeom, cstage, opts, n_frames, fps)
            cstage.SetDefaultPrim(cstage.GetPrimAtPath(f"/{root}"))
            cstage.GetRootLayer().Save()
            if clips:
                _check_clip_set(Usd, cstage.GetPrimAtPath(f"/{root}"), n_frames, str(path))
            stage = Usd.Stage.CreateNew(str(asset_tmp))
            _stage_metadata(UsdGeom, stage, opts, n_frames, fps)
            xf = UsdGeom.Xform.Define(stage, f"/{root}")
            xf.GetPrim().GetReferences().AddReference(f"./{names['cache'].name}")
        else:
            stage = Usd.Stage.CreateNew(str(asset_tmp))
            _stage_metadata(UsdGeom, stage, opts, n_frames, fps)
            xf = UsdGeom.Xform.Define(stage, f"/{root}")
            if isinstance(seq, MeshFrames):
                _write_visibility_frames(pxrm, stage, root, seq, opts)
            else:
                _write_points_layer(pxrm, stage, f"/{root}/Mesh", seq, opts, path)
        Usd.ModelAPI(xf.GetPrim()).SetKind("component")
        stage.SetDefaultPrim(xf.GetPrim())
        stage.GetRootLayer().Save()
        del stage
        # move side files first, the asset last (its presence means the cache is complete)
        for key in ("clips", "topology", "manifest", "cache"):
            src = tmpdir / names[key].name
            if src.exists():
                if names[key].is_dir():
                    shutil.rmtree(names[key])
                os.replace(src, names[key])
        for key in ("clips", "topology", "manifest", "cache"):  # stale files of an earlier, different cache
            if not (tmpdir / names[key].name).exists() and names[key].exists() and not side_layer:
                shutil.rmtree(names[key]) if names[key].is_dir() else names[key].unlink()
        os.replace(asset_tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def _relativize_clip_paths(Sdf, layer, tmpdir: Path):
    """Rewrite the clip and manifest asset paths StitchClips authored as paths relative to the layer."""
    base = str(tmpdir)
    for prim_spec in layer.rootPrims:
        clips = prim_spec.GetInfo("clips") if prim_spec.HasInfo("clips") else None
        if not clips:
            continue
        d = dict(clips)
        for set_name, info in d.items():
            info = dict(info)
            if "assetPaths" in info:
                info["assetPaths"] = Sdf.AssetPathArray([_rel(p.path, base) for p in info["assetPaths"]])
            if "manifestAssetPath" in info:
                info["manifestAssetPath"] = Sdf.AssetPath(_rel(info["manifestAssetPath"].path, base))
            d[set_name] = info
        prim_spec.SetInfo("clips", d)
    for i, sub in enumerate(list(layer.subLayerPaths)):
        layer.subLayerPaths[i] = _rel(sub, base)
    layer.Save()


def _rel(p: str, base: str) -> str:
    if os.path.isabs(p) and p.startswith(base):
        return "./" + os.path.relpath(p, base).replace(os.sep, "/")
    return p

