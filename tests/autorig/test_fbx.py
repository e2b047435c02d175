"""FBX export through Blender's exporter, read back by an independent reader (assimp) and by Blender.

One module on purpose: importing bpy takes seconds.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("bpy", reason="FBX export needs the optional [fbx] extra (bpy==5.0.1)")

from exporters.fbx import write_rig_fbx  # noqa: E402
from sdk.autorig import autorig  # noqa: E402
from sdk.core import Mesh  # noqa: E402
from sdk.io.fbx import fbx_global_settings, read_fbx  # noqa: E402
from sdk.procedural.character import biped  # noqa: E402
from sdk.validation import TARGETS, validate_file  # noqa: E402

ASSIMP = shutil.which("assimp")


@pytest.fixture(scope="module")
def char(tmp_path_factory):
    v, f, _ = biped(resolution=40)
    rig = autorig(Mesh(v, f, name="hero"))
    out = write_rig_fbx(rig, tmp_path_factory.mktemp("fbx") / "hero.fbx")
    return rig, out


def _assimp_tree(path) -> tuple[dict, list[tuple[int, str]]]:
    txt = subprocess.run([ASSIMP, "info", str(path)], capture_output=True, text=True, timeout=120).stdout
    stats = {k: int(v) for k, v in re.findall(r"^(Vertices|Faces|Bones|Meshes|Animations):\s+(\d+)", txt, re.M)}
    tree = []
    body = txt.split("Node hierarchy:", 1)[1].splitlines()
    for line in body:
        m = re.match(r"^([│ ]*)(?:[├└]╴)?(\S.*)$", line)
        if not m or not line.strip():
            continue
        depth = len(m.group(1)) // 2 + (1 if re.search(r"[├└]╴", line) else 0)
        tree.append((depth, m.group(2).strip()))
    return stats, tree


@pytest.mark.skipif(ASSIMP is None, reason="the assimp command-line tool is not installed (apt install assimp-utils)")
def test_assimp_reads_same_joints_and_vertices(char):
    rig, path = char
    stats, tree = _assimp_tree(path)
    unique = len(np.unique(rig.mesh.vertices.round(6), axis=0))
    assert stats["Vertices"] == unique and stats["Faces"] == rig.mesh.n_faces
    assert stats["Bones"] == rig.skeleton.n_joints and stats["Meshes"] == 1
    names = [n for _, n in tree]
    assert names[0] == "RootNode"
    # the armature container holds exactly one child: the root bone (no extra 'Armature' bone, no _end leaves)
    ia = names.index("Armature")
    da = tree[ia][0]
    kids = [n for d, n in tree[ia + 1:] if d == da + 1]
    assert kids[:1] == ["root"]
    bones = [n for d, n in tree if d > da and not n.endswith("(mesh 0)")]
    bones = bones[:rig.skeleton.n_joints]
    assert bones == [n for n in rig.skeleton.names if n in bones] and set(bones) == set(rig.skeleton.names)
    assert not any(n.endswith("_end") for n in names)
    # centimetres: a 1.8 m character is ~180 units tall
    txt = subprocess.run([ASSIMP, "info", str(path)], capture_output=True, text=True, timeout=120).stdout
    lo = [float(x) for x in re.search(r"Minimum point\s+\(([^)]*)\)", txt).group(1).split()]
    hi = [float(x) for x in re.search(r"Maximum point\s+\(([^)]*)\)", txt).group(1).split()]
    assert 170 < hi[1] - lo[1] < 190


def test_units_axes_and_blender_roundtrip(char):
    rig, path = char
    gs = fbx_global_settings(path)
    assert gs["UnitScaleFactor"] == 1.0 and gs["UpAxis"] == 1
    back = read_fbx(path).rig
    assert back.skeleton.names == rig.skeleton.names
    np.testing.assert_array_equal(back.skeleton.parents, rig.skeleton.parents)
    np.testing.assert_allclose(back.skeleton.joint_positions(), rig.skeleton.joint_positions(), atol=1e-4)
    np.testing.assert_allclose(back.mesh.vertices, rig.mesh.vertices, atol=1e-4)
    # joint frames survive: UE5 profile +X along the bone, zero-rotation root
    np.testing.assert_allclose(back.skeleton.bind_world[:, :3, :3], rig.skeleton.bind_world[:, :3, :3], atol=1e-4)
    W0, W1 = rig.skin.to_dense(rig.skeleton.n_joints), back.skin.to_dense(back.skeleton.n_joints)
    assert np.abs(W0 - W1).max() < 1e-3


def test_animation_clip_roundtrip(tmp_path, shared_data):
    """A glTF clip (CesiumMan's walk) survives FBX: Blender's posed mesh = our LBS of the clip."""
    from sdk.io import load_asset
    gt = load_asset(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb").rig
    path = write_rig_fbx(gt, tmp_path / "walk.fbx", target="gltf")
    back = read_fbx(path).rig
    assert len(back.animations) == 1 and back.animations[0].n_frames == gt.animations[0].n_frames
    f = [0, 17, 41]
    ours = gt.pose(gt.animations[0].world_matrices(gt.skeleton.parents)[f])
    theirs = back.pose(back.animations[0].world_matrices(back.skeleton.parents)[f])
    assert np.abs(ours - theirs).max() < 1e-4 * gt.mesh.bbox_diagonal
    if ASSIMP:
        stats, _ = _assimp_tree(path)
        assert stats["Animations"] == 1


def test_fbx_validates_clean_and_cli_writes_report(char, tmp_path, samples_dir):
    import json
    from sdk.cli import main
    rig, path = char
    for t in TARGETS:
        rep = validate_file(path, t)
        assert rep.clean, rep.format_text()
    out = tmp_path / "character.fbx"
    assert main(["rig", str(samples_dir / "character.obj"), "-o", str(out), "--no-preview", "--naming", "unity"]) == 0
    rep = json.loads((tmp_path / "character.fbx.validation.json").read_text())
    assert rep["clean"] and rep["target"] == "ue5"
    hum = json.loads((tmp_path / "character.fbx.humanoid.json").read_text())
    assert hum["LeftUpperArm"] == "LeftUpperArm"
    assert main(["validate", str(out), "--target", "unity", "--strict"]) == 0


def test_retarget_cli_onto_fbx_rig(char, tmp_path, shared_data):
    from sdk.cli import main
    rig, path = char
    out = tmp_path / "walk.fbx"
    src = shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb"
    assert main(["retarget", str(src), str(path), "-o", str(out)]) == 0
    back = read_fbx(out).rig
    assert back.skeleton.names == rig.skeleton.names and len(back.animations) == 1
    V = back.pose(back.animations[0].world_matrices(back.skeleton.parents)[[0, 20]])
    h = V[..., 1].max(-1) - V[..., 1].min(-1)
    assert np.all(h > 0.8 * 1.8)  # still standing (the source's Z-up bind space is accounted for)
    assert validate_file(out, "ue5").clean


def test_parts_and_motion_rigs_export_too(tmp_path, samples_dir):
    """Rigs from the other paths go to FBX as well: a motion rig keeps its clip; UVs survive."""
    from sdk import Articulator
    rig = Articulator().rig_from_motion(samples_dir / "arm_motion.npz")
    u = rig.mesh.vertices[:, :2]
    rig.mesh.uvs = ((u - u.min(0)) / np.ptp(u, 0)).astype(np.float32)
    path = write_rig_fbx(rig, tmp_path / "arm.fbx", target="gltf")
    back = read_fbx(path).rig
    assert back.skeleton.names == rig.skeleton.names and len(back.animations) == len(rig.animations)
    f = [0, 7, 19]
    v0 = rig.pose(rig.animations[0].world_matrices(rig.skeleton.parents)[f])
    v1 = back.pose(back.animations[0].world_matrices(back.skeleton.parents)[f])
    assert np.abs(v0 - v1).max() < 1e-3 * rig.mesh.bbox_diagonal
    np.testing.assert_allclose(back.mesh.uvs, rig.mesh.uvs, atol=1e-5)
    parts = Articulator().rig(samples_dir / "critter.obj")
    assert read_fbx(write_rig_fbx(parts, tmp_path / "critter.fbx")).rig.skeleton.names == parts.skeleton.names


def test_cesiumman_mesh_only_to_usd_glb_fbx(tmp_path, shared_data):
    """Must-show: the shared CesiumMan mesh with its skin dropped -> clean USD, GLB and FBX with UE5 names."""
    from exporters.validate import validate_usd
    from sdk import Articulator
    from sdk.cli.rig import export_rig
    from sdk.io import load_asset
    a = load_asset(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")
    plain = Mesh(a.mesh.vertices, a.mesh.faces, name="CesiumMan")  # no skin, no parts
    rig = Articulator().rig(plain)
    ue5 = ["root", "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head", "clavicle_l", "upperarm_l",
           "lowerarm_l", "hand_l", "clavicle_r", "upperarm_r", "lowerarm_r", "hand_r", "thigh_l", "calf_l", "foot_l",
           "ball_l", "thigh_r", "calf_r", "foot_r", "ball_r"]
    assert rig.skeleton.names == ue5 and rig.metadata["template"] == "biped"
    np.testing.assert_allclose(rig.metadata["detected_up"], [0, 0, 1], atol=1e-9)  # Z-up bind space, stood up
    for ext in (".usda", ".glb", ".fbx"):
        out = tmp_path / f"cesium{ext}"
        rep = export_rig(rig, out)
        assert rep.clean, rep.format_text()
        for t in TARGETS:
            assert validate_file(out, t).clean, (ext, t)
    assert validate_usd(tmp_path / "cesium.usda") == []
    assert load_asset(tmp_path / "cesium.glb").rig.skeleton.names == ue5
    if ASSIMP:
        stats, tree = _assimp_tree(tmp_path / "cesium.fbx")
        assert stats["Vertices"] == len(np.unique(rig.mesh.vertices.round(6), axis=0)) and stats["Bones"] == 23
        assert set(ue5) <= {n for _, n in tree}
