import numpy as np
import pytest

from sdk.errors import AssetReadError, InvalidInputError
from sdk.io import load_asset, parts_from_labels

from conftest import RIGGED

GLTFS = sorted(RIGGED.glob("*/*.gl*")) if RIGGED.exists() else []


@pytest.mark.parametrize("path", GLTFS, ids=lambda p: p.parent.name)
def test_gltf_rigs_load_and_bind_pose_is_identity(path):
    a = load_asset(path)
    assert a.mesh.n_vertices > 0 and a.mesh.n_faces > 0
    rig = a.rig
    assert rig is not None, "every shared rigged asset has a skin"
    rig.validate()
    # skinning with the bind pose reproduces the mesh: bind transforms and inverse bind matrices agree
    v = rig.pose(rig.skeleton.bind_world)
    assert np.abs(v - a.mesh.vertices).max() <= 1e-5 * max(a.mesh.bbox_diagonal, 1.0)
    assert rig.animations, "every shared asset has at least one clip"
    for anim in rig.animations[:2]:
        sel = np.linspace(0, anim.n_frames - 1, min(anim.n_frames, 12)).astype(int)  # bounded work per clip
        frames = rig.pose(anim.world_matrices(rig.skeleton.parents)[sel])
        assert np.isfinite(frames).all()
        # animated poses stay within a sane range of the rest size
        assert np.ptp(frames, axis=1).max() < 50 * max(np.ptp(a.mesh.vertices, 0).max(), 1e-6) * 10


def test_draco_asset_decodes(shared_data):
    a = load_asset(shared_data / "rigged" / "Quaternius_Fox" / "Fox.glb")
    assert a.rig.skeleton.n_joints == 51 and a.mesh.n_vertices > 3000


