"""Write a Rig as FBX through Blender's own exporter (the ``bpy`` package, optional extra ``[fbx]``).

What is written: one skinned mesh (every UV set, v flipped to FBX's bottom-left origin; the look's normals as
custom normals, vertex colours (linear), one material slot per primitive with a Principled BSDF whose image textures
are embedded byte for byte; per-vertex weights as vertex groups + an Armature modifier), one armature whose bones are the rig's joints (names kept exactly), and every animation
clip as its own FBX take. Engine conventions:

* units: ``unit="cm"`` (default for UE5/Unity) writes centimetres with FBX UnitScaleFactor 1 (the scene's
  unit scale is 0.01 and content is scaled x100, so no object carries a x100 scale); ``unit="m"`` writes
  metres (UnitScaleFactor 100 is *not* used: scene unit scale 1, FBX_SCALE_NONE).
* axes: content is rotated so the rig's up (``rig.metadata["up"]``, default +Y) becomes Blender +Z and its
  forward (default +Z) Blender -Y, then Blender's standard FBX axis conversion (-Z forward, Y up) applies.
* no extra root: the armature object is named "Armature", which UE's importer treats as the skeleton's
  container, not a bone; ``armature_nodetype="NULL"``. No ``_end`` leaf bones unless ``leaf_bones=True``.
* bone axes: every FBX joint frame is the rig's own bind frame (UE5 profile: +X along the bone; Mixamo/Unity:
  +Y), written with the exporter's default bone axes; rigs without a convention (parts, motion) get frames
  pointing at their first child. The root keeps its (zero) rotation.

bpy is imported lazily (it takes seconds) and reset to an empty factory scene for every call.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import Rig
from sdk.errors import InvalidInputError, MissingDependencyError

TARGET_UNITS = {"ue5": "cm", "unity": "cm", "gltf": "m", "omniverse": "cm"}


def _quiet():
    """Blender's FBX add-on prints progress to stdout; keep CLI output (and JSON on stdout) clean."""
    import contextlib
    import io
    return contextlib.redirect_stdout(io.StringIO())


def _bpy():
    try:
        import bpy
    except ImportError as e:
        raise MissingDependencyError("bpy", "FBX export", "pip install 'articulate-sdk[fbx]'  (bpy==5.0.1)") from e
    return bpy


def content_to_blender(rig: Rig) -> np.ndarray:
    """4x4 rotation taking the rig's (up, forward) to Blender's (+Z, -Y)."""
    up = np.asarray(rig.metadata.get("up", [0, 1, 0]), dtype=np.float64)
    fwd = np.asarray(rig.metadata.get("forward", [0, 0, 1]), dtype=np.float64)
    left = np.cross(up, fwd)
    src = np.stack([left, up, fwd], 1)  # columns
    dst = np.stack([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]], 1)
    M = np.eye(4)
    M[:3, :3] = dst @ src.T
    return M


def _bone_frames(bind: np.ndarray, parents: np.ndarray, along: str) -> tuple[np.ndarray, np.ndarray]:
    """Blender edit-bone matrices [J, 4, 4] (local +Y along the bone) and bone lengths [J]."""
    J = len(bind)
    pos = bind[:, :3, 3]
    E = bind.copy()
    lengths = np.zeros(J)
    for j in range(J):
        R = bind[j, :3, :3]
        kids = np.flatnonzero(parents == j)
        if parents[j] < 0 or along in ("x", "y"):
            # the joint frame itself: with the exporter's default bone axes (primary Y, secondary X) the FBX
            # node rotation is exactly this frame, so UE sees +X along its bones and the root stays unrotated
            # (Blender then draws UE-profile bones across their length: display only)
            E[j, :3, :3] = R
        else:  # world-aligned joints: point the Blender bone at the first child
            d = pos[kids[0]] - pos[j] if len(kids) else (pos[j] - pos[parents[j]] if parents[j] >= 0 else np.r_[0, 0, 1.0])
            n = np.linalg.norm(d)
            y = d / n if n > 1e-12 else np.r_[0, 0, 1.0]
            ref = np.r_[0, 0, 1.0] if abs(y[2]) < 0.9 else np.r_[0, 1.0, 0]
            x = np.cross(y, ref)
            x /= np.linalg.norm(x)
            E[j, :3, :3] = np.stack([x, y, np.cross(x, y)], 1)
        L = [np.linalg.norm(pos[k] - pos[j]) for k in kids]
        lengths[j] = max(L) if L else 0.0
    scale = float(np.linalg.norm(pos.max(0) - pos.min(0))) or 1.0
    for j in range(J):
        if lengths[j] < 1e-4 * scale:
            p = parents[j]
            lengths[j] = 0.5 * lengths[p] if p >= 0 and lengths[p] > 0 else 0.05 * scale
    return E, np.maximum(lengths, 1e-4 * scale)


