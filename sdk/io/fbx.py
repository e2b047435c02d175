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

from ..errors import AssetReadError, MissingDependencyError, no_such_file

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
        raise no_such_file(path)
    try:
        import bpy
    except ImportError as e:
        raise MissingDependencyError("bpy", "FBX import", "pip install 'articulate-sdk[fbx]'  (bpy==5.0.1)") from e
    bpy.ops.wm.read_factory_settings(use_empty=True)
    import contextlib
    import io
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            bpy.ops.import_scene.fbx(filepath=str(path), use_anim=animations, ignore_leaf_bones=False,
                                     colors_type="LINEAR")  # our writer stores linear colours
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
    tris, tri_loops, tri_poly = [], [], []
    for p in me.polygons:
        vs, ls = list(p.vertices), list(p.loop_indices)
        tris += [[vs[0], vs[k], vs[k + 1]] for k in range(1, len(vs) - 1)]
        tri_loops += [[ls[0], ls[k], ls[k + 1]] for k in range(1, len(vs) - 1)]
        tri_poly += [p.index] * (len(vs) - 2)
    tris = (tris, np.asarray(tri_loops, dtype=np.int64).reshape(-1, 3), np.asarray(tri_poly, dtype=np.int64))
    C = _BLENDER_TO_YUP
    uvs, look = _read_look(me, tris, C[:3, :3] @ mw[:3, :3])
    mesh = Mesh(V @ C[:3, :3].T, np.array(tris[0], dtype=np.int64), name=sanitize_name(obj.name), uvs=uvs, look=look)
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


def _per_vertex(values: np.ndarray, loop_vertex: np.ndarray, n: int) -> np.ndarray:
    """Per-corner values [L, C] -> per vertex [n, C] (the last corner wins: our writer's vertices are already split
    at seams, so every corner of a vertex agrees)."""
    out = np.zeros((n, values.shape[1]), dtype=np.float32)
    out[loop_vertex] = values
    return out


def _read_look(me, tris, linear: np.ndarray):
    """UV layers (v flipped back to the glTF convention), corner normals, the first colour attribute, materials
    (Principled BSDF constants and image textures, bytes from the packed/embedded image or its file) and one
    primitive per material slot."""
    from ..core import sanitize_name
    from ..core.look import Look, Material, Primitive, Texture, TextureRef, mime_of
    _, tri_loops, tri_poly = tris
    nv, nl = len(me.vertices), len(me.loops)
    li = np.zeros(nl, dtype=np.int64)
    me.loops.foreach_get("vertex_index", li)
    uv_sets = []
    for layer in me.uv_layers:
        uv = np.zeros(nl * 2, dtype=np.float32)
        layer.data.foreach_get("uv", uv)
        st = _per_vertex(uv.reshape(-1, 2), li, nv)
        uv_sets.append(np.c_[st[:, 0], 1.0 - st[:, 1]].astype(np.float32))
    uv_names = [layer.name for layer in me.uv_layers]
    normals = None
    if hasattr(me, "corner_normals") and nl:
        cn = np.zeros(nl * 3, dtype=np.float32)
        me.corner_normals.foreach_get("vector", cn)
        n = _per_vertex(cn.reshape(-1, 3), li, nv).astype(np.float64) @ np.linalg.inv(linear)
        normals = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    colors = None
    if len(me.color_attributes):
        ca = me.color_attributes[0]
        c = np.zeros(len(ca.data) * 4, dtype=np.float32)
        ca.data.foreach_get("color", c)
        c = c.reshape(-1, 4)
        colors = c if ca.domain == "POINT" else _per_vertex(c, li, nv)
    textures, tex_index, materials, mat_index, prims = [], {}, [], {}, []
    for slot, mat in enumerate(me.materials):
        if mat is None:
            prims.append(Primitive(f"slot_{slot}", -1))
            continue
        if mat.name not in mat_index:
            mat_index[mat.name] = len(materials)
            materials.append(_read_material(mat, textures, tex_index, uv_names, Material, TextureRef, Texture, mime_of,
                                            sanitize_name))
        prims.append(Primitive(sanitize_name(mat.name), mat_index[mat.name]))
    pof = None
    if len(prims) > 1:
        mi = np.zeros(len(me.polygons), dtype=np.int64)
        me.polygons.foreach_get("material_index", mi)
        pof = np.clip(mi, 0, len(prims) - 1)[tri_poly].astype(np.int32)
    uvs = uv_sets[0] if uv_sets else None
    look = Look(uv_sets[1:], normals, None, colors, materials, textures, prims or None, pof)
    return uvs, look


def _read_material(mat, textures, tex_index, uv_names, Material, TextureRef, Texture, mime_of, sanitize_name):
    out = Material(sanitize_name(mat.name))
    nt = mat.node_tree
    bsdf = next((n for n in nt.nodes if n.type == "BSDF_PRINCIPLED"), None) if nt is not None else None
    if bsdf is None:
        return out

    def linked(inp_name):
        inp = bsdf.inputs.get(inp_name)
        if inp is None or not inp.is_linked:
            return None
        node = inp.links[0].from_node
        if node.type == "SEPRGB" or node.type == "SEPARATE_COLOR":
            node = node.inputs[0].links[0].from_node if node.inputs[0].is_linked else None
        if node is not None and node.type == "NORMAL_MAP":
            node = node.inputs["Color"].links[0].from_node if node.inputs["Color"].is_linked else None
        if node is None or node.type != "TEX_IMAGE" or node.image is None:
            return None
        img = node.image
        key = img.name
        if key not in tex_index:
            if img.packed_file is not None:
                data = bytes(img.packed_file.data)
            else:
                import bpy
                f = Path(bpy.path.abspath(img.filepath))
                if not f.is_file():
                    return None
                data = f.read_bytes()
            tex_index[key] = len(textures)
            textures.append(Texture(data, mime_of(data), sanitize_name(Path(img.name).stem)))
        uv_set = 0
        vec = node.inputs["Vector"]
        if vec.is_linked and vec.links[0].from_node.type == "UVMAP":
            name = vec.links[0].from_node.uv_map
            uv_set = uv_names.index(name) if name in uv_names else 0
        return TextureRef(tex_index[key], uv_set)

    bc = tuple(float(x) for x in bsdf.inputs["Base Color"].default_value)
    out.base_color = (*bc[:3], float(bsdf.inputs["Alpha"].default_value))
    out.metallic = float(bsdf.inputs["Metallic"].default_value)
    out.roughness = float(bsdf.inputs["Roughness"].default_value)
    em = bsdf.inputs.get("Emission Color")
    if em is not None:
        out.emissive = tuple(float(x) for x in em.default_value[:3])
    out.base_color_texture = linked("Base Color")
    out.metallic_roughness_texture = linked("Roughness")
    out.normal_texture = linked("Normal")
    out.emissive_texture = linked("Emission Color")
    if bsdf.inputs["Alpha"].is_linked:
        out.alpha_mode = "BLEND"
    out.double_sided = not bool(getattr(mat, "use_backface_culling", False))
    return out
