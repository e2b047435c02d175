import numpy as np
import pytest

from exporters.usd import skin_with_usdskel
from exporters.validate import validate_usd
from sdk.errors import InvalidInputError
from sdk.io import load_asset, save

Y2Z = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)


@pytest.mark.parametrize("name", ["CesiumMan/CesiumMan.glb", "Fox/Fox.glb", "RobotExpressive/RobotExpressive.glb"])
@pytest.mark.parametrize("up", ["Y", "Z"])
def test_usd_rig_is_validator_clean_and_usdskel_matches_our_lbs(tmp_path, shared_data, name, up):
    a = load_asset(shared_data / "rigged" / name)
    rig = a.rig
    p = save(rig, tmp_path / "rig.usda", up_axis=up, meters_per_unit=0.01)
    assert validate_usd(p) == []
    from pxr import Usd, UsdGeom
    st = Usd.Stage.Open(str(p))
    assert UsdGeom.GetStageUpAxis(st) == up and UsdGeom.GetStageMetersPerUnit(st) == 0.01
    anim = rig.animations[0]
    ours = rig.animate(anim.name)
    R = Y2Z if up == "Z" else np.eye(3)
    diag = a.mesh.bbox_diagonal
    for f in (0, anim.n_frames // 2, anim.n_frames - 1):
        theirs = skin_with_usdskel(p, f)
        scale = max(np.ptp(ours[f], 0).max(), 1e-9)
        assert np.abs(theirs - ours[f] @ R.T).max() < 1e-4 * scale + 1e-6 * diag


def test_gltf_roundtrip_preserves_rig_and_animation(tmp_path, shared_data):
    a = load_asset(shared_data / "rigged" / "Fox" / "Fox.glb")
    for ext in ("glb", "gltf"):
        b = load_asset(save(a.rig, tmp_path / f"fox.{ext}")).rig
        assert b.skeleton.names == a.rig.skeleton.names
        for anim in a.rig.animations:
            assert np.abs(a.rig.animate(anim.name) - b.animate(anim.name)).max() < 1e-3


def test_failed_export_leaves_no_file_and_keeps_old(tmp_path, shared_data):
    a = load_asset(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")
    out = tmp_path / "rig.usda"
    out.write_text("previous")
    a.rig.skin.indices[3, 0] = 999  # invalid joint index: validation fails inside the export
    with pytest.raises(InvalidInputError, match="vertex 3"):
        save(a.rig, out)
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["rig.usda"]


def test_bad_output_extension(tmp_path, shared_data):
    a = load_asset(shared_data / "rigged" / "RiggedSimple" / "RiggedSimple.glb")
    with pytest.raises(InvalidInputError, match="unknown output format"):
        save(a.rig, tmp_path / "x.xyz")
