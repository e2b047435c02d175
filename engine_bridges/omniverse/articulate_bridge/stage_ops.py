"""Stage operations of the Omniverse bridge, in plain OpenUSD (``pxr``): read a prop from an open stage, and
animate its prims through the joints the SDK estimated (a timeline preview of each joint's range).

Kit-free on purpose: the same code runs inside Omniverse (extension.py) and in tests with usd-core.
"""
from __future__ import annotations

import numpy as np

from sdk.core import Articulation, Mesh, PartLabels, sanitize_name
from sdk.errors import InvalidInputError
from sdk.io import Asset


def _world(cache, prim) -> np.ndarray:  # [4, 4] column-vector convention
    return np.asarray(cache.GetLocalToWorldTransform(prim), dtype=np.float64).T


def prop_from_stage(stage, root_path: str) -> tuple[Asset, dict[str, str]]:
    """The prop under ``root_path``: each Mesh prim below it is one part, in world space at the current pose.

    Returns (Asset with parts named after the prims, {part name: prim path}).
    """
    from sdk.io.asset import usd_mesh_prims
    root = stage.GetPrimAtPath(root_path)
    if not root or not root.IsValid():
        raise InvalidInputError(f"no prim at {root_path}", field="prim")
    verts, faces, labels, names, paths = [], [], [], [], {}
    n0 = 0
    taken: set[str] = set()
    for prim, p, tri in usd_mesh_prims(stage, root):
        # the part is the mesh's own prim, or its parent Xform when the mesh is a "geom" child of a link
        owner = prim.GetParent() if prim.GetName() in ("geom", "mesh", "Mesh") and prim.GetParent() != root else prim
        name = sanitize_name(owner.GetName(), taken)
        paths[name] = str(owner.GetPath())
        verts.append(p)
        faces.append(tri + n0)
        labels.append(np.full(len(p), len(names)))
        names.append(name)
        n0 += len(p)
    if len(names) < 2:
        raise InvalidInputError(f"{root_path} needs at least two Mesh prims (parts) to articulate; found {len(names)}",
                                field="prim")
    mesh = Mesh(np.concatenate(verts), np.concatenate(faces), name=sanitize_name(root.GetName()))
    return Asset(None, mesh, PartLabels(np.concatenate(labels), names)), paths


def joint_motion(joint, amount: float) -> np.ndarray:
    """World-frame rigid motion [4, 4] of a joint at ``amount`` (radians or stage units): ``Joint.transform``."""
    return joint.transform(amount)


def link_motions(art: Articulation, amounts: dict[str, float]) -> dict[str, np.ndarray]:
    """World motion of every link for joint values {joint name: amount}: ``Articulation.link_transforms``."""
    return art.link_transforms(amounts)


def animate_articulation(stage, art: Articulation, link_prims: dict[str, str], *, seconds: float = 2.0,
                         fps: float = 24.0, start: float = 0.0) -> int:
    """Author time samples that sweep every movable joint lower -> upper -> lower over ``seconds``.

    Each moving prim gets one ``xformOp:transform`` (its previous ops are folded into it), so the preview plays
    on the timeline and the rest pose stays at the first frame. Returns the number of frames written.
    """
    from pxr import Gf, Usd, UsdGeom
    n = max(int(round(seconds * fps)), 2)
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    moving = {j.child for j in art.movable_joints()}
    # every prim whose world pose changes: links that move and links below them
    by_child = {j.child: j for j in art.joints}

    def moves(link):
        j = by_child.get(link)
        return j is not None and (link in moving or moves(j.parent))

    prims = {l: stage.GetPrimAtPath(link_prims[l]) for l in link_prims if moves(l)}
    for l, p in prims.items():
        if not p or not p.IsValid():
            raise InvalidInputError(f"link '{l}' maps to missing prim {link_prims[l]}", field="link_prims")
    rest_world = {l: _world(cache, p) for l, p in prims.items()}
    parent_rest = {l: _world(cache, p.GetParent()) for l, p in prims.items()}
    prim_of_path = {str(p.GetPath()): l for l, p in prims.items()}
    ops = {}
    for l, p in prims.items():
        x = UsdGeom.Xformable(p)
        x.ClearXformOpOrder()
        ops[l] = x.AddTransformOp()
    stage.SetTimeCodesPerSecond(fps)
    stage.SetStartTimeCode(start)
    stage.SetEndTimeCode(start + n - 1)
    for f in range(n):
        s = 1.0 - abs(2.0 * f / (n - 1) - 1.0)  # 0 -> 1 -> 0
        amounts = {j.name: j.lower + s * (j.upper - j.lower) for j in art.movable_joints()}
        motion = link_motions(art, amounts)
        for l, p in prims.items():
            world = motion[l] @ rest_world[l]
            parent_path = str(p.GetParent().GetPath())
            pl = prim_of_path.get(parent_path)
            pw = motion[pl] @ rest_world[pl] if pl is not None else parent_rest[l]
            local = np.linalg.inv(pw) @ world
            ops[l].Set(Gf.Matrix4d(*local.T.ravel().tolist()), Usd.TimeCode(start + f))
    return n
