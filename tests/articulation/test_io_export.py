"""URDF/MJCF readers on shared data, URDF round trip, validator-clean UsdPhysics USD, CLI."""
import numpy as np
import pytest

from sdk.errors import AssetReadError

from .conftest import need_shared


def test_urdf_reader_partnet():
    from sdk.io.urdf import load_urdf
    a = load_urdf(need_shared("sapien_45940") / "mobility.urdf")
    types = sorted(j.type for js in a.gt_joints.values() for j in js)
    assert types == ["prismatic", "revolute", "revolute"]
    assert a.parts.n_parts == 4 and a.mesh.n_faces > 1000
    a.parts.validate(a.mesh.n_vertices)
    for js in a.gt_joints.values():
        for j in js:
            assert abs(np.linalg.norm(j.axis) - 1) < 1e-9


def test_urdf_package_paths_and_fixed_groups():
    from sdk.io.urdf import load_urdf
    a = load_urdf(need_shared("isaacgymenvs_sektion_cabinet") / "sektion_cabinet_model/urdf/sektion_cabinet.urdf")
    assert {"drawer_top", "drawer_bottom", "door_left_link", "door_right_link"} <= set(a.gt_joints)
    # the knob links (fixed) are merged into their doors
    assert any("nob" in l for l in a.part_links["door_right_link"])


def test_mjcf_reader_metaworld():
    from sdk.io.mjcf import load_mjcf
    d = need_shared("metaworld_objects/objects")
    a = load_mjcf(d / "drawer.xml")
    (j,) = a.gt_joints["drawer_link"]
    assert j.type == "prismatic" and np.allclose(j.axis, [0, 1, 0]) and j.lower == pytest.approx(-0.16)
    b = load_mjcf(d / "doorlockB.xml")
    (k,) = b.gt_joints["door_link"]
    assert k.type == "revolute" and np.allclose(k.origin, [-0.185, 0.7, 0.15])
    for f in sorted(d.glob("*.xml")):
        x = load_mjcf(f)
        assert x.parts.n_parts >= 2 and sum(len(v) for v in x.gt_joints.values()) == 1, f.name


def test_urdf_missing_mesh_is_named(tmp_path):
    from sdk.io.urdf import load_urdf
    p = tmp_path / "broken.urdf"
    p.write_text('<robot name="r"><link name="a"><visual><geometry><mesh filename="meshes/gone.obj"/></geometry>'
                 '</visual></link></robot>')
    with pytest.raises(AssetReadError, match="gone.obj.*missing"):
        load_urdf(p)


def test_urdf_round_trip(cabinet_art, tmp_path):
    from exporters.urdf import write_urdf
    from sdk.io.urdf import read_urdf
    p = write_urdf(cabinet_art, tmp_path / "cab.urdf")
    back = read_urdf(p)
    bj = {j.name: j for j in back.joints}
    for j in cabinet_art.joints:
        k = bj[j.name]
        assert k.type == j.type and k.parent == j.parent and k.child == j.child
        assert np.allclose(k.origin, j.origin, atol=1e-7) and np.allclose(k.axis, j.axis, atol=1e-7)
        assert k.lower == pytest.approx(j.lower, abs=1e-7) and k.upper == pytest.approx(j.upper, abs=1e-7)
    for l in cabinet_art.links:
        assert np.allclose(back.link(l.name).mesh.vertices, l.mesh.vertices, atol=1e-7)


def test_physics_usd_is_validator_clean(cabinet_art, tmp_path):
    pytest.importorskip("pxr", reason="usd-core not installed")
    from pxr import Usd, UsdGeom, UsdPhysics
    from exporters.physics_usd import validate_physics_usd, write_physics_usd
    p = write_physics_usd(cabinet_art, tmp_path / "cab.usda")
    assert validate_physics_usd(p) == []
    st = Usd.Stage.Open(str(p))
    assert UsdGeom.GetStageMetersPerUnit(st) == 1.0
    root = st.GetDefaultPrim()
    assert root.HasAPI(UsdPhysics.ArticulationRootAPI)
    door = UsdPhysics.RevoluteJoint(st.GetPrimAtPath(f"{root.GetPath()}/Joints/door_joint"))
    j = {x.child: x for x in cabinet_art.joints}["door"]
    assert door.GetUpperLimitAttr().Get() == pytest.approx(np.rad2deg(j.upper), abs=1e-3)  # degrees
    assert door.GetAxisAttr().Get() == "X"
    q = door.GetLocalRot0Attr().Get()
    from sdk.core.transforms import quat_to_matrix
    R = quat_to_matrix(np.array([q.GetReal(), *q.GetImaginary()]))
    assert np.allclose(R[:, 0], j.axis, atol=1e-5)  # the joint's X axis is the estimated axis
    drawer = UsdPhysics.PrismaticJoint(st.GetPrimAtPath(f"{root.GetPath()}/Joints/drawer_joint"))
    jd = {x.child: x for x in cabinet_art.joints}["drawer"]
    assert drawer.GetUpperLimitAttr().Get() == pytest.approx(jd.upper, abs=1e-5)  # stage units
    for l in cabinet_art.links:
        assert st.GetPrimAtPath(f"{root.GetPath()}/{l.name}").HasAPI(UsdPhysics.RigidBodyAPI)


def test_cli_joints(cabinet, tmp_path):
    from sdk.cli import main
    out = tmp_path / "door.usda"
    assert main(["joints", str(cabinet.path), "--part", "door", "--prompt", "open the door", "-o", str(out)]) == 0
    assert out.exists() and (tmp_path / "door_preview.png").stat().st_size > 1000
    assert (tmp_path / "door_preview.gif").exists()
    assert main(["joints", str(cabinet.path), "--part", "nope", "-o", str(tmp_path / "x.urdf")]) == 2
    out2 = tmp_path / "all.urdf"
    assert main(["joints", str(cabinet.path), "--all-parts", "-o", str(out2), "--no-preview"]) == 0
    from sdk.io.urdf import read_urdf
    assert sorted(j.child for j in read_urdf(out2).joints) == ["door", "drawer", "lid"]
