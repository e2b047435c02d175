"""ATOP's OBB search and direct optimization recover known joints from ground-truth articulated clouds."""
import numpy as np
import pytest
import trimesh

from sdk.articulation.axis_search import (atop_search, chamfer_distance, direct_optimization, move_part,
                                          obb_candidates)

from .conftest import angle_deg, line_distance


def _prop(seed=0):
    rng = np.random.default_rng(seed)
    body = trimesh.creation.box(extents=[1, 0.6, 1.2])
    body.apply_translation([0, 0.3, 0])
    # a rotated prop: the answer is not axis-aligned
    R = trimesh.transformations.rotation_matrix(0.4, [0.3, 1, 0.2])
    door = trimesh.creation.box(extents=[1, 0.04, 1.2])
    door.apply_translation([0, -0.02, 0])
    body.apply_transform(R)
    door.apply_transform(R)
    return np.asarray(body.sample(3000, seed=1)), np.asarray(door.sample(1500, seed=2)), np.asarray(door.vertices), R[:3, :3]


def test_obb_candidates_are_7_origins_by_6_directions():
    _, dp, dv, R = _prop()
    O, D, obb = obb_candidates(dv)
    assert O.shape == (7, 3) and D.shape == (6, 3)
    assert np.allclose(O[0], obb.center)
    assert np.allclose(D[0], -D[1]) and np.allclose(D[2], -D[3]) and np.allclose(D[4], -D[5])
    # faces: centre +- half extent along each axis
    assert np.allclose(np.linalg.norm(O[1:] - O[0], axis=1), np.repeat(obb.half_extents, 2))
    # the thin axis of the door is R @ y
    assert angle_deg(obb.axes[2], R @ [0, 1, 0]) < 1e-6


@pytest.mark.parametrize("typ", ["revolute", "prismatic"])
def test_atop_search_recovers_known_axis(typ):
    bp, dp, dv, R = _prop()
    if typ == "revolute":
        origin, axis, amt = R @ [-0.5, -0.02, 0], R @ [0, 0, 1.0], np.deg2rad(-70)
    else:
        origin, axis, amt = R @ [0, -0.02, 0], R @ [0, -1.0, 0], 0.3
    states = [np.vstack([bp, move_part(dp, typ, origin, axis, f * amt)]) for f in (0.5, 1.0)]
    e = atop_search(dp, states, bp, obb_points=dv)
    assert e.type == typ
    assert angle_deg(e.axis, axis) < 1e-6  # one of the 6 candidate directions is exact
    if typ == "revolute":
        assert line_distance(e.origin, e.axis, origin, axis) < 1e-6  # a face centre lies on the hinge
        assert abs(abs(e.amounts[1]) - abs(amt)) < np.deg2rad(3)
        assert np.dot(e.axis, axis) * amt * e.amounts[1] > 0  # sign consistent: positive amount about e.axis
    else:
        assert np.dot(e.axis, axis) > 0 and abs(e.amounts[1] - amt) < 0.02
    assert e.costs[typ] < min(v for k, v in e.costs.items() if k != typ)


def test_direct_optimization_reduces_chamfer_and_search_is_no_worse():
    bp, dp, dv, R = _prop()
    origin, axis = R @ [-0.5, -0.02, 0], R @ [0, 0, 1.0]
    states = [np.vstack([bp, move_part(dp, "revolute", origin, axis, np.deg2rad(40))])]
    e = direct_optimization(dp, states, bp, types=("revolute",), iters=40, n_part=128, n_target=384, obb_points=dv)
    assert e.method == "direct_optimization" and e.type == "revolute"
    # continuous optimization can settle in a worse local minimum than the discrete search (ATOP Table 4,
    # Fig. 12); it must still explain part of the motion, and the search must do at least as well
    a = atop_search(dp, states, bp, obb_points=dv, types=("revolute",))

    def cd(est):
        return chamfer_distance(np.vstack([bp, move_part(dp, "revolute", est.origin, est.axis, est.amounts[0])]), states[0])
    rest = chamfer_distance(np.vstack([bp, dp]), states[0])
    assert cd(e) < rest  # the optimization explains part of the motion
    assert cd(a) <= cd(e) * 1.05
    assert line_distance(a.origin, a.axis, origin, axis) < 1e-6


def test_chamfer_is_zero_on_identical_and_grows_with_motion():
    _, dp, _, _ = _prop()
    assert chamfer_distance(dp, dp) == 0.0
    assert chamfer_distance(dp, dp + [0, 0, 0.1]) > chamfer_distance(dp, dp + [0, 0, 0.01]) > 0
