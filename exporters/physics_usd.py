"""USD with UsdPhysics for an articulated prop (sdk.core.Articulation).

Stage: ``/<name>`` (default prim, Xform) with ``PhysicsArticulationRootAPI``; one Xform per link below it with
``PhysicsRigidBodyAPI`` and a ``UsdGeom.Mesh`` child (``CollisionAPI`` + ``MeshCollisionAPI`` convex
decomposition); joints under ``/<name>/Joints`` as ``PhysicsRevoluteJoint`` / ``PhysicsPrismaticJoint`` /
``PhysicsFixedJoint``. Each link frame is unrotated and sits at the origin of the joint that moves it. A
joint's frame is rotated (localRot0/1) so that its X axis is the joint axis; ``physics:axis = "X"``,
``localPos0`` is the pivot in the parent link's frame and ``localPos1`` in the child's. Limits: revolute in
degrees, prismatic in stage units; continuous joints have no limits. ``metersPerUnit`` and ``upAxis`` are set.
``validate_physics_usd`` runs every validator in the OpenUSD registry and re-opens the stage.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import Articulation, sanitize_name
from sdk.util.atomic import atomic_path

from ._pxr import pxr
from .urdf import link_positions


def _quat_x_to(axis: np.ndarray):
    """(w, x, y, z) rotating +X onto ``axis``."""
    a = np.asarray(axis, float)
    a = a / max(np.linalg.norm(a), 1e-30)
    x = np.array([1.0, 0, 0])
    c = float(np.dot(x, a))
    if c < -1 + 1e-9:
        return (0.0, 0.0, 1.0, 0.0)  # 180 deg about Y
    v = np.cross(x, a)
    q = np.array([1 + c, *v])
    q /= np.linalg.norm(q)
    return tuple(float(t) for t in q)


def write_physics_usd(art: Articulation, path, *, up_axis: str = "Y", meters_per_unit: float | None = None) -> Path:
    Usd, UsdGeom, UsdPhysics, Gf, Sdf = pxr("Usd", "UsdGeom", "UsdPhysics", "Gf", "Sdf")
    path = Path(path)
    pos = link_positions(art)
    with atomic_path(path) as tmp:
        stage = Usd.Stage.CreateNew(str(tmp))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z if up_axis.upper() == "Z" else UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, float(meters_per_unit or art.meters_per_unit or 1.0))
        root_name = sanitize_name(art.name or "object")
        root = UsdGeom.Xform.Define(stage, f"/{root_name}")
        stage.SetDefaultPrim(root.GetPrim())
        UsdPhysics.ArticulationRootAPI.Apply(root.GetPrim())
        names = {}
        for l in art.links:
            nm = sanitize_name(l.name, set(names.values()))
            names[l.name] = nm
            x = UsdGeom.Xform.Define(stage, f"/{root_name}/{nm}")
            x.AddTranslateOp().Set(Gf.Vec3d(*pos[l.name].tolist()))
            UsdPhysics.RigidBodyAPI.Apply(x.GetPrim())
            if l.mesh is not None and l.mesh.n_faces:
                m = UsdGeom.Mesh.Define(stage, f"/{root_name}/{nm}/geom")
                pts = l.mesh.vertices - pos[l.name]
                m.CreatePointsAttr([Gf.Vec3f(*p) for p in pts.astype(np.float32).tolist()])
                m.CreateFaceVertexCountsAttr([3] * l.mesh.n_faces)
                m.CreateFaceVertexIndicesAttr(l.mesh.faces.reshape(-1).astype(int).tolist())
                m.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
                lo, hi = pts.min(0), pts.max(0)
                m.CreateExtentAttr([Gf.Vec3f(*lo.tolist()), Gf.Vec3f(*hi.tolist())])
                from .usd_look import write_look_usd  # the part's uvs, normals, materials, textures
                write_look_usd(stage, m.GetPrim(), l.mesh, path, looks_path=f"/{root_name}/Looks")
                UsdPhysics.CollisionAPI.Apply(m.GetPrim())
                UsdPhysics.MeshCollisionAPI.Apply(m.GetPrim()).CreateApproximationAttr(
                    UsdPhysics.Tokens.convexDecomposition)
        stage.DefinePrim(f"/{root_name}/Joints", "Scope")
        for j in art.joints:
            jp = f"/{root_name}/Joints/{sanitize_name(j.name)}"
            if j.type in ("revolute", "continuous"):
                jt = UsdPhysics.RevoluteJoint.Define(stage, jp)
            elif j.type == "prismatic":
                jt = UsdPhysics.PrismaticJoint.Define(stage, jp)
            else:
                jt = UsdPhysics.FixedJoint.Define(stage, jp)
            jt.CreateBody0Rel().SetTargets([Sdf.Path(f"/{root_name}/{names[j.parent]}")])
            jt.CreateBody1Rel().SetTargets([Sdf.Path(f"/{root_name}/{names[j.child]}")])
            o = np.asarray(j.origin, float)
            jt.CreateLocalPos0Attr(Gf.Vec3f(*(o - pos[j.parent]).tolist()))
            jt.CreateLocalPos1Attr(Gf.Vec3f(*(o - pos[j.child]).tolist()))
            q = _quat_x_to(j.axis) if j.type in ("revolute", "continuous", "prismatic") else (1.0, 0.0, 0.0, 0.0)
            jt.CreateLocalRot0Attr(Gf.Quatf(q[0], Gf.Vec3f(*q[1:])))
            jt.CreateLocalRot1Attr(Gf.Quatf(q[0], Gf.Vec3f(*q[1:])))
            if j.type in ("revolute", "continuous", "prismatic"):
                jt.CreateAxisAttr(UsdPhysics.Tokens.x)
            if j.type == "revolute":
                jt.CreateLowerLimitAttr(float(np.rad2deg(j.lower)))
                jt.CreateUpperLimitAttr(float(np.rad2deg(j.upper)))
            elif j.type == "prismatic":
                jt.CreateLowerLimitAttr(float(j.lower))
                jt.CreateUpperLimitAttr(float(j.upper))
            prim = jt.GetPrim()
            prim.SetCustomDataByKey("articulate:confidence", float(j.confidence))
            prim.SetCustomDataByKey("articulate:type", j.type)
        stage.GetRootLayer().Save()
    return path


def validate_physics_usd(path) -> list[str]:
    """Problems found by every validator in OpenUSD's registry (plus a re-open); empty when clean."""
    Usd, UsdValidation = pxr("Usd", "UsdValidation")
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        return [f"{path}: stage could not be re-opened"]
    reg = UsdValidation.ValidationRegistry()
    names = [m.name for m in reg.GetAllValidatorMetadata()]
    validators = reg.GetOrLoadValidatorsByName(names)
    problems = []
    for v in validators:
        for err in v.Validate(stage):
            if err.GetType() in (UsdValidation.ValidationErrorType.Error, UsdValidation.ValidationErrorType.Warn):
                problems.append(f"{err.GetName()}: {err.GetMessage()}")
    return problems
