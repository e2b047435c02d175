"""glTF morph flipbook, Alembic through bpy, and ``articulate mesh-cache``."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from exporters.gltf_morph import write_mesh_cache_gltf
from exporters.validate import validate_usd
from sdk.cli import main
from sdk.core import MeshSequence
from sdk.errors import InvalidInputError
from sdk.motionrig.sequence import load_sequence, load_usd_points


def _read_flipbook(path):
    """Independent reader: base POSITION + the morph target the STEP weights select at each key."""
    import pygltflib as G
    g = G.GLTF2().load(str(path))
    blob = g.binary_blob()

    def acc(i):
        a = g.accessors[i]
        v = g.bufferViews[a.bufferView]
        n = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[a.type]
        dt = {5126: np.float32, 5125: np.uint32}[a.componentType]
        return np.frombuffer(blob, dt, a.count * n, v.byteOffset + (a.byteOffset or 0)).reshape(a.count, n)

    prim = g.meshes[0].primitives[0]
    base = acc(prim.attributes.POSITION).astype(np.float64)
    s = g.animations[0].samplers[0]
    assert s.interpolation == "STEP" and g.animations[0].channels[0].target.path == "weights"
    times = acc(s.input)[:, 0]
    T = len(prim.targets)
    w = acc(s.output).reshape(len(times), T)
    deltas = np.stack([acc(t.POSITION if hasattr(t, "POSITION") else t["POSITION"]) for t in prim.targets])
    return base[None] + np.einsum("kt,tvc->kvc", w, deltas), times, acc(prim.attributes.TEXCOORD_0)


def test_gltf_morph_flipbook(fox_walk, tmp_path):
    out = write_mesh_cache_gltf(fox_walk, tmp_path / "fox.glb")
    v, times, uv = _read_flipbook(out)
    assert np.abs(v - fox_walk.vertices).max() < 1e-4 * max(fox_walk.bbox_diagonal, 1)
    assert np.allclose(times, np.arange(fox_walk.n_frames) / fox_walk.fps)
    assert np.array_equal(uv, fox_walk.uvs)


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy (optional extra 'alembic') not installed")
def test_alembic_through_blender(fox_walk, tmp_path):
    from exporters.alembic import read_alembic_points, write_mesh_cache_alembic
    seq = MeshSequence(fox_walk.vertices[:8], fox_walk.faces, fox_walk.fps, "fox", uvs=fox_walk.uvs)
    out = write_mesh_cache_alembic(seq, tmp_path / "fox.abc")
    v, f = read_alembic_points(out, seq.n_frames, seq.fps)
    assert v.shape == seq.vertices.shape
    assert np.abs(v - seq.vertices).max() < 1e-5 * seq.bbox_diagonal  # every frame, not just the ends
    assert len(f) == len(seq.faces)
    assert [p.name for p in tmp_path.iterdir()] == ["fox.abc"]


def test_cli_shared_clip_to_usdc_glb(shared_data, tmp_path, capsys):
    glb = shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb"
    out = tmp_path / "cm.usdc"
    assert main(["mesh-cache", str(glb), "-o", str(out)]) == 0
    assert validate_usd(out) == [] and out.with_suffix(".gif").exists()
    ref = load_sequence(glb)
    back = load_usd_points(out)
    assert np.array_equal(back.vertices, ref.vertices.astype(np.float32).astype(np.float64))
    assert main(["mesh-cache", str(glb), "-o", str(tmp_path / "cm.glb"), "--no-preview", "--max-frames", "10"]) == 0
    assert _read_flipbook(tmp_path / "cm.glb")[0].shape[0] == 10


def _write_obj(path, v, f):
    path.write_text("".join(f"v {a} {b} {c}\n" for a, b, c in v) + "".join(f"f {a+1} {b+1} {c+1}\n" for a, b, c in f))


def test_cli_folder_value_clips_and_bad_input(tmp_path, capsys, varying_frames):
    fr = varying_frames(4)
    d = tmp_path / "frames"
    d.mkdir()
    for t, m in enumerate(fr.frames):
        _write_obj(d / f"frame_{t}.obj", m.vertices, m.faces)
    assert main(["mesh-cache", str(d), "-o", str(tmp_path / "g.usdc"), "--no-preview"]) == 0
    assert validate_usd(tmp_path / "g.usdc") == []
    # varying topology cannot be a flipbook: named frame, exit 2, nothing written
    assert main(["mesh-cache", str(d), "-o", str(tmp_path / "g.glb")]) == 2
    assert "frame 1" in capsys.readouterr().err and not (tmp_path / "g.glb").exists()
    # NaN in one frame
    (d / "frame_2.obj").write_text("v 0 0 0\nv 1 nan 0\nv 0 1 0\nf 1 2 3\n")
    assert main(["mesh-cache", str(d), "-o", str(tmp_path / "n.usdc")]) == 2
    err = capsys.readouterr().err
    assert "frame 2" in err and "Traceback" not in err and not (tmp_path / "n.usdc").exists()
    # mixed files
    _write_obj(d / "frame_2.obj", fr.frames[2].vertices, fr.frames[2].faces)
    (d / "frame_9.ply").write_text("ply\n")
    assert main(["mesh-cache", str(d), "-o", str(tmp_path / "m.usdc")]) == 2
    assert "mixes" in capsys.readouterr().err
    # one frame
    (d / "frame_9.ply").unlink()
    for t in (1, 2, 3):
        (d / f"frame_{t}.obj").unlink()
    assert main(["mesh-cache", str(d), "-o", str(tmp_path / "o.usdc")]) == 2
    assert "1 frame" in capsys.readouterr().err
    # empty frame
    (d / "frame_1.obj").write_text("# nothing\n")
    assert main(["mesh-cache", str(d), "-o", str(tmp_path / "e.usdc")]) == 2
    assert "frame 1" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "g.cache.manifest.usdc", "g.cache.topology.usdc",
                                                          "g.cache.usdc", "g.clips", "g.usdc"]


def test_cli_register_folder_to_fixed_topology_cache(tmp_path, blob_frames):
    d = tmp_path / "frames"
    d.mkdir()
    for t, m in enumerate(blob_frames.frames):
        _write_obj(d / f"f_{t:02d}.obj", m.vertices, m.faces)
    out = tmp_path / "reg.usdc"
    assert main(["mesh-cache", str(d), "-o", str(out), "--register", "--iterations", "10", "--no-preview"]) == 0
    assert validate_usd(out) == []
    seq = load_usd_points(out)
    assert seq.n_frames == 3 and seq.n_vertices == blob_frames.frames[0].n_vertices
    rep = __import__("json").loads(out.with_suffix(".json").read_text())
    assert rep["mode"] == "template" and len(rep["per_frame"]) == 3
    # the registered frames follow the motion (shift of 0.05 per frame along x)
    c = seq.vertices.mean(1)
    assert np.allclose(c[1:, 0] - c[0, 0], [0.05, 0.10], atol=0.01)


def test_registered_sequence_rigs_from_motion(blob_frames):
    from sdk.motionrig.pipeline import rig_from_motion
    from sdk.registration import RegistrationConfig, register_frames
    seq, _ = register_frames(blob_frames, RegistrationConfig(iterations=10))
    rig, rep = rig_from_motion(seq, max_bones=2)
    assert rig.mesh.n_vertices == seq.n_vertices and rep["rmse_pct"] < 1.0


def test_rig_from_motion_accepts_meshframes_and_names_topology_change(blob_frames):
    from sdk.motionrig.pipeline import rig_from_motion
    with pytest.raises(InvalidInputError, match="topology changes at frame 1"):
        rig_from_motion(blob_frames)
