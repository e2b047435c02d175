"""Stage operations of the Omniverse bridge, in plain OpenUSD (``pxr``): read a prop from an open stage, and
animate its prims through the joints the SDK estimated (a timeline preview of each joint's range).

Kit-free on purpose: the same code runs inside Omniverse (extension.py) and in tests with usd-core. It needs
only ``pxr`` and numpy, so Kit's Python can use it with the torch-free client (``articulate_client``) and no
SDK installed; :func:`prop_from_stage` (an ``sdk.io.Asset``) is for in-process use with the SDK.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


def _invalid(message: str, field: str):
    try:
        from sdk.errors import InvalidInputError
        return InvalidInputError(message, field=field)
    except ImportError:  # Kit with only the torch-free client
        return ValueError(message)


def _safe_name(name: str, taken: set[str]) -> str:
    """A USD/identifier-safe unique name (what sdk.core.sanitize_name does, kept here for SDK-less use)."""
    try:
        from sdk.core import sanitize_name
        return sanitize_name(name, taken)
    except ImportError:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "part"
        if base[0].isdigit():
            base = "_" + base
        out, k = base, 1
        while out in taken:
            out, k = f"{base}_{k}", k + 1
        taken.add(out)
        return out


def _mesh_prims(stage, root):
    """(prim, world points [V, 3], triangles [F, 3]) of every Mesh prim under ``root`` (fan-triangulated)."""
    try:
        from sdk.io.asset import usd_mesh_prims
        yield from usd_mesh_prims(stage, root)
        return
    except ImportError:
        pass
    from pxr import Usd, UsdGeom
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    for prim in Usd.PrimRange(root):
        if not prim.IsA(UsdGeom.Mesh):
            continue
        m = UsdGeom.Mesh(prim)
        pts, cnt, idx = m.GetPointsAttr().Get(), m.GetFaceVertexCountsAttr().Get(), m.GetFaceVertexIndicesAttr().Get()
        if pts is None or cnt is None or idx is None or len(pts) == 0:
            continue
        xf = np.asarray(cache.GetLocalToWorldTransform(prim), dtype=np.float64).T  # USD is row-vector
        p = np.asarray(pts, dtype=np.float64) @ xf[:3, :3].T + xf[:3, 3]
        cnt, idx = np.asarray(cnt), np.asarray(idx)
        starts = np.r_[0, np.cumsum(cnt)[:-1]]
        tri = [[idx[s], idx[s + k], idx[s + k + 1]] for s, c in zip(starts, cnt) for k in range(1, c - 1)]
        if tri:
            yield prim, p, np.asarray(tri, dtype=np.int64)


def _world(cache, prim) -> np.ndarray:  # [4, 4] column-vector convention
    return np.asarray(cache.GetLocalToWorldTransform(prim), dtype=np.float64).T


@dataclass
class StageProp:
    """A prop read from a stage as plain arrays (what the torch-free client sends)."""
    name: str
    vertices: np.ndarray   # [V, 3] world space
    faces: np.ndarray      # [F, 3]
    labels: np.ndarray     # [V] part per vertex
    names: list[str]       # part names
    paths: dict[str, str]  # part name -> prim path


def prop_arrays_from_stage(stage, root_path: str) -> StageProp:
    """The prop under ``root_path``: each Mesh prim below it is one part, in world space at the current pose."""
    root = stage.GetPrimAtPath(root_path)
    if not root or not root.IsValid():
        raise _invalid(f"no prim at {root_path}", "prim")
    verts, faces, labels, names, paths = [], [], [], [], {}
    n0 = 0
    taken: set[str] = set()
    for prim, p, tri in _mesh_prims(stage, root):
        # the part is the mesh's own prim, or its parent Xform when the mesh is a "geom" child of a link
        owner = prim.GetParent() if prim.GetName() in ("geom", "mesh", "Mesh") and prim.GetParent() != root else prim
        name = _safe_name(owner.GetName(), taken)
        paths[name] = str(owner.GetPath())
        verts.append(p)
        faces.append(tri + n0)
        labels.append(np.full(len(p), len(names)))
        names.append(name)
        n0 += len(p)
    if len(names) < 2:
        raise _invalid(f"{root_path} needs at least two Mesh prims (parts) to articulate; found {len(names)}", "prim")
    return StageProp(_safe_name(root.GetName(), set()), np.concatenate(verts), np.concatenate(faces),
                     np.concatenate(labels), names, paths)


def prop_from_stage(stage, root_path: str):
    """The prop as an ``sdk.io.Asset`` (parts named after the prims) and {part name: prim path}; needs the SDK."""
    from sdk.core import Mesh, PartLabels
    from sdk.io import Asset
    p = prop_arrays_from_stage(stage, root_path)
    return Asset(None, Mesh(p.vertices, p.faces, name=p.name), PartLabels(p.labels, p.names)), p.paths


def joint_motion(joint, amount: float) -> np.ndarray:
    """World-frame rigid motion [4, 4] of a joint at ``amount`` (radians or stage units).

    The same motion as ``sdk.articulation.axis_search.joint_transform`` (a test checks it), in numpy alone.
    """
    m = np.eye(4)
    axis = np.asarray(joint.axis, dtype=np.float64)
    axis = axis / max(np.linalg.norm(axis), 1e-30)
    if joint.type in ("revolute", "continuous"):
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        R = np.eye(3) + np.sin(amount) * k + (1 - np.cos(amount)) * (k @ k)  # Rodrigues
        origin = np.asarray(joint.origin, dtype=np.float64)
        m[:3, :3] = R
        m[:3, 3] = origin - R @ origin
    elif joint.type == "prismatic":
        m[:3, 3] = amount * axis
    return m


def _link_names(art) -> list[str]:
    """Link names of an sdk Articulation (Link objects) or an articulate_client result (names)."""
    return [lk if isinstance(lk, str) else lk.name for lk in art.links]


def link_motions(art: Articulation, amounts: dict[str, float]) -> dict[str, np.ndarray]:
    """World motion of every link for joint values {joint name: amount}: parents' motions compose down the tree."""
    by_child = {j.child: j for j in art.joints}
    out: dict[str, np.ndarray] = {}

    def motion(link: str) -> np.ndarray:
        if link not in out:
            j = by_child.get(link)
            out[link] = np.eye(4) if j is None else motion(j.parent) @ joint_motion(j, amounts.get(j.name, 0.0))
        return out[link]

    for name in _link_names(art):
        motion(name)
    return out


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
            raise _invalid(f"link '{l}' maps to missing prim {link_prims[l]}", "link_prims")
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
