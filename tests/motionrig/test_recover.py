"""Recover the procedural arm's known rig: parts, joint centres, hinge axes; export and replay."""
import numpy as np
import pytest

from sdk.evaluation.motion import part_metrics
from sdk.io import save


def test_parts_match_ground_truth(arm, arm_rig):
    rig, rep = arm_rig
    m = part_metrics(arm["labels"], rig.parts.labels)
    assert m["n_pred"] == 3
    assert m["mIoU"] > 0.95 and m["ARI"] > 0.9


def test_joint_centres_axes_and_types(arm, arm_rig):
    rig, rep = arm_rig
    joints = rep["joints"]
    assert [j["type"] for j in joints] == ["root", "revolute", "revolute"]
    assert joints[0]["name"] == "root"
    for j, c, ax in zip(joints[1:], arm["centres"], arm["axes"]):
        o = np.array(j["origin"])
        # the hinge axis is free along itself: compare the distance of the centre from the true axis line
        d = np.linalg.norm(np.cross(o - c, ax))
        assert d < 0.03, (j["name"], o, c)
        assert abs(o[0] - c[0]) < 0.1
        assert abs(abs(np.dot(j["axis"], ax)) - 1) < 1 - np.cos(np.radians(3)), (j["axis"], ax)
        assert j["confidence"] > 0.5
        # observed angle range covers the generated one
        assert j["upper"] - j["lower"] > 1.0
    assert rig.skeleton.parents.tolist() == [-1, 0, 1]


def test_replay_error_and_animation(arm, arm_rig):
    rig, rep = arm_rig
    T = arm["vertices"].shape[0]
    assert rig.animations[0].n_frames == T
    replay = rig.animate()
    err = np.sqrt(((replay - arm["vertices"]) ** 2).sum(-1).mean(1))
    np.testing.assert_allclose(err, rep["per_frame_rmse"], rtol=1e-6, atol=1e-9)
    assert rep["rmse_pct"] < 0.1
    assert rig.skin.weights.shape[1] <= 4
    np.testing.assert_allclose(rig.skin.weights.sum(1), 1, atol=1e-5)


def test_usd_export_is_valid_and_replays(tmp_path, arm, arm_rig):
    pytest.importorskip("pxr", reason="usd-core (pxr) not importable")
    from exporters.usd import skin_with_usdskel
    from exporters.validate import validate_usd
    rig, rep = arm_rig
    out = save(rig, tmp_path / "arm.usda")
    assert validate_usd(out) == []
    diag = rep["bbox_diagonal"]
    for f in (0, 13, 27):
        pts = skin_with_usdskel(out, float(f))
        err = np.sqrt(((pts - arm["vertices"][f]) ** 2).sum(-1).mean())
        # float32 storage in USD adds ~1e-6 relative
        assert err <= rep["per_frame_rmse"][f] + 1e-4 * diag, (f, err)


def test_gltf_export_roundtrip(tmp_path, arm_rig):
    from sdk.io import load_asset
    rig, rep = arm_rig
    out = save(rig, tmp_path / "arm.glb")
    back = load_asset(out)
    assert back.rig is not None and back.rig.skeleton.n_joints == rig.skeleton.n_joints
    v = back.rig.animate()
    ref = rig.animate()
    assert v.shape == ref.shape
    assert np.abs(v - ref).max() < 1e-3 * rep["bbox_diagonal"]


def test_max_bones_caps(arm):
    from sdk.motionrig import MeshSequence
    from sdk.motionrig.pipeline import rig_from_motion
    rig, rep = rig_from_motion(MeshSequence(arm["vertices"], arm["faces"], 30.0), max_bones=2, iterations=4)
    assert rig.skeleton.n_joints <= 2
