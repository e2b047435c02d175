"""The rig-from-motion evaluation's diagnostic 'oracle' parts (true bones, fitted motions, the ground truth's merge
rule) on real shared assets: it must agree with the merged ground truth where the motion is unambiguous."""
from pathlib import Path

import numpy as np
import pytest

from sdk.evaluation.motion import merged_ground_truth, oracle_bone_parts, part_metrics

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rigged"


def _clip(name):
    from sdk.geometry.graph import mesh_graph
    from sdk.geometry.weld import weld_over_time
    from sdk.io import load_asset
    files = sorted((DATA / name).glob("*.gl*"))
    if not files:
        pytest.skip(f"shared rigged asset {name} not present under {DATA}")
    asset = load_asset(files[0])
    rig = asset.rig
    anim = rig.animations[0]
    world = anim.world_matrices(rig.skeleton.parents)
    world = world[np.unique(np.linspace(0, anim.n_frames - 1, min(24, anim.n_frames)).round().astype(int))]
    rest = type(rig)(rig.mesh, rig.skeleton, rig.skin)
    verts = rest.pose(world)
    index, rep = weld_over_time(verts)
    edges = mesh_graph(len(rep), index[asset.mesh.faces], verts[0, rep])
    return rest, world, index, edges


@pytest.mark.parametrize("name", ["RiggedSimple", "RiggedFigure"])
def test_oracle_parts_follow_the_true_bones(name):
    rig, world, index, edges = _clip(name)
    gt = merged_ground_truth(rig, world, index, edges)
    orc = oracle_bone_parts(rig, world, index, edges)
    assert orc.shape == gt.shape
    raw = rig.skin.indices[:, 0]
    # every oracle part is a union of true bones (it only merges them)
    for p in np.unique(orc):
        bones = np.unique(raw[orc == p])
        assert np.isin(raw, bones)[orc == p].all()
        assert all(np.unique(orc[raw == b]).size == 1 for b in bones)
    m = part_metrics(gt, orc)
    assert m["mIoU"] > 0.85  # fitted motions of the true bones reproduce the merged ground truth closely
