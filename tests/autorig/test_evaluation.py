"""The autorig evaluation on real shared characters (mesh only; true skeleton and skin hidden)."""
from __future__ import annotations

import numpy as np


def test_cesiumman_metrics(shared_data):
    from sdk.evaluation.autorig import evaluate_asset, format_table
    row = evaluate_asset(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb", max_frames=8)
    assert row["template"] == "biped" and row["bones"] == 23
    # bounds a few times looser than what we measure (CD-J2J 0.027, precision 70, deformation 0.9%)
    assert row["CD-J2J"] < 0.04 and row["CD-J2B"] <= row["CD-J2J"] + 1e-9
    assert row["precision"] > 55 and row["recall"] > 85
    assert row["deform"] < 2.0 and np.isfinite(row["deform_max"])
    txt = format_table([row])
    assert "CesiumMan" in txt and "MagicArticulate" in txt


def test_retarget_names_and_self_consistency(shared_data):
    """Retargeting a clip between two rigs of one mesh with profile names reproduces the motion."""
    from sdk.autorig import autorig
    from sdk.autorig.retarget import correspondence, retarget
    from sdk.io import load_asset
    a = load_asset(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")
    gt = a.rig
    ue = autorig(a.mesh, naming="ue5", upright=False)
    ue.animations = [retarget(gt, ue, same_space=True)]
    mx = autorig(a.mesh, naming="mixamo", upright=False)
    m = correspondence(ue, mx)  # mixamorig:LeftForeArm <- lowerarm_l ...
    assert mx.skeleton.names[next(j for j in m if m[j] == ue.skeleton.names.index("lowerarm_l"))] == "mixamorig:LeftForeArm"
    mx.animations = [retarget(ue, mx, mapping=m, same_space=True)]
    f = [0, 10, 30]
    v_ue = ue.pose(ue.animations[0].world_matrices(ue.skeleton.parents)[f])
    v_mx = mx.pose(mx.animations[0].world_matrices(mx.skeleton.parents)[f])
    v_gt = gt.pose(gt.animations[0].world_matrices(gt.skeleton.parents)[f])
    diag = a.mesh.bbox_diagonal
    assert np.linalg.norm(v_ue - v_gt, axis=-1).mean() < 0.02 * diag
    assert np.linalg.norm(v_mx - v_ue, axis=-1).mean() < 0.01 * diag