def _author_look(bpy, me, mesh, linear: np.ndarray):
    """UV layers (``UVMap``, ``UVMap1``, ...; v flipped to Blender's bottom-left origin), custom normals, a linear
    vertex-colour attribute, and one material slot per primitive (Principled BSDF with image textures packed from
    the look's bytes, which the exporter embeds unchanged) on the Blender mesh ``me``. Returns the temporary folder
    holding the image files (clean it up after the export)."""
    import tempfile
    tmp = tempfile.TemporaryDirectory(prefix="articulate_fbx_")
    lk = mesh.look
    corners = mesh.faces.ravel()
    uv_sets = [mesh.uvs] if mesh.uvs is not None and len(mesh.uvs) == mesh.n_vertices else []
    if lk is not None:
        if not uv_sets and lk.uv_sets:
            uv_sets = [np.zeros((mesh.n_vertices, 2), np.float32)]
        uv_sets += list(lk.uv_sets)
    for k, uv in enumerate(uv_sets):
        layer = me.uv_layers.new(name="UVMap" if k == 0 else f"UVMap{k}")
        st = np.c_[uv[:, 0], 1.0 - uv[:, 1]].astype(np.float32)
        layer.data.foreach_set("uv", st[corners].ravel())
    if lk is not None and lk.colors is not None:
        col = me.color_attributes.new("Color", "FLOAT_COLOR", "POINT")
        col.data.foreach_set("color", np.ascontiguousarray(lk.colors, dtype=np.float32).ravel())
    me.update()
    me.validate(clean_customdata=False)
    if lk is not None and lk.normals is not None:  # after validate: it would drop them
        n = lk.normals.astype(np.float64) @ np.linalg.inv(linear)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
        me.normals_split_custom_set_from_vertices(n.astype(np.float32).tolist())
    if lk is None or not lk.materials:
        me.materials.append(bpy.data.materials.new(name=f"{mesh.name or 'mesh'}_material"))
        return tmp
    from sdk.core import sanitize_name
    from sdk.core.look import MIME_SUFFIX
    images, taken = {}, set()
    for i, t in enumerate(lk.textures):
        f = Path(tmp.name) / f"{sanitize_name(t.name or f'texture_{i}', taken)}{MIME_SUFFIX.get(t.mime, '.png')}"
        f.write_bytes(t.data)
        images[i] = (f, t)
    mats = [_blender_material(bpy, m, images, uv_names=[layer.name for layer in me.uv_layers]) for m in lk.materials]
    default = None
    for prim in lk.primitives:  # one slot per primitive keeps the split (two primitives may share a material)
        if prim.material >= 0:
            me.materials.append(mats[prim.material])
        else:
            default = default or bpy.data.materials.new(name=f"{mesh.name or 'mesh'}_material")
            me.materials.append(default)
    me.polygons.foreach_set("material_index", lk.face_primitives(mesh.n_faces).astype(np.int32))
    me.update()
    return tmp


