"""Read a UsdSkel rig back: the first skinned Mesh (with its look), its Skeleton, joint influences, part labels and
SkelAnimations.

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
    bound = UsdSkel.BindingAPI(mesh_prim).GetInheritedSkeleton()  # the skeleton the mesh is bound to
    if bound and bound.GetPrim().IsValid():
        skel_prim = bound.GetPrim()
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
    from .usd_look import read_usd_mesh
    um = read_usd_mesh(mesh_prim)
    if um is None:
        raise AssetReadError(path, f"skinned mesh {mesh_prim.GetPath()} has no faces")
    b = UsdSkel.BindingAPI(mesh_prim)
    ji, jw = b.GetJointIndicesPrimvar(), b.GetJointWeightsPrimvar()
    k = ji.GetElementSize()
    I = np.asarray(ji.Get(), dtype=np.int64).reshape(-1, k)
    W = np.asarray(jw.Get(), dtype=np.float64).reshape(-1, k)
    if ji.GetInterpolation() == UsdGeom.Tokens.constant:  # rigid binding: one row for every point
        I, W = np.repeat(I[:1], um.vertex_of.max() + 1, 0), np.repeat(W[:1], um.vertex_of.max() + 1, 0)
    I, W = I[um.vertex_of], W[um.vertex_of]  # split vertices (face-varying seams) share their point's weights
    order = np.argsort(-W, axis=1, kind="stable")
    I, W = np.take_along_axis(I, order, 1), np.take_along_axis(W, order, 1)
    meta["raw_weight_sums"] = W.sum(1)
    mesh = Mesh(um.points, um.faces, name=sanitize_name(mesh_prim.GetName()), uvs=um.uvs, look=um.look)
    skel = Skeleton.from_world(names, parents, bind)
    root_xf = xf.copy()
    root_xf[:3, :3] /= np.linalg.norm(xf[:3, :3], axis=0).mean()
    if meta["has_rest_transforms"]:
        skel.rest_local = np.array([np.asarray(t, dtype=np.float64).T for t in rt])
        skel.rest_local[parents < 0] = root_xf @ skel.rest_local[parents < 0]
    parts = _read_parts(UsdGeom, mesh_prim, um.vertex_of)
    anims = _read_animations(stage, UsdSkel, sk, joints, parents, skel.rest_local, root_xf)
    rig = Rig(mesh, skel, SkinWeights(I, W.astype(np.float32)), parts, anims, metadata={"usd": meta, "source": str(path)})
    return Asset(path, mesh, parts, rig)


def _read_parts(UsdGeom, mesh_prim, vertex_of):
    """The ``primvars:partId`` + ``articulate:partNames`` the rig writer authors, as PartLabels (None if absent)."""
    from ..core import PartLabels
    pv = UsdGeom.PrimvarsAPI(mesh_prim).GetPrimvar("partId")
    if not pv or not pv.HasValue():
        return None
    lab = np.asarray(pv.Get(), dtype=np.int64)
    if len(lab) <= vertex_of.max():
        return None
    names = mesh_prim.GetCustomDataByKey("articulate:partNames")
    names = [str(n) for n in names] if names else []
    lab = lab[vertex_of]
    if names and lab.max() >= len(names):
        names = []
    return PartLabels(lab, names)


def _read_animations(stage, UsdSkel, sk, joints: list, parents, rest_local, root_xf):
    """Every SkelAnimation of the skeleton (the bound animationSource first, then the others under the Skeleton
    prim) sampled at its time codes -> [Animation]; joints an animation does not name keep their rest pose."""
    from ..core import Animation, sanitize_name
    from ..core.transforms import compose_trs, decompose_trs
    prims = []
    src = UsdSkel.BindingAPI(sk.GetPrim()).GetAnimationSourceRel().GetTargets() if sk.GetPrim().HasAPI(UsdSkel.BindingAPI) else []
    for t in src:
        p = stage.GetPrimAtPath(t)
        if p and p.IsA(UsdSkel.Animation):
            prims.append(p)
    for p in sk.GetPrim().GetChildren():
        if p.IsA(UsdSkel.Animation) and p not in prims:
            prims.append(p)
    tcps = float(stage.GetTimeCodesPerSecond() or 24.0)
    index = {j: i for i, j in enumerate(joints)}
    t0, q0, s0 = decompose_trs(rest_local)
    out = []
    for p in prims:
        a = UsdSkel.Animation(p)
        aj = [str(j) for j in (a.GetJointsAttr().Get() or [])]
        cols = np.array([index.get(j, -1) for j in aj], dtype=np.int64)
        attrs = (a.GetTranslationsAttr(), a.GetRotationsAttr(), a.GetScalesAttr())
        times = sorted({t for at in attrs for t in at.GetTimeSamples()})
        if not times or not len(cols):
            continue
        T = len(times)
        tr, rot, sc = np.repeat(t0[None], T, 0), np.repeat(q0[None], T, 0), np.repeat(s0[None], T, 0)
        ok = cols >= 0
        for f, tc in enumerate(times):
            tv, rv, sv = (at.Get(tc) for at in attrs)
            if tv is not None and len(tv) == len(cols):
                tr[f, cols[ok]] = np.asarray(tv, dtype=np.float64)[ok]
            if rv is not None and len(rv) == len(cols):
                q = np.array([[r.GetReal(), *r.GetImaginary()] for r in rv], dtype=np.float64)
                rot[f, cols[ok]] = q[ok]
            if sv is not None and len(sv) == len(cols):
                sc[f, cols[ok]] = np.asarray(sv, dtype=np.float64)[ok]
        local = compose_trs(tr, rot, sc)
        local[:, parents < 0] = root_xf @ local[:, parents < 0]
        step = float(np.median(np.diff(times))) if T > 1 else 1.0
        out.append(Animation.from_local_matrices(sanitize_name(p.GetName()), tcps / step, local))
    return out


def has_skin(stage) -> bool:
    """Whether an open stage has a Mesh with UsdSkel joint influences."""
    from ._lazy import pxr
    UsdGeom, UsdSkel = pxr("UsdGeom"), pxr("UsdSkel")
    return any(p.IsA(UsdGeom.Mesh) and UsdSkel.BindingAPI(p).GetJointIndicesPrimvar().HasValue() for p in stage.Traverse())
