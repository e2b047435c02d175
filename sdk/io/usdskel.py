"""Read a UsdSkel rig back: the first skinned Mesh, its Skeleton, joint influences and SkelAnimations.

``read_rig_usd(path)`` returns an Asset whose ``rig`` carries the stage's up axis and metersPerUnit in
``rig.metadata["usd"]`` (with the prim names, for bone/mesh name clash checks). Matrices are transposed
back to the SDK's column-vector convention; the SkelRoot's transform is applied to mesh and joints.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AssetReadError


def read_rig_usd(path):
    from ..core import Mesh, Rig, Skeleton, SkinWeights, sanitize_name
    from ._lazy import pxr
    from .asset import Asset
    Usd, UsdGeom, UsdSkel = pxr("Usd"), pxr("UsdGeom"), pxr("UsdSkel")
    path = Path(path)
    stage = Usd.Stage.Open(str(path)) if path.exists() else None
    if stage is None:
        raise AssetReadError(path, "USD stage could not be opened")
    meta = {"up_axis": str(UsdGeom.GetStageUpAxis(stage)), "meters_per_unit": float(UsdGeom.GetStageMetersPerUnit(stage)),
            "has_up_axis": stage.HasAuthoredMetadata("upAxis"), "has_meters_per_unit": stage.HasAuthoredMetadata("metersPerUnit"),
            "mesh_names": [], "skeletons": 0}
    skel_prim, mesh_prim = None, None
    for prim in stage.Traverse():
        if prim.IsA(UsdSkel.Skeleton):
            meta["skeletons"] += 1
            skel_prim = skel_prim or prim
        if prim.IsA(UsdGeom.Mesh):
            meta["mesh_names"].append(prim.GetName())
            if mesh_prim is None and UsdSkel.BindingAPI(prim).GetJointIndicesPrimvar().HasValue():
                mesh_prim = prim
    if skel_prim is None or mesh_prim is None:
        raise AssetReadError(path, "no UsdSkel Skeleton with a skinned Mesh")
    sk = UsdSkel.Skeleton(skel_prim)
    joints = [str(j) for j in sk.GetJointsAttr().Get()]
    jn = sk.GetJointNamesAttr().Get()
    names = [str(n) for n in jn] if jn else [j.split("/")[-1] for j in joints]
    index = {j: i for i, j in enumerate(joints)}
    parents = np.array([index.get(j.rsplit("/", 1)[0], -1) if "/" in j else -1 for j in joints], dtype=np.int64)
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    xf = np.asarray(cache.GetLocalToWorldTransform(skel_prim), dtype=np.float64).T
    bt = sk.GetBindTransformsAttr().Get()
    rt = sk.GetRestTransformsAttr().Get()
    meta["has_rest_transforms"] = rt is not None and len(rt) == len(joints)
    meta["has_bind_transforms"] = bt is not None and len(bt) == len(joints)
    bind = np.array([np.asarray(m, dtype=np.float64).T for m in bt]) if meta["has_bind_transforms"] else np.tile(np.eye(4), (len(joints), 1, 1))
    bind = xf @ bind
    bind[:, :3, :3] /= np.linalg.norm(xf[:3, :3], axis=0).mean()
    m = UsdGeom.Mesh(mesh_prim)
    pts = np.asarray(m.GetPointsAttr().Get(), dtype=np.float64)
    mx = np.asarray(cache.GetLocalToWorldTransform(mesh_prim), dtype=np.float64).T
    pts = pts @ mx[:3, :3].T + mx[:3, 3]
    cnt = np.asarray(m.GetFaceVertexCountsAttr().Get())
    idx = np.asarray(m.GetFaceVertexIndicesAttr().Get())
    starts = np.r_[0, np.cumsum(cnt)[:-1]]
    tri = np.array([[idx[s], idx[s + k], idx[s + k + 1]] for s, c in zip(starts, cnt) for k in range(1, c - 1)],
                   dtype=np.int64)
    b = UsdSkel.BindingAPI(mesh_prim)
    ji, jw = b.GetJointIndicesPrimvar(), b.GetJointWeightsPrimvar()
    k = ji.GetElementSize()
    I = np.asarray(ji.Get(), dtype=np.int64).reshape(-1, k)
    W = np.asarray(jw.Get(), dtype=np.float64).reshape(-1, k)
    order = np.argsort(-W, axis=1, kind="stable")
    I, W = np.take_along_axis(I, order, 1), np.take_along_axis(W, order, 1)
    meta["raw_weight_sums"] = W.sum(1)
    mesh = Mesh(pts, tri, name=sanitize_name(mesh_prim.GetName()))
    skel = Skeleton.from_world(names, parents, bind)
    if meta["has_rest_transforms"]:
        skel.rest_local = np.array([np.asarray(t, dtype=np.float64).T for t in rt])
    rig = Rig(mesh, skel, SkinWeights(I, W.astype(np.float32)), metadata={"usd": meta})
    return Asset(path, mesh, None, rig)