def _blender_material(bpy, m, images: dict, uv_names: list):
    """A Principled-BSDF material carrying a core Material (base colour x texture, metallic, roughness, emission,
    normal map, alpha)."""
    mat = bpy.data.materials.new(name=m.name)
    if bpy.app.version < (5, 0, 0):  # node materials are the only kind from Blender 5 (use_nodes is deprecated)
        mat.use_nodes = True
    nt = mat.node_tree
    bsdf = next(n for n in nt.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = tuple(float(x) for x in m.base_color)
    bsdf.inputs["Alpha"].default_value = float(m.base_color[3])
    bsdf.inputs["Metallic"].default_value = float(m.metallic)
    bsdf.inputs["Roughness"].default_value = float(m.roughness)
    bsdf.inputs["Emission Color"].default_value = (*[float(x) for x in m.emissive], 1.0)
    if any(m.emissive):
        bsdf.inputs["Emission Strength"].default_value = 1.0
    mat.use_backface_culling = not m.double_sided

    def image_node(ref, colour: bool):
        if ref is None or ref.texture not in images:
            return None
        f, t = images[ref.texture]
        img = bpy.data.images.load(str(f))
        img.name = t.name or f.stem
        img.pack()
        if not colour:
            img.colorspace_settings.name = "Non-Color"
        node = nt.nodes.new("ShaderNodeTexImage")
        node.image = img
        if ref.uv_set > 0 and ref.uv_set < len(uv_names):
            uvn = nt.nodes.new("ShaderNodeUVMap")
            uvn.uv_map = uv_names[ref.uv_set]
            nt.links.new(uvn.outputs["UV"], node.inputs["Vector"])
        return node

    node = image_node(m.base_color_texture, True)
    if node is not None:
        nt.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
        if m.alpha_mode != "OPAQUE":
            nt.links.new(node.outputs["Alpha"], bsdf.inputs["Alpha"])
    node = image_node(m.metallic_roughness_texture, False)
    if node is not None:
        sep = nt.nodes.new("ShaderNodeSeparateColor")
        nt.links.new(node.outputs["Color"], sep.inputs["Color"])
        nt.links.new(sep.outputs["Green"], bsdf.inputs["Roughness"])
        nt.links.new(sep.outputs["Blue"], bsdf.inputs["Metallic"])
    node = image_node(m.normal_texture, False)
    if node is not None:
        nm = nt.nodes.new("ShaderNodeNormalMap")
        nm.inputs["Strength"].default_value = float(m.normal_texture.scale)
        nt.links.new(node.outputs["Color"], nm.inputs["Color"])
        nt.links.new(nm.outputs["Normal"], bsdf.inputs["Normal"])
    node = image_node(m.emissive_texture, True)
    if node is not None:
        nt.links.new(node.outputs["Color"], bsdf.inputs["Emission Color"])
        bsdf.inputs["Emission Strength"].default_value = 1.0
    return mat


def write_rig_fbx(rig: Rig, path, *, target: str = "ue5", unit: str | None = None, animations: bool = True,
                  leaf_bones: bool = False) -> Path:
    """Write ``rig`` to ``path`` (.fbx) atomically through Blender's FBX exporter; returns the path."""
    rig.validate()
    path = Path(path)
    if path.suffix.lower() != ".fbx":
        raise InvalidInputError(f"FBX output must end in .fbx, got '{path.suffix}'", field="output")
    if target not in TARGET_UNITS:
        raise InvalidInputError(f"unknown target {target!r} (use {', '.join(TARGET_UNITS)})", field="target")
    unit = unit or TARGET_UNITS[target]
    if unit not in ("cm", "m"):
        raise InvalidInputError(f"unit must be 'cm' or 'm', got {unit!r}", field="unit")
    bpy = _bpy()
    from mathutils import Matrix

    skel, mesh, skin = rig.skeleton, rig.mesh, rig.skin
    J = skel.n_joints
    s = 100.0 if unit == "cm" else 1.0
    M = content_to_blender(rig)
    S = np.diag([s, s, s, 1.0])
    T = S @ M  # content -> Blender scene units
    bind = T @ skel.bind_world
    bind[:, :3, :3] = (M[:3, :3] @ skel.bind_world[:, :3, :3])  # rotations stay orthonormal
    along = rig.metadata.get("bone_axis") or {"ue5": "x", "mixamo": "y", "unity": "y"}.get(rig.metadata.get("naming"))
    E, lengths = _bone_frames(bind, skel.parents, along)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.unit_settings.system = "METRIC"
    scene.unit_settings.scale_length = 0.01 if unit == "cm" else 1.0
    # armature
    arm = bpy.data.armatures.new("Armature")
    arm_obj = bpy.data.objects.new("Armature", arm)
    scene.collection.objects.link(arm_obj)
    bpy.context.view_layer.objects.active = arm_obj
    bpy.ops.object.mode_set(mode="EDIT")
    ebs = []
    for j in range(J):
        eb = arm.edit_bones.new(skel.names[j])
        eb.head = (0.0, 0.0, 0.0)
        eb.tail = (0.0, float(lengths[j]), 0.0)
        eb.matrix = Matrix(E[j].tolist())
        if skel.parents[j] >= 0:
            eb.parent = ebs[skel.parents[j]]
            eb.use_connect = False
        ebs.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    names_back = [b.name for b in arm.bones]
    if sorted(names_back) != sorted(skel.names):  # Blender renames clashes / over-long names
        bad = sorted(set(skel.names) - set(names_back))
        raise InvalidInputError(f"Blender could not keep bone names {bad[:5]} (63-byte limit or clash)", field="skeleton.names")
    # mesh
    me = bpy.data.meshes.new(mesh.name or "mesh")
    verts = (mesh.vertices @ T[:3, :3].T + T[:3, 3]).astype(np.float64)
    me.vertices.add(len(verts))
    me.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    nf = mesh.n_faces
    me.loops.add(3 * nf)
    me.loops.foreach_set("vertex_index", mesh.faces.astype(np.int32).ravel())
    me.polygons.add(nf)
    me.polygons.foreach_set("loop_start", (3 * np.arange(nf)).astype(np.int32))
    me.polygons.foreach_set("loop_total", np.full(nf, 3, dtype=np.int32))
    textures_tmp = _author_look(bpy, me, mesh, T[:3, :3])
    mesh_name = mesh.name or "mesh"
    if mesh_name in skel.names:  # a mesh named like a bone breaks engine imports (see sdk.validation)
        mesh_name = mesh_name + "_geo"
    obj = bpy.data.objects.new(mesh_name, me)
    scene.collection.objects.link(obj)
    obj.parent = arm_obj
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm_obj
    groups = [obj.vertex_groups.new(name=n) for n in skel.names]
    idx, w = skin.indices, skin.weights
    for k in range(skin.max_influences):
        col_w, col_j = w[:, k], idx[:, k]
        live = np.flatnonzero(col_w > 0)
        for j in np.unique(col_j[live]):
            sel = live[col_j[live] == j]
            # vertex_groups.add takes one weight per call: group equal weights together
            ws = col_w[sel]
            order = np.argsort(ws, kind="stable")
            sel, ws = sel[order], ws[order]
            cuts = np.flatnonzero(np.diff(ws)) + 1
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(ws)]):
                groups[j].add(sel[a:b].tolist(), float(ws[a]), "REPLACE")
    # animations: pose-bone matrix_basis per frame from our world joint transforms
    clips = rig.animations if animations else []
    if clips:
        arm_obj.animation_data_create()
        Minv = np.linalg.inv(T)
        Einv = np.linalg.inv(E)
        for pb in arm_obj.pose.bones:
            pb.rotation_mode = "QUATERNION"
        pbs = [arm_obj.pose.bones[n] for n in skel.names]
        for clip in clips:
            act = bpy.data.actions.new(clip.name)
            arm_obj.animation_data.action = act
            world = clip.world_matrices(skel.parents)  # [F, J, 4, 4]
            skinm = world @ np.linalg.inv(skel.bind_world)[None]  # content space
            for f in range(clip.n_frames):
                Sb = T @ skinm[f] @ Minv  # Blender space
                Mp = Sb @ E  # posed bone matrices (armature space)
                for j in range(J):
                    p = skel.parents[j]
                    basis = Einv[j] @ Mp[j] if p < 0 else Einv[j] @ E[p] @ np.linalg.inv(Mp[p]) @ Mp[j]
                    pbs[j].matrix_basis = Matrix(basis.tolist())
                    for key in ("location", "rotation_quaternion", "scale"):
                        pbs[j].keyframe_insert(key, frame=f + 1)
            scene.render.fps = int(round(clip.fps))
        arm_obj.animation_data.action = bpy.data.actions[clips[0].name]
        scene.frame_start = 1
        scene.frame_end = max(c.n_frames for c in clips)
    primary, secondary = "Y", "X"  # frames were chosen above so that FBX joint frames = the rig's frames
    import contextlib
    import os
    import tempfile
    path.parent.mkdir(parents=True, exist_ok=True)
    # exported under its final name inside a temporary folder (the FBX records its file name in texture paths),
    # then moved into place: atomic like sdk.util.atomic.atomic_path
    with tempfile.TemporaryDirectory(prefix=f".{path.stem}.", dir=path.parent) as tmpdir, _quiet(), \
            contextlib.ExitStack() as stack:
        stack.callback(textures_tmp.cleanup)
        tmp = Path(tmpdir) / path.name
        bpy.ops.export_scene.fbx(filepath=str(tmp), use_selection=False,
                                 object_types={"ARMATURE", "MESH"}, add_leaf_bones=bool(leaf_bones),
                                 primary_bone_axis=primary, secondary_bone_axis=secondary,
                                 armature_nodetype="NULL", use_armature_deform_only=False,
                                 apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", global_scale=1.0,
                                 axis_forward="-Z", axis_up="Y", mesh_smooth_type="FACE",
                                 bake_anim=bool(clips), bake_anim_use_all_actions=len(clips) > 1,
                                 bake_anim_use_nla_strips=False, bake_anim_force_startend_keying=True,
                                 bake_anim_simplify_factor=0.0, use_mesh_modifiers=False,
                                 path_mode="COPY", embed_textures=True, colors_type="LINEAR")
        if not tmp.exists():
            raise RuntimeError(f"Blender's FBX exporter produced no file for {path}")
        os.replace(tmp, path)
    return path
