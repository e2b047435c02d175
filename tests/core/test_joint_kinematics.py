"""Joint kinematics in core (Joint.transform, Articulation.link_transforms) and the compat shims kept for merging."""
from __future__ import annotations

import numpy as np
import pytest

from sdk.core import Articulation, Joint, Link, Mesh


def _chain():
    box = Mesh(np.eye(3), np.array([[0, 1, 2]]))
    links = [Link(n, box) for n in ("base", "arm", "hand")]
    joints = [Joint("j1", "revolute", "base", "arm", [1.0, 0, 0], [0, 0, 2.0], -1, 1),
              Joint("j2", "prismatic", "arm", "hand", [0, 0, 0], [0, 3.0, 0], 0, 1)]
    return Articulation(links, joints)


def test_joint_transform_revolute_and_prismatic():
    j1, j2 = _chain().joints
    m = j1.transform(np.pi / 2)
    p = np.array([2.0, 0, 0, 1])  # one unit from the axis through (1, 0, 0), along +x
    np.testing.assert_allclose(m @ p, [1.0, 1.0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(m @ np.array([1.0, 0, 5.0, 1]), [1.0, 0, 5.0, 1], atol=1e-12)  # on the axis
    np.testing.assert_allclose(j2.transform(0.25)[:3, 3], [0, 0.25, 0])  # unit axis (normalised)
    assert np.array_equal(Joint("f", "fixed", "a", "b", [0, 0, 0], [1, 0, 0]).transform(1.0), np.eye(4))
    from sdk.articulation.axis_search import joint_transform
    np.testing.assert_array_equal(joint_transform("revolute", j1.origin, j1.axis, 0.3), j1.transform(0.3))


def test_link_transforms_compose_down_the_tree():
    art = _chain()
    m = art.link_transforms({"j1": 0.4, "j2": 0.5})
    np.testing.assert_array_equal(m["base"], np.eye(4))
    np.testing.assert_allclose(m["arm"], art.joints[0].transform(0.4))
    np.testing.assert_allclose(m["hand"], art.joints[0].transform(0.4) @ art.joints[1].transform(0.5))
    assert set(art.link_transforms()) == {"base", "arm", "hand"}


def test_merge_compat_shims(tmp_path, samples_dir):
    from sdk import Articulator, wire
    from sdk.server import convert
    assert convert is wire
    rig = Articulator().rig(str(samples_dir / "arm.obj"))
    out = rig.export(tmp_path / "arm.glb")  # deprecated: the registry's save
    from sdk.io import load_asset
    assert sorted(load_asset(out).rig.skeleton.names) == sorted(rig.skeleton.names)
    from sdk.errors import InvalidInputError
    with pytest.raises(InvalidInputError, match="unknown output format"):
        rig.export_usd(tmp_path / "arm.xyz")
