"""Skeleton-pair skinning weights (sdk.rigging.pairwise): partition of unity, non-negativity, locality along the
skeleton, exact rigid motion, and the bad-input checks of its config."""
from pathlib import Path

import numpy as np
import pytest

from sdk.core import Mesh, PartLabels
from sdk.errors import InvalidInputError
from sdk.rigging import rig_from_parts
from sdk.rigging.contacts import find_contacts
from sdk.rigging.harmonic import HarmonicConfig, harmonic_weights
from sdk.rigging.pairwise import PairwiseConfig, pairwise_weights, skeleton_pairs
from sdk.rigging.skeleton_from_parts import skeleton_from_parts

from sdk.procedural.tube import parted_tube

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rigged"


def tube(segs=16, rings=40, parts=3):
    """An open wavy tube along x (length 4): vertices [V, 3], faces [F, 3], part bands along x [V]."""
    mesh, pl = parted_tube(rings, segs, parts)
    return mesh.vertices, mesh.faces, pl.labels


def _weights(V, F, lab, cfg=None):
    P = int(lab.max()) + 1
    names = [f"p{i}" for i in range(P)]
    c = find_contacts(V, F, lab)
    sk, jp = skeleton_from_parts(V, F, lab, names, None, c)
    return pairwise_weights(V, F, lab, P, sk, jp, c, cfg), sk, jp


def _allowed(sk, jp, P):
    """[P, P] bool: part q may carry weight on vertices of part p (q == p or a skeleton neighbour)."""
    ok = np.eye(P, dtype=bool)
    for p, q in skeleton_pairs(sk, jp):
        ok[p, q] = ok[q, p] = True
    return ok


