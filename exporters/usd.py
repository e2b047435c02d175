"""Write a Rig as UsdSkel: SkelRoot, Skeleton, skinned Mesh (SkelBindingAPI) and SkelAnimations.

Layout::

    /<Name>                  SkelRoot (defaultPrim)
    /<Name>/Skeleton         Skeleton (joints, bindTransforms = world, restTransforms = local)
    /<Name>/Skeleton/<Clip>  SkelAnimation per clip (the first is bound as skel:animationSource)
    /<Name>/<Mesh>           Mesh with SkelBindingAPI: primvars:skel:jointIndices/jointWeights
                             (vertex interpolation, elementSize = influences), geomBindTransform; its look
                             (primvars:st/st1.., normals, tangents, displayColor, GeomSubsets per primitive,
                             MaterialBindingAPI; see exporters.usd_look)
    /<Name>/Looks/<Material> UsdPreviewSurface + UsdUVTexture networks; textures in <file stem>_textures/

Matrices: the SDK uses column vectors; USD uses row vectors, so every matrix is transposed on write.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import Rig, sanitize_name
from sdk.errors import InvalidInputError
from sdk.util.atomic import atomic_path

from ._pxr import pxr

_UP_ROT = {  # rotation taking Y-up content to the requested axis
    ("Y", "Y"): np.eye(3),
    ("Y", "Z"): np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float),
    ("Z", "Z"): np.eye(3),
    ("Z", "Y"): np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float),
}


def _mat(Gf, m: np.ndarray):
    return Gf.Matrix4d(*np.asarray(m, dtype=np.float64).T.ravel().tolist())


def write_rig_usd(rig: Rig, path, *, up_axis: str = "Y", source_up_axis: str = "Y", meters_per_unit: float = 1.0,
                  scale: float = 1.0, animations: bool = True, name: str | None = None) -> Path:
    """Write ``rig`` to ``path`` (.usda/.usdc/.usd) atomically; returns the path.

    ``up_axis``: stage up axis ("Y" or "Z"); content authored ``source_up_axis``-up is rotated onto it by an
    xformOp on the SkelRoot. ``meters_per_unit``: stage metadata; ``scale`` multiplies content (unit change).
    """
    Usd, UsdGeom, UsdSkel, Sdf, Vt, Gf = pxr("Usd", "UsdGeom", "UsdSkel", "Sdf", "Vt", "Gf")
    up_axis, source_up_axis = up_axis.upper(), source_up_axis.upper()
    if (source_up_axis, up_axis) not in _UP_ROT:
        raise InvalidInputError(f"up axis must be Y or Z, got {up_axis!r}/{source_up_axis!r}", field="up_axis")
    if not meters_per_unit > 0:
        raise InvalidInputError(f"meters_per_unit must be positive, got {meters_per_unit}", field="meters_per_unit")
    rig.validate()
    path = Path(path)
    if path.suffix.lower() == ".usdz":
        return _write_usdz(rig, path, up_axis=up_axis, source_up_axis=source_up_axis, meters_per_unit=meters_per_unit,
                           scale=scale, animations=animations, name=name)
    if path.suffix.lower() not in (".usd", ".usda", ".usdc"):
        raise InvalidInputError(f"USD output must end in .usd, .usda, .usdc or .usdz, got '{path.suffix}'",
                                field="output")
    skel, mesh, skin = rig.skeleton, rig.mesh, rig.skin
    root_name = sanitize_name(name or mesh.name or "Rig")

    with atomic_path(path) as tmp:
        stage = Usd.Stage.CreateNew(str(tmp))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y if up_axis == "Y" else UsdGeom.Tokens.z)
        UsdGeom.SetStageMetersPerUnit(stage, float(meters_per_unit))
        root = UsdSkel.Root.Define(stage, f"/{root_name}")
        stage.SetDefaultPrim(root.GetPrim())
        xf = np.eye(4)
        xf[:3, :3] = _UP_ROT[(source_up_axis, up_axis)] * scale
        if not np.allclose(xf, np.eye(4)):
            UsdGeom.Xformable(root).AddTransformOp().Set(_mat(Gf, xf))

        sk = UsdSkel.Skeleton.Define(stage, f"/{root_name}/Skeleton")
        joints = Vt.TokenArray(skel.paths())
        sk.CreateJointsAttr(joints)
        sk.CreateJointNamesAttr(Vt.TokenArray(skel.names))
        sk.CreateBindTransformsAttr(Vt.Matrix4dArray([_mat(Gf, m) for m in skel.bind_world]))
        sk.CreateRestTransformsAttr(Vt.Matrix4dArray([_mat(Gf, m) for m in skel.rest_local]))

        m = UsdGeom.Mesh.Define(stage, f"/{root_name}/{sanitize_name(mesh.name or 'Mesh')}")
        m.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(mesh.vertices.astype(np.float32)))
        m.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(mesh.n_faces, 3, dtype=np.int32)))
        m.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(mesh.faces.astype(np.int32).ravel()))
        m.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
        m.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*lo.tolist()), Gf.Vec3f(*hi.tolist())]))
        binding = UsdSkel.BindingAPI.Apply(m.GetPrim())
        binding.CreateSkeletonRel().SetTargets([sk.GetPath()])
        k = skin.max_influences
        binding.CreateJointIndicesPrimvar(False, k).Set(Vt.IntArray.FromNumpy(skin.indices.astype(np.int32).ravel()))
        binding.CreateJointWeightsPrimvar(False, k).Set(Vt.FloatArray.FromNumpy(skin.weights.astype(np.float32).ravel()))
        binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
        from .usd_look import write_look_usd
        write_look_usd(stage, m.GetPrim(), mesh, path, looks_path=f"/{root_name}/Looks")
        if rig.parts is not None and rig.parts.n_parts:
            pv = UsdGeom.PrimvarsAPI(m).CreatePrimvar("partId", Sdf.ValueTypeNames.IntArray, UsdGeom.Tokens.vertex)
            pv.Set(Vt.IntArray.FromNumpy(rig.parts.labels.astype(np.int32)))
            m.GetPrim().SetCustomDataByKey("articulate:partNames", Vt.StringArray(list(rig.parts.names)))

        if animations and rig.animations:
            skb = UsdSkel.BindingAPI.Apply(sk.GetPrim())
            taken: set[str] = set()
            for i, anim in enumerate(rig.animations):
                a = UsdSkel.Animation.Define(stage, f"/{root_name}/Skeleton/{sanitize_name(anim.name, taken)}")
                a.CreateJointsAttr(joints)
                ta, ra, sa = a.CreateTranslationsAttr(), a.CreateRotationsAttr(), a.CreateScalesAttr()
                for f in range(anim.n_frames):
                    ta.Set(Vt.Vec3fArray.FromNumpy(anim.translations[f].astype(np.float32)), f)
                    q = anim.rotations[f]
                    ra.Set(Vt.QuatfArray([Gf.Quatf(float(w), float(x), float(y), float(z)) for w, x, y, z in q]), f)
                    sa.Set(Vt.Vec3hArray.FromNumpy(anim.scales[f].astype(np.float16)), f)
                if i == 0:
                    skb.CreateAnimationSourceRel().SetTargets([a.GetPath()])
                    stage.SetStartTimeCode(0)
                    stage.SetEndTimeCode(max(anim.n_frames - 1, 0))
                    stage.SetTimeCodesPerSecond(anim.fps)
                    stage.SetFramesPerSecond(anim.fps)
        stage.GetRootLayer().Save()
    return path


def _write_usdz(rig: Rig, path: Path, **opts) -> Path:
    """One self-contained package: the .usdc layer and its textures written into a temporary folder, packaged by
    ``UsdUtils.CreateNewUsdzPackage`` (textures inside, paths kept relative), moved into place."""
    import os
    import tempfile
    UsdUtils, Sdf = pxr("UsdUtils", "Sdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.stem}.", dir=path.parent) as tmp:
        layer = write_rig_usd(rig, Path(tmp) / f"{path.stem}.usdc", **opts)
        pkg = Path(tmp) / path.name
        if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(layer)), str(pkg)):
            raise RuntimeError(f"UsdUtils could not package {path}")
        os.replace(pkg, path)
    return path


def skin_with_usdskel(path, time: float = 0.0) -> np.ndarray:
    """Pose the first skinned mesh of a USD file with UsdSkel's own LBS at ``time`` -> world points [V, 3].

    Used to check our exports against OpenUSD's reference implementation.
    """
    Usd, UsdSkel, UsdGeom, Vt, Gf = pxr("Usd", "UsdSkel", "UsdGeom", "Vt", "Gf")
    stage = Usd.Stage.Open(str(path))
    cache = UsdSkel.Cache()
    for prim in stage.Traverse():
        if not prim.IsA(UsdSkel.Root):
            continue
        root = UsdSkel.Root(prim)
        cache.Populate(root, Usd.PrimDefaultPredicate)
        for binding in cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate):
            skq = cache.GetSkelQuery(binding.GetSkeleton())
            xforms = skq.ComputeSkinningTransforms(time)
            for target in binding.GetSkinningTargets():
                pts = UsdGeom.Mesh(target.GetPrim()).GetPointsAttr().Get(time)
                pts = Vt.Vec3fArray(pts)
                ok = target.ComputeSkinnedPoints(xforms, pts, time)
                if not ok:
                    raise RuntimeError("UsdSkel failed to skin points")
                local_to_world = UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(time)
                p = np.asarray(pts, dtype=np.float64)
                w = np.asarray(local_to_world, dtype=np.float64)  # row-vector
                return p @ w[:3, :3] + w[3, :3]
    raise ValueError(f"{path}: no skinned mesh found")
