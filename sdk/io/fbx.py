"""Read an FBX rig (skinned mesh + armature + takes) through Blender's importer (``bpy``, optional extra ``[fbx]``),
and read the FBX GlobalSettings (unit scale, up axis) straight from the file without Blender.

``read_fbx(path)`` returns an ``Asset`` whose ``rig`` holds the first skinned mesh, its armature as a
Skeleton (Y-up, metres, joint frames = Blender bone frames) and every action as an Animation; mesh
vertices are in the same space. ``fbx_global_settings(path)`` parses binary FBX property records for
``UnitScaleFactor``, ``UpAxis``/``UpAxisSign``, ``FrontAxis`` and ``OriginalUpAxis``.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..errors import AssetReadError, MissingDependencyError

_BLENDER_TO_YUP = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])  # (x, z, -y)


def fbx_global_settings(path) -> dict:
    """{'UnitScaleFactor': float, 'UpAxis': int, 'UpAxisSign': int, ...} from a binary FBX (ASCII: empty dict)."""
    data = Path(path).read_bytes()
    if not data.startswith(b"Kaydara FBX Binary"):
        return {}
    out = {}
    for key in (b"UnitScaleFactor", b"OriginalUnitScaleFactor", b"UpAxis", b"UpAxisSign", b"FrontAxis",
                b"FrontAxisSign", b"CoordAxis", b"OriginalUpAxis"):
        i = data.find(b"S" + struct.pack("<I", len(key)) + key)
        if i < 0:
            continue
        j = i + 5 + len(key)
        try:
            for _ in range(3):  # type, label, flags strings
                if data[j:j + 1] != b"S":
                    raise ValueError
                n = struct.unpack("<I", data[j + 1:j + 5])[0]
                j += 5 + n
            code = data[j:j + 1]
            if code == b"D":
                out[key.decode()] = struct.unpack("<d", data[j + 1:j + 9])[0]
            elif code == b"I":
                out[key.decode()] = struct.unpack("<i", data[j + 1:j + 5])[0]
            elif code == b"F":
                out[key.decode()] = struct.unpack("<f", data[j + 1:j + 5])[0]
        except (ValueError, struct.error):
            continue
    return out


def read_fbx(path, *, animations: bool = True):
    """Asset (mesh + ground-truth-style rig) from an FBX file via Blender's importer."""
    from ..core import Animation, Mesh, Rig, Skeleton, SkinWeights, sanitize_name
    from .asset import Asset
    path = Path(path)
    if not path.exists():
        raise AssetReadError(path, "file does not exist")
    try:
        import bpy
    except ImportError as e:
        raise MissingDependencyError("bpy", "FBX import", "pip install 'articulate-sdk[fbx]'  (bpy==5.0.1)") from e
    bpy.ops.wm.read_factory_settings(use_empty=True)
    import contextlib
    import io
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            bpy.ops.import_scene.fbx(filepath=str(path), use_anim=animations, ignore_leaf_bones=False)
    except RuntimeError as e:
        raise AssetReadError(path, f"not a readable FBX ({e})") from e
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if not meshes:
        raise AssetReadError(path, "FBX has no mesh")
    obj = meshes[0]
    me = obj.data
    mw = np.array(obj.matrix_world)
    V = np.zeros(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", V)
    V = V.reshape(-1, 3).astype(np.float64) @ mw[:3, :3].T + mw[:3, 3]
    tris = []
    for p in me.polygons:
        vs = list(p.vertices)
        tris += [[vs[0], vs[k], vs[k + 1]] for k in range(1, len(vs) - 1)]
    C = _BLENDER_TO_YUP
    uvs = None
    if me.uv_layers:  # per-corner UVs -> per vertex (the last corner wins; seams are shared vertices in the file)
        uv = np.zeros(len(me.loops) * 2, dtype=np.float32)
        me.uv_layers.active.data.foreach_get("uv", uv)
        li = np.zeros(len(me.loops), dtype=np.int64)
        me.loops.foreach_get("vertex_index", li)
        uvs = np.zeros((len(me.vertices), 2), dtype=np.float32)
        uvs[li] = uv.reshape(-1, 2)
    mesh = Mesh(V @ C[:3, :3].T, np.array(tris, dtype=np.int64), name=sanitize_name(obj.name), uvs=uvs)
    rig = None
    extra = {"mesh_names": [o.name for o in meshes], "armature_names": [a.name for a in arms],
             "global_settings": fbx_global_settings(path)}
    if arms:
        ao = arms[0]
        arm = ao.data
        aw = np.array(ao.matrix_world)
        bones = list(arm.bones)
        names = [b.name for b in bones]
        order, seen = [], set()
        while len(order) < len(bones):  # parents first
            for b in bones:
                if b.name not in seen and (b.parent is None or b.parent.name in seen):
                    order.append(b)
                    seen.add(b.name)
        names = [b.name for b in order]
        parents = np.array([-1 if b.parent is None else names.index(b.parent.name) for b in order])
        sc = np.linalg.norm(aw[:3, :3], axis=0).mean()

        def to_content(m):  # Blender armature-space 4x4 -> content (Y-up, metres), rotation orthonormal
            w = aw @ m
            w[:3, :3] = w[:3, :3] / sc
            return C @ w

        bind = np.array([to_content(np.array(b.matrix_local)) for b in order])
        skel = Skeleton.from_world(names, parents, bind).validate()
        gid = {g.index: names.index(g.name) for g in obj.vertex_groups if g.name in names}
        k = max([len(v.groups) for v in me.vertices] + [1])
        dense = np.zeros((len(me.vertices), len(names)))
        for v in me.vertices:
            for g in v.groups:
                if g.group in gid:
                    dense[v.index, gid[g.group]] += g.weight
        raw_sum = dense.sum(1)
        skin = SkinWeights.from_dense(dense, max(k, 1))
        anims = []
        if animations and ao.animation_data is not None:
            scene = bpy.context.scene
            pbs = [ao.pose.bones[n] for n in names]
            for act in bpy.data.actions:
                ao.animation_data.action = act
                f0, f1 = (int(round(x)) for x in act.frame_range)
                frames = []
                for f in range(f0, f1 + 1):
                    scene.frame_set(f)
                    frames.append([to_content(np.array(pb.matrix)) for pb in pbs])
                world = np.array(frames)  # [T, J, 4, 4]
                from ..core.transforms import world_to_local
                local = world_to_local(parents, world)
                anims.append(Animation.from_local_matrices(act.name, float(scene.render.fps), local))
        rig = Rig(mesh, skel, skin, animations=anims, metadata={"raw_weight_sums": raw_sum, "fbx": extra,
                                                               "max_influences_in_file": int(k)})
    return Asset(path, mesh, None, rig)