def test_parts_from_skin_is_argmax(shared_data):
    a = load_asset(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")
    pl = a.parts_from_skin()
    dense = a.rig.skin.to_dense(a.rig.skeleton.n_joints)
    assert (pl.joint_of_part[pl.labels] == dense.argmax(1)).all()
    pl.validate(a.mesh.n_vertices)


def test_obj_groups_become_parts(samples_dir):
    a = load_asset(samples_dir / "critter.obj")
    assert a.parts.names[:2] == ["body", "head"] and a.parts.n_parts == 7
    a.parts.validate(a.mesh.n_vertices)


def test_usd_mesh_reader_roundtrip(tmp_path, samples_dir):
    a = load_asset(samples_dir / "arm.obj")
    from pxr import Usd, UsdGeom
    st = Usd.Stage.CreateNew(str(tmp_path / "m.usda"))
    m = UsdGeom.Mesh.Define(st, "/m")
    m.CreatePointsAttr(a.mesh.vertices.astype(np.float32).tolist())
    m.CreateFaceVertexCountsAttr([3] * a.mesh.n_faces)
    m.CreateFaceVertexIndicesAttr(a.mesh.faces.ravel().tolist())
    st.Save()
    b = load_asset(tmp_path / "m.usda")
    assert np.allclose(b.mesh.vertices, a.mesh.vertices, atol=1e-6) and (b.mesh.faces == a.mesh.faces).all()


@pytest.mark.parametrize("content,expect", [(b"", "empty"), (b"glTF\x02\x00\x00\x00garbage", "GLB"),
                                             (b"v 0 0 0\n", "no faces")])
def test_unreadable_files_are_named(tmp_path, content, expect):
    ext = ".obj" if b"v " in content else ".glb"
    p = tmp_path / f"bad{ext}"
    p.write_bytes(content)
    with pytest.raises(AssetReadError) as e:
        load_asset(p)
    assert str(p) in str(e.value) and expect.lower() in str(e.value).lower()


def test_truncated_glb(tmp_path, shared_data):
    data = (shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb").read_bytes()
    p = tmp_path / "cut.glb"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetReadError, match="cut.glb"):
        load_asset(p)


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(AssetReadError, match="no such file"):
        load_asset(tmp_path / "nope.glb")
    (tmp_path / "x.stl3").write_text("x")
    with pytest.raises(AssetReadError, match="unsupported"):
        load_asset(tmp_path / "x.stl3")


def test_mesh_validation_names_the_vertex(samples_dir):
    a = load_asset(samples_dir / "arm.obj")
    a.mesh.vertices[17, 1] = np.nan
    with pytest.raises(InvalidInputError, match="vertex 17") as e:
        a.mesh.validate()
    assert e.value.field == "vertices[17]"


def test_degenerate_faces_dropped_and_labels_checked(samples_dir):
    a = load_asset(samples_dir / "arm.obj")
    f = a.mesh.faces.copy()
    a.mesh.faces = np.vstack([f, [[0, 0, 1]]])
    m = a.mesh.validate()
    assert len(m.faces) == len(f) and list(m.dropped_faces) == [len(f)]
    assert len(a.mesh.faces) == len(f) + 1 and a.mesh.dropped_faces is None  # the input is not mutated
    lab = a.parts.labels.copy()
    lab[5] = 9
    with pytest.raises(InvalidInputError, match="vertex 5 has part label 9"):
        parts_from_labels(a.mesh, lab).__class__(lab, a.parts.names).validate(a.mesh.n_vertices)
    bad = np.zeros(a.mesh.n_vertices, dtype=int)
    from sdk.core import PartLabels
    with pytest.raises(InvalidInputError, match="part 1 .* has no vertices"):
        PartLabels(bad, ["a", "b"]).validate(a.mesh.n_vertices)


def test_face_labels_to_vertex_labels(samples_dir):
    a = load_asset(samples_dir / "critter.obj")
    fl = a.parts.labels[a.mesh.faces[:, 0]]
    pl = parts_from_labels(a.mesh, fl)
    assert (pl.labels == a.parts.labels).all()


def test_missing_weights_error_reads_well():
    from sdk.errors import MissingWeightsError
    e = MissingWeightsError("sp4d", "sp4d.safetensors", "/w")
    assert str(e).startswith("model 'sp4d' needs weights file 'sp4d.safetensors'") and "/w/sp4d.safetensors" in str(e)
    assert isinstance(e, FileNotFoundError) and e.weights_file == "sp4d.safetensors"


@pytest.mark.parametrize("mutate,expect", [
    (lambda j: j.update(asset={"version": "1.0"}), "glTF 2.0"),
    (lambda j: j["meshes"][0]["primitives"][0].update(indices=10_000), "malformed glTF"),
    (lambda j: j.update(nodes=[{"mesh": 7}]), "malformed glTF"),
])
def test_malformed_gltf_json_is_named(tmp_path, shared_data, mutate, expect):
    import json
    src = json.loads((shared_data / "rigged" / "SimpleSkin" / "SimpleSkin.gltf").read_text())
    mutate(src)
    p = tmp_path / "broken.gltf"
    p.write_text(json.dumps(src))
    with pytest.raises(AssetReadError, match=expect) as e:
        load_asset(p)
    assert "broken.gltf" in str(e.value)


def test_glb_container_version_checked(tmp_path, shared_data):
    data = bytearray((shared_data / "rigged" / "RiggedSimple" / "RiggedSimple.glb").read_bytes())
    data[4] = 1
    p = tmp_path / "v1.glb"
    p.write_bytes(bytes(data))
    with pytest.raises(AssetReadError, match="container version 1"):
        load_asset(p)


def test_obj_face_index_out_of_range_names_the_face(tmp_path):
    from sdk.errors import InvalidInputError
    from sdk.io import load_asset
    p = tmp_path / "bad.obj"
    p.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\ng a\nf 1 2 3\ng b\nf 1 2 99\n")
    with pytest.raises(InvalidInputError, match=r"face 1 references vertex out of range") as e:
        load_asset(p)
    assert e.value.field == "faces[1]"