def _thin_middle(na=16, nl=40):
    """A tube of 3 parts whose middle part is three vertex rings wide: wide bands of its joints reach across it."""
    V, F, _ = tube(na, nl, parts=3)
    ring = np.round(V[:, 0] / (4.0 / (nl - 1))).astype(int)
    lab = np.where(ring < nl // 2 - 1, 0, np.where(ring <= nl // 2 + 1, 1, 2))
    return V, F, lab


@pytest.mark.parametrize("cfg", [PairwiseConfig(), PairwiseConfig(blend=1.5, peak=1.0), PairwiseConfig(blend=4.0),
                                 PairwiseConfig(blend=1.0, scope="loop")])
def test_partition_of_unity_nonnegative_and_blends(cfg):
    V, F, lab = tube(16, 40, parts=4)
    W, _, _ = _weights(V, F, lab, cfg)
    assert W.shape == (len(V), 4)
    assert np.allclose(W.sum(1), 1.0, atol=1e-12)
    assert W.min() >= 0.0 and W.max() <= 1.0
    blended = ((W > 1e-6).sum(1) > 1).sum()
    assert blended > 10  # the joints really blend
    # the skeleton neighbour's share is at most peak (so with peak <= 0.5 the vertex's own part keeps the argmax)
    own = W[np.arange(len(V)), lab]
    assert (1.0 - own).max() <= cfg.peak + 1e-12
    assert (1.0 - own).max() > 0.1 * cfg.peak


def test_locality_weight_zero_outside_skeleton_neighbours():
    V, F, lab = _thin_middle()
    W, sk, jp = _weights(V, F, lab, PairwiseConfig(blend=3.0, peak=1.0))
    ok = _allowed(sk, jp, 3)
    assert not ok[0, 2]  # the two end parts are not skeleton neighbours
    for p in range(3):
        assert np.all(W[lab == p][:, ~ok[p]] == 0.0), p
    assert W[lab == 1, 0].max() > 0.05 and W[lab == 1, 2].max() > 0.05  # the thin part blends with both ends


def test_non_skeleton_contact_stays_hard():
    """Part 2 reaches down to part 0 through a narrow wedge: that contact is not a skeleton edge, so no 0/2 blend."""
    V, F, lab = tube(24, 40, parts=3)
    ang = np.arctan2(V[:, 2], V[:, 1])
    wedge = (np.abs(ang) < 0.3) & (V[:, 0] > 1.0) & (lab == 1)
    lab = lab.copy()
    lab[wedge] = 2
    c = find_contacts(V, F, lab)
    assert c.contact_matrix(3)[0, 2] > 0  # parts 0 and 2 touch
    W, sk, jp = _weights(V, F, lab, PairwiseConfig(blend=1.0, peak=1.0))
    ok = _allowed(sk, jp, 3)
    assert not ok[0, 2]
    assert np.all(W[lab == 0][:, 2] == 0.0) and np.all(W[lab == 2][:, 0] == 0.0)
    assert ((W > 1e-6).sum(1) > 1).sum() > 10
    # the band rule of 'harmonic' blends across that contact (the Fox leg/spine case this formulation fixes)
    Wh = harmonic_weights(V, F, lab, 3, HarmonicConfig(blend=1.0))
    assert Wh[lab == 0, 2].max() > 1e-3


def test_zero_blend_or_zero_peak_is_the_indicator():
    V, F, lab = tube(12, 20, parts=3)
    for cfg in (PairwiseConfig(blend=0.0), PairwiseConfig(peak=0.0)):
        W, _, _ = _weights(V, F, lab, cfg)
        assert np.array_equal(W, np.eye(3)[lab])


def test_rigid_motion_is_reproduced_exactly():
    V, F, lab = tube(16, 40, parts=4)
    rig = rig_from_parts(Mesh(V, F), PartLabels(lab), method="pairwise", max_influences=4)
    assert rig.metadata["method"] == "pairwise" and rig.metadata["blend"] == PairwiseConfig().blend
    th = 0.7
    M = np.eye(4)
    M[:3, :3] = [[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]]
    M[:3, 3] = [0.3, -1.2, 2.0]
    world = np.einsum("ab,jbc->jac", M, rig.skeleton.bind_world)[None]  # [1, J, 4, 4]: every joint moves by M
    posed = rig.pose(world)[0]
    assert np.abs(posed - (V @ M[:3, :3].T + M[:3, 3])).max() < 1e-6  # skin weights are float32
    # and the skin really blends (so the test is not the trivial hard case)
    assert (rig.skin.weights > 1e-6).sum(1).max() > 1


def test_config_checks():
    with pytest.raises(InvalidInputError):
        PairwiseConfig(blend=-1.0)
    with pytest.raises(InvalidInputError):
        PairwiseConfig(peak=1.5)
    with pytest.raises(InvalidInputError):
        PairwiseConfig(blend=float("nan"))
    with pytest.raises(InvalidInputError):
        PairwiseConfig(scope="everything")
    V, F, lab = tube(8, 10, parts=2)
    with pytest.raises(InvalidInputError):
        rig_from_parts(Mesh(V, F), PartLabels(lab), method="pairwise", blend=-0.5)


@pytest.mark.skipif(not (DATA / "Fox").is_dir(), reason="shared rigged data (../shared/data/rigged/Fox) not present")
def test_fox_leg_never_blends_with_a_non_neighbour():
    """Fox: argmax parts skip thigh joints, so leg parts touch the spine; weights follow the skeleton only."""
    from sdk.io import load_asset
    asset = load_asset(sorted((DATA / "Fox").glob("*.gl*"))[0])
    parts = asset.parts_from_skin()
    rig = rig_from_parts(asset.mesh, parts, method="pairwise", max_influences=4)
    W = rig.skin.to_dense(rig.skeleton.n_joints)  # [V, J], joint j drives part rig.joint_parts[j]
    lab = rig.parts.labels
    J = rig.skeleton.n_joints
    part_joint = np.empty(J, dtype=np.int64)
    part_joint[rig.joint_parts] = np.arange(J)
    ok = np.eye(J, dtype=bool)
    for j, p in enumerate(rig.skeleton.parents):
        if p >= 0:
            ok[j, p] = ok[p, j] = True
    own = part_joint[lab]  # [V] joint of each vertex's part
    bad = (W > 0) & ~ok[own]
    assert not bad.any()
    assert np.allclose(W.sum(1), 1.0)
    assert ((W > 1e-6).sum(1) > 1).sum() > 20


def test_unlabelled_vertices_take_the_nearest_part():
    V, F, lab = tube(16, 40, parts=3)
    lab = lab.copy()
    hole = np.flatnonzero((V[:, 0] > 0.4) & (V[:, 0] < 0.6))  # a ring band inside part 0
    lab[hole] = -1
    W, _, _ = _weights(V, F, lab)
    assert np.allclose(W.sum(1), 1.0) and W.min() >= 0
    assert (W[hole, 0] > 0.999).all()
    rig = rig_from_parts(Mesh(V, F), PartLabels(lab, ["a", "b", "c"]), method="pairwise")
    assert np.allclose(rig.skin.to_dense(3).sum(1), 1.0)
