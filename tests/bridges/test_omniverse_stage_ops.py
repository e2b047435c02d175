import numpy as np
import pytest

from sdk import Articulator
from sdk.io import load_asset


def _cabinet_stage(samples_dir):
    """A stage like a DCC would hand over: one Xform per part with a Mesh child, offset by the prim transforms."""
    from pxr import Gf, Usd, UsdGeom
    a = load_asset(samples_dir / "cabinet.obj")
    st = Usd.Stage.CreateInMemory()
    UsdGeom.Xform.Define(st, "/Cabinet").AddTranslateOp().Set(Gf.Vec3d(1.0, 0.0, 2.0))
    for p, name in enumerate(a.parts.names):
        vid = np.flatnonzero(a.parts.labels == p)
        remap = -np.ones(a.mesh.n_vertices, int)
        remap[vid] = np.arange(len(vid))
        f = a.mesh.faces[(a.parts.labels[a.mesh.faces] == p).all(1)]
        c = a.mesh.vertices[vid].mean(0)
        x = UsdGeom.Xform.Define(st, f"/Cabinet/{name}")
        x.AddTranslateOp().Set(Gf.Vec3d(*c.tolist()))
        m = UsdGeom.Mesh.Define(st, f"/Cabinet/{name}/geom")
        m.CreatePointsAttr((a.mesh.vertices[vid] - c).tolist())
        m.CreateFaceVertexCountsAttr([3] * len(f))
        m.CreateFaceVertexIndicesAttr(remap[f].ravel().tolist())
    return st, a


def test_read_articulate_and_animate_a_prop_on_a_stage(samples_dir):
    from pxr import Usd, UsdGeom
    from engine_bridges.omniverse.articulate_bridge import stage_ops
    st, src = _cabinet_stage(samples_dir)
    asset, link_prims = stage_ops.prop_from_stage(st, "/Cabinet")
    assert set(asset.parts.names) == set(src.parts.names)
    # the stage prop is the sample moved by the root translate
    assert np.allclose(asset.mesh.vertices.min(0), src.mesh.vertices.min(0) + [1, 0, 2], atol=1e-5)

    art = Articulator().articulate(asset, all_parts=True, prompts={"door": "open the door"})
    movable = {j.child: j for j in art.movable_joints()}
    assert {"door", "drawer", "lid"} <= set(movable)
    n = stage_ops.animate_articulation(st, art, link_prims, seconds=1.0, fps=10)
    assert n == 10

    def world_points(name, t):
        m = UsdGeom.Mesh(st.GetPrimAtPath(f"/Cabinet/{name}/geom"))
        w = np.asarray(UsdGeom.XformCache(Usd.TimeCode(t)).GetLocalToWorldTransform(m.GetPrim())).T
        p = np.asarray(m.GetPointsAttr().Get())
        return p @ w[:3, :3].T + w[:3, 3]

    for name, j in movable.items():
        rest, mid = world_points(name, 0), world_points(name, 5)  # frame 5 of 10: near the upper limit
        assert np.allclose(rest, asset.mesh.vertices[asset.parts.labels == asset.parts.names.index(name)], atol=1e-5)
        assert np.abs(mid - rest).max() > 1e-3, f"{name} does not move"
        if j.type == "revolute":  # distance to the hinge axis is preserved by the motion
            def dist(p):
                d = p - j.origin
                return np.linalg.norm(d - np.outer(d @ j.axis, j.axis), axis=1)
            assert np.allclose(dist(rest), dist(mid), atol=1e-5)
        else:  # prismatic: a pure translation along the axis
            delta = mid - rest
            assert np.allclose(delta, delta[0], atol=1e-6)
            assert np.allclose(np.cross(delta[0], j.axis), 0, atol=1e-6)
    # the body does not move
    body = [n for n in asset.parts.names if n not in movable][0]
    assert np.allclose(world_points(body, 5), world_points(body, 0))


def test_prop_needs_parts():
    from pxr import Usd, UsdGeom
    from engine_bridges.omniverse.articulate_bridge import stage_ops
    from sdk.errors import InvalidInputError
    st = Usd.Stage.CreateInMemory()
    UsdGeom.Xform.Define(st, "/P")
    with pytest.raises(InvalidInputError, match="at least two Mesh prims"):
        stage_ops.prop_from_stage(st, "/P")
    with pytest.raises(InvalidInputError, match="no prim at /Q"):
        stage_ops.prop_from_stage(st, "/Q")
