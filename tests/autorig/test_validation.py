"""Engine validation report: findings name the bone/vertex and the fix; our own exports are clean."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sdk.autorig import autorig
from sdk.core import Mesh, Rig, Skeleton, SkinWeights
from sdk.procedural.character import biped
from sdk.validation import TARGETS, validate_file, validate_rig


@pytest.fixture(scope="module")
def rig():
    v, f, _ = biped(resolution=40)
    return autorig(Mesh(v, f, name="hero"))


def _codes(rep):
    return {f.code for f in rep.findings}


def test_own_rig_is_clean_for_every_target(rig):
    for t in TARGETS:
        rep = validate_rig(rig, t, unit_m=1.0, up_axis="Y")
        assert rep.clean, (t, rep.format_text())


def test_bad_rigs_are_named(rig):
    sk = rig.skeleton
    # two roots: detach the thigh_l chain
    par = sk.parents.copy()
    par[sk.names.index("thigh_l")] = -1
    two = Rig(rig.mesh, Skeleton.from_world(sk.names, par, sk.bind_world), rig.skin)
    rep = validate_rig(two, "ue5")
    f = next(x for x in rep.findings if x.code == "multiple_roots")
    assert f.severity == "error" and "thigh_l" in f.message and f.fix
    # weights that do not sum to 1, and an unweighted vertex
    w = rig.skin.weights.copy()
    w[10] *= 0.5
    rep = validate_rig(rig, "gltf", raw_weight_sums=np.where(np.arange(len(w)) == 20, 0.0, w.sum(1)))
    f = next(x for x in rep.findings if x.code == "weights_not_normalized")
    assert f.vertex == 10
    assert next(x for x in rep.findings if x.code == "unweighted_vertices").vertex == 20
    # 8 influences: fine for UE, too many for glTF/Unity
    dense = np.full((rig.mesh.n_vertices, sk.n_joints), 1.0 / sk.n_joints)
    eight = Rig(rig.mesh, sk, SkinWeights.from_dense(dense, 8))
    assert "too_many_influences" not in _codes(validate_rig(eight, "ue5"))
    f = next(x for x in validate_rig(eight, "unity").findings if x.code == "too_many_influences")
    assert f.vertex == 0 and f.count == rig.mesh.n_vertices and "--max-influences 4" in f.fix
    # a mesh named like a bone, and a rotated root
    clash = validate_rig(rig, "ue5", mesh_names=["head"])
    f = next(x for x in clash.findings if x.code == "name_clash_mesh")
    assert f.bone == "head" and f.severity == "error"
    bind = sk.bind_world.copy()
    bind[0, :3, :3] = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    rot = Rig(rig.mesh, Skeleton.from_world(sk.names, sk.parents, bind), rig.skin)
    assert "root_rotated" in _codes(validate_rig(rot, "ue5"))
    assert "root_rotated" not in _codes(validate_rig(rot, "gltf"))


def test_size_and_orientation_checks(rig):
    rep = validate_rig(rig, "ue5", unit_m=100.0, up_axis="Y")  # 180 m tall
    assert "implausible_size" in _codes(rep)
    R = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    lying = Rig(Mesh(rig.mesh.vertices @ R.T, rig.mesh.faces), rig.skeleton, rig.skin)
    f = next(x for x in validate_rig(lying, "gltf", up_axis="Y").findings if x.code == "not_upright")
    assert "+Z" in f.message


def test_files_written_by_the_rig_cli_are_clean(tmp_path, samples_dir):
    from sdk.cli import main
    for ext in (".usda", ".glb"):
        out = tmp_path / f"character{ext}"
        assert main(["rig", str(samples_dir / "character.obj"), "-o", str(out), "--no-preview"]) == 0
        rep = json.loads((tmp_path / f"character{ext}.validation.json").read_text())
        assert rep["clean"], rep
        for t in TARGETS:
            assert validate_file(out, t).clean, t
        assert main(["validate", str(out), "--target", "ue5", "--strict"]) == 0


def test_cli_rejects_bad_output_before_solving(tmp_path, samples_dir, capsys):
    from sdk.cli import main
    assert main(["rig", str(samples_dir / "character.obj"), "-o", str(tmp_path / "x.blend")]) == 2
    assert "unknown output format '.blend'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert main(["rig", str(samples_dir / "cabinet.obj"), "-o", str(tmp_path / "c.glb"), "--template", "biped"]) == 2
    assert "--template chain" in capsys.readouterr().err
