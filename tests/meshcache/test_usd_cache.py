"""USD mesh caches: time-sampled points (fixed topology), value clips (varying topology), read back exactly."""
import numpy as np
import pytest

from exporters.usd_cache import cache_paths, write_mesh_cache_usd
from exporters.validate import validate_usd
from sdk.core import Mesh, MeshFrames, MeshSequence
from sdk.errors import InvalidInputError
from sdk.motionrig.sequence import load_sequence, load_usd_frames, load_usd_points


def test_fixed_topology_cache_round_trip(cesium_seq, tmp_path):
    pxr = pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom
    seq = cesium_seq
    out = write_mesh_cache_usd(seq, tmp_path / "cm.usdc", normals=True, velocities=True)
    assert validate_usd(out) == []
    files = cache_paths(out)
    assert files["cache"].exists() and files["asset"].stat().st_size < 4096  # the cache lives in its own layer
    stage = Usd.Stage.Open(str(out))
    assert stage.GetTimeCodesPerSecond() == seq.fps and stage.GetEndTimeCode() == seq.n_frames - 1
    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    prim = stage.GetDefaultPrim()
    assert prim.HasAuthoredReferences() and Usd.ModelAPI(prim).GetKind() == "component"
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath(f"{prim.GetPath()}/Mesh"))
    assert mesh.GetSubdivisionSchemeAttr().Get() == "none"
    # static topology and UVs: default values only, never time-sampled
    for attr in (mesh.GetFaceVertexIndicesAttr(), mesh.GetFaceVertexCountsAttr(),
                 UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").GetAttr()):
        assert attr.GetNumTimeSamples() == 0
    assert UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").GetInterpolation() == "faceVarying"
    ok, why = UsdGeom.Mesh.ValidateTopology(mesh.GetFaceVertexIndicesAttr().Get(), mesh.GetFaceVertexCountsAttr().Get(),
                                            seq.n_vertices)
    assert ok, why
    assert mesh.GetPointsAttr().GetNumTimeSamples() == seq.n_frames
    # extent per frame equals UsdGeom's own computation
    for t in (0, seq.n_frames // 2):
        ext = np.asarray(mesh.GetExtentAttr().Get(t))
        ref = np.asarray(UsdGeom.Boundable.ComputeExtentFromPlugins(mesh, Usd.TimeCode(t)))
        assert np.allclose(ext, ref)
    back = load_usd_points(out)
    assert np.array_equal(back.vertices, seq.vertices.astype(np.float32).astype(np.float64))
    assert np.array_equal(back.faces, seq.faces) and back.fps == seq.fps
    assert np.allclose(back.uvs, seq.uvs, atol=1e-7)
    # velocities: central differences in units per second
    vel = np.asarray(mesh.GetVelocitiesAttr().Get(5))
    assert np.allclose(vel, (seq.vertices[6] - seq.vertices[4]) / 2 * seq.fps, atol=1e-4)


def test_single_file_and_usda_and_z_up(fox_walk, tmp_path):
    from pxr import Usd, UsdGeom
    out = write_mesh_cache_usd(fox_walk, tmp_path / "fox.usda", separate_layer=False, up_axis="Z",
                               meters_per_unit=0.01)
    assert validate_usd(out) == [] and not cache_paths(out)["cache"].exists()
    st = Usd.Stage.Open(str(out))
    assert UsdGeom.GetStageUpAxis(st) == "Z" and UsdGeom.GetStageMetersPerUnit(st) == 0.01
    assert np.allclose(load_sequence(out).vertices, fox_walk.vertices, atol=1e-4)


def test_value_clips_varying_topology(tmp_path, varying_frames):
    from pxr import Usd
    fr = varying_frames(5)
    out = write_mesh_cache_usd(fr, tmp_path / "grow.usdc")
    assert validate_usd(out) == []
    p = cache_paths(out)
    assert p["clips"].is_dir() and len(list(p["clips"].iterdir())) == 5 and p["topology"].exists()
    cache = Usd.Stage.Open(str(p["cache"]))
    clips = Usd.ClipsAPI(cache.GetDefaultPrim())
    assert [tuple(a) for a in clips.GetClipActive()] == [(t, t) for t in range(5)]
    assert all(not a.path.startswith("/") for a in clips.GetClipAssetPaths())  # relative: the cache can be moved
    back = load_usd_frames(out)
    assert back.n_frames == 5 and back.fps == 24.0
    for a, b in zip(fr.frames, back.frames):
        assert np.allclose(a.vertices, b.vertices, atol=1e-6) and np.array_equal(a.faces, b.faces)
        assert np.allclose(a.uvs, b.uvs, atol=1e-6)
    with pytest.raises(InvalidInputError, match="topology changes"):
        load_usd_points(out)
    # the whole folder can move: paths are relative
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in p.values():
        f.rename(moved / f.name)
    assert load_usd_frames(moved / "grow.usdc").frames[3].n_vertices == 8


def test_stitched_clips_without_time_codes_are_rejected(tmp_path):
    """The StitchClips trap: clip layers without start/end time codes give active=[(0,0),(0,1),...]."""
    from pxr import Sdf, Usd, UsdGeom, UsdUtils

    from exporters.usd_cache import _check_clip_set
    files = []
    for t in range(3):
        p = tmp_path / f"c{t}.usda"
        st = Usd.Stage.CreateNew(str(p))
        UsdGeom.Xform.Define(st, "/R")
        UsdGeom.Mesh.Define(st, "/R/Mesh").CreatePointsAttr().Set([(0, 0, 0)] * (3 + t), t)
        st.GetRootLayer().Save()
        files.append(str(p))
    layer = Sdf.Layer.CreateNew(str(tmp_path / "bad.usda"))
    UsdUtils.StitchClips(layer, files, Sdf.Path("/R"), 0, 2)
    stage = Usd.Stage.Open(layer)
    with pytest.raises(InvalidInputError, match="one clip per frame"):
        _check_clip_set(Usd, stage.GetPrimAtPath("/R"), 3, "bad.usda")


def test_visibility_fallback(tmp_path, varying_frames):
    fr = varying_frames(3)
    out = write_mesh_cache_usd(fr, tmp_path / "vis.usda", varying="visibility", separate_layer=False)
    assert validate_usd(out) == []
    back = load_usd_frames(out)
    assert [m.n_vertices for m in back.frames] == [5, 6, 7]


def test_bad_input_names_frame_and_leaves_nothing(tmp_path, varying_frames):
    v = np.random.default_rng(0).random((4, 5, 3))
    v[2, 3, 1] = np.nan
    with pytest.raises(InvalidInputError, match="frame 2"):
        write_mesh_cache_usd(MeshSequence(v, [[0, 1, 2]]), tmp_path / "x.usdc")
    fr = varying_frames(3)
    fr.frames[1] = Mesh(np.zeros((0, 3)), np.zeros((0, 3)), name="empty")
    with pytest.raises(InvalidInputError, match="frame 1"):
        write_mesh_cache_usd(fr, tmp_path / "y.usdc")
    with pytest.raises(InvalidInputError, match="faces"):
        write_mesh_cache_usd(MeshSequence(np.ones((3, 4, 3))), tmp_path / "z.usdc")
    with pytest.raises(InvalidInputError, match="must end in"):
        write_mesh_cache_usd(MeshSequence(np.ones((3, 4, 3)), [[0, 1, 2]]), tmp_path / "z.abc")
    assert list(tmp_path.iterdir()) == []  # no partial outputs, no temporary folders


def test_meshframes_fixed_topology_becomes_time_samples(fox_walk, tmp_path):
    fr = MeshFrames([Mesh(v, fox_walk.faces, uvs=fox_walk.uvs) for v in fox_walk.vertices[:5]], fps=30)
    out = write_mesh_cache_usd(fr, tmp_path / "f.usdc")
    assert not cache_paths(out)["clips"].exists()
    assert load_usd_points(out).n_frames == 5
