"""Write a Rig as FBX through Blender's own exporter (the ``bpy`` package, optional extra ``[fbx]``).

What is written: one skinned mesh (UVs when the mesh has them; per-vertex weights as vertex groups + an
Armature modifier), one armature whose bones are the rig's joints (names kept exactly), and every animation
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
from sdk.util.atomic import atomic_path

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
    if mesh.uvs is not None and len(mesh.uvs) == mesh.n_vertices:
        uv = me.uv_layers.new(name="UVMap")
        uv.data.foreach_set("uv", np.asarray(mesh.uvs, dtype=np.float32)[mesh.faces.ravel()].ravel())
    me.update()
    me.validate(clean_customdata=False)
    mat = bpy.data.materials.new(name=f"{mesh.name or 'mesh'}_material")
    me.materials.append(mat)
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
    with atomic_path(path) as tmp, _quiet():
        bpy.ops.export_scene.fbx(filepath=str(tmp), use_selection=False,
                                 object_types={"ARMATURE", "MESH"}, add_leaf_bones=bool(leaf_bones),
                                 primary_bone_axis=primary, secondary_bone_axis=secondary,
                                 armature_nodetype="NULL", use_armature_deform_only=False,
                                 apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", global_scale=1.0,
                                 axis_forward="-Z", axis_up="Y", mesh_smooth_type="FACE",
                                 bake_anim=bool(clips), bake_anim_use_all_actions=len(clips) > 1,
                                 bake_anim_use_nla_strips=False, bake_anim_force_startend_keying=True,
                                 bake_anim_simplify_factor=0.0, use_mesh_modifiers=False)
    return path
