"""Plain-mesh rigging: template embedding, frames, naming profiles, skinning, bad input, CLI."""
from __future__ import annotations

import numpy as np
import pytest

from sdk.autorig import autorig
from sdk.autorig.templates import BIPED
from sdk.core import Mesh
from sdk.errors import InvalidInputError
from sdk.procedural.character import biped, quadruped

UE5_BIPED = [n for n, _ in BIPED]


@pytest.fixture(scope="module")
def character():
    v, f, joints = biped(resolution=44)
    return Mesh(v, f, name="character"), joints


@pytest.fixture(scope="module")
def char_rig(character):
    return autorig(character[0], template="auto", naming="ue5")


def _pos(rig, name):
    return rig.skeleton.joint_positions()[rig.skeleton.names.index(name)]


def test_biped_ue5_names_single_root_and_joint_accuracy(character, char_rig):
    mesh, truth = character
    sk = char_rig.skeleton
    assert char_rig.metadata["template"] == "biped"
    assert sk.names == UE5_BIPED
    assert (sk.parents < 0).sum() == 1 and sk.names[0] == "root"
    np.testing.assert_allclose(sk.bind_world[0, :3, :3], np.eye(3), atol=1e-12)  # root: zero rotation ...
    assert abs(sk.bind_world[0, 1, 3] - mesh.vertices[:, 1].min()) < 0.02  # ... on the ground under the pelvis
    H = 1.8
    for name in ("pelvis", "neck_01", "upperarm_l", "lowerarm_r", "hand_l", "thigh_r", "calf_l", "foot_r"):
        err = np.linalg.norm(_pos(char_rig, name) - truth[name])
        assert err < 0.06 * H, (name, err)
    # left is the character's left (+X for a +Z-facing, Y-up body)
    assert _pos(char_rig, "hand_l")[0] > 0.4 and _pos(char_rig, "hand_r")[0] < -0.4


def test_skin_normalized_and_limbs_follow_their_bones(character, char_rig):
    mesh, truth = character
    sk = char_rig.skeleton
    W = char_rig.skin.to_dense(sk.n_joints)
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-5)
    assert char_rig.skin.max_influences == 4
    assert W[:, 0].max() == 0.0  # the ground root drives nothing
    v = mesh.vertices
    hand = np.linalg.norm(v - truth["hand_end_l"], axis=1) < 0.05
    foot = np.linalg.norm(v - truth["toe_r"], axis=1) < 0.05
    assert hand.any() and foot.any()
    hl, br = sk.names.index("hand_l"), sk.names.index("ball_r")
    assert W[hand, hl].mean() > 0.6
    assert W[foot, br].mean() > 0.5


def test_ue5_bone_axes_point_down_the_bone(char_rig):
    sk = char_rig.skeleton
    for a, b in (("upperarm_l", "lowerarm_l"), ("thigh_r", "calf_r"), ("spine_01", "spine_02")):
        ia, ib = sk.names.index(a), sk.names.index(b)
        d = sk.bind_world[ib, :3, 3] - sk.bind_world[ia, :3, 3]
        x = sk.bind_world[ia, :3, 0]
        assert x @ d / np.linalg.norm(d) > 0.999
        R = sk.bind_world[ia, :3, :3]
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-9)


def test_mesh_on_its_side_gets_the_same_rig(character):
    mesh, truth = character
    R = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])  # lie down: +Y (up) -> -X
    side = Mesh(mesh.vertices @ R.T, mesh.faces)
    rig = autorig(side, upright=False)
    assert rig.metadata["template"] == "biped"
    np.testing.assert_allclose(rig.metadata["up"], [-1, 0, 0], atol=1e-9)
    for name in ("head", "hand_l", "foot_r"):
        err = np.linalg.norm(_pos(rig, name) - R @ truth[name])
        assert err < 0.1 * 1.8, (name, err)


def test_quadruped_template_and_tail():
    v, f, truth = quadruped(resolution=40)
    rig = autorig(Mesh(v, f))
    names = rig.skeleton.names
    assert rig.metadata["template"] == "quadruped"
    assert {"pelvis", "head", "thigh_l", "hand_r", "tail_01"} <= set(names)
    for name in ("head", "foot_l", "hand_r"):
        assert np.linalg.norm(_pos(rig, name) - truth[name]) < 0.12 * 1.2, name


def test_naming_profiles(character):
    mesh, _ = character
    mx = autorig(mesh, naming="mixamo")
    assert mx.skeleton.names[0] == "mixamorig:Hips" and (mx.skeleton.parents < 0).sum() == 1
    assert "mixamorig:LeftForeArm" in mx.skeleton.names and "root" not in mx.skeleton.names
    un = autorig(mesh, naming="unity")
    hm = un.metadata["humanoid"]
    assert hm["LeftUpperArm"] in un.skeleton.names and hm["Hips"] == "Hips" and len(hm) == 22
    # mixamo/unity: +Y along the bone
    i, j = un.skeleton.names.index("LeftUpperArm"), un.skeleton.names.index("LeftLowerArm")
    d = un.skeleton.bind_world[j, :3, 3] - un.skeleton.bind_world[i, :3, 3]
    assert un.skeleton.bind_world[i, :3, 1] @ d / np.linalg.norm(d) > 0.999
    gen = autorig(mesh, naming="generic")
    np.testing.assert_allclose(gen.skeleton.bind_world[:, :3, :3], np.tile(np.eye(3), (gen.skeleton.n_joints, 1, 1)))


def test_small_components_follow_nearest_bone(character):
    mesh, truth = character
    # two "eyes": small separate spheres in front of the head
    from skimage.measure import marching_cubes
    g = np.linspace(-1.5, 1.5, 12)
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    sv, sf, _, _ = marching_cubes(np.sqrt(X ** 2 + Y ** 2 + Z ** 2) - 1.0, 0.0)
    sv = (sv / 11 * 3 - 1.5) * 0.02
    parts_v, parts_f, n = [mesh.vertices], [mesh.faces], len(mesh.vertices)
    for x in (0.035, -0.035):
        parts_v.append(sv + truth["head"] + [x, 0.1, 0.09])
        parts_f.append(sf + n)
        n += len(sv)
    m = Mesh(np.concatenate(parts_v), np.concatenate(parts_f))
    rig = autorig(m)
    assert rig.metadata["small_components"] == 2
    eye = np.arange(len(mesh.vertices), m.n_vertices)
    W = rig.skin.to_dense(rig.skeleton.n_joints)[eye]
    assert np.all(W.max(1) == 1.0)
    assert set(np.array(rig.skeleton.names)[W.argmax(1)]) == {"head"}


def test_biped_template_on_a_prop_suggests_chain():
    from sdk.procedural import box_mesh
    bv, bf = box_mesh((0.4, 0.3, 0.8), (0, 0.4, 0))[:2]
    with pytest.raises(InvalidInputError, match="--template chain"):
        autorig(Mesh(bv, bf), template="biped")


def test_chain_and_budget():
    v, f, _ = quadruped(resolution=36)
    rig = autorig(Mesh(v, f), template="chain", max_bones=8)
    assert rig.metadata["template"] == "chain"
    assert 2 <= rig.skeleton.n_joints <= 8
    assert (rig.skeleton.parents < 0).sum() == 1


def test_nan_and_bad_options(character):
    mesh, _ = character
    v = mesh.vertices.copy()
    v[7] = np.nan
    with pytest.raises(InvalidInputError, match="vertex 7"):
        autorig(Mesh(v, mesh.faces))
    with pytest.raises(InvalidInputError, match="template"):
        autorig(mesh, template="spider")
    with pytest.raises(InvalidInputError, match="naming"):
        autorig(mesh, naming="maya")
    with pytest.raises(InvalidInputError, match="max-bones"):
        autorig(mesh, max_bones=5)


def test_large_mesh_is_decimated_for_the_embedding():
    from sdk.autorig import AutorigConfig
    v, f, truth = biped(resolution=56)
    rig = autorig(Mesh(v, f), config=AutorigConfig(max_embed_faces=2500))
    assert rig.metadata["decimated_faces"] <= 2600
    assert rig.skin.n_vertices == len(v)
    W = rig.skin.to_dense(rig.skeleton.n_joints)
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-5)
    assert np.linalg.norm(_pos(rig, "hand_l") - truth["hand_l"]) < 0.08 * 1.8


def test_usd_and_glb_exports_are_clean(char_rig, tmp_path):
    from exporters.validate import validate_usd
    from sdk.io import load_asset
    usd = char_rig.export_usd(tmp_path / "c.usda")
    assert validate_usd(usd) == []
    glb = char_rig.export_gltf(tmp_path / "c.glb")
    back = load_asset(glb)
    assert back.rig.skeleton.names == UE5_BIPED
    assert back.mesh.n_vertices == char_rig.mesh.n_vertices


def test_upright_rotates_a_lying_mesh_and_keeps_root_unrotated(character):
    mesh, truth = character
    R = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])  # Y-up -> Z-up (CesiumMan's bind space)
    rig = autorig(Mesh(mesh.vertices @ R.T, mesh.faces))
    np.testing.assert_allclose(rig.metadata["detected_up"], [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(rig.metadata["applied_rotation"], R.T, atol=1e-9)
    np.testing.assert_allclose(rig.mesh.vertices, mesh.vertices, atol=1e-9)  # standing again, same coordinates
    np.testing.assert_allclose(rig.skeleton.bind_world[0, :3, :3], np.eye(3), atol=1e-12)
    assert np.linalg.norm(_pos(rig, "head") - truth["head"]) < 0.06 * 1.8


@pytest.mark.parametrize("angle,pose", [(0.0, "T"), (55.0, "A")])
def test_t_and_a_pose(angle, pose):
    v, f, truth = biped(resolution=40, arm_angle_deg=angle)
    rig = autorig(Mesh(v, f))
    assert rig.metadata["pose"] == pose and abs(rig.metadata["arm_angle_deg"] - angle) < 12
    for name in ("lowerarm_l", "hand_r"):
        assert np.linalg.norm(_pos(rig, name) - truth[name]) < 0.06 * 1.8, name
