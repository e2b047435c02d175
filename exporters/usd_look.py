"""Author a mesh's look (:class:`sdk.core.Look`) on a ``UsdGeom.Mesh``: what the rig, mesh-cache and physics USD
writers share.

* ``primvars:st`` (``Mesh.uvs``, flipped to USD's bottom-left origin: ``st = (u, 1 - v)``), ``primvars:st1``, ... for
  further UV sets; ``normals``; ``primvars:tangents`` (float4: xyz + bitangent sign, glTF's TANGENT);
  ``primvars:displayColor`` / ``displayOpacity`` (COLOR_0). Interpolation ``vertex`` (rigs: the vertices are the
  split ones) or indexed ``faceVarying`` (caches).
* one ``UsdShade.Material`` per material under ``<root>/Looks``: a ``UsdPreviewSurface`` (diffuseColor/opacity =
  baseColor, metallic, roughness, emissiveColor, opacityThreshold for MASK) whose textured inputs are connected to
  ``UsdUVTexture`` shaders (``inputs:scale`` = the glTF factor, ``sourceColorSpace`` sRGB for colour, raw for data)
  reading ``UsdPrimvarReader_float2`` of the texture's UV set.
* textures: the Look's encoded bytes written unchanged to ``<layer stem>_textures/<name><ext>`` next to the layer,
  referenced by the relative asset path ``./<layer stem>_textures/<file>``.
* one primitive: the material is bound on the mesh (``UsdShade.MaterialBindingAPI``); several: one ``GeomSubset``
  per primitive (family ``materialBind``, element ``face``), each bound to its material.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import Mesh, sanitize_name
from sdk.core.look import CLAMP_TO_EDGE, MIME_SUFFIX, MIRRORED_REPEAT
from sdk.util.atomic import atomic_write_bytes

from ._pxr import pxr

_WRAP = {CLAMP_TO_EDGE: "clamp", MIRRORED_REPEAT: "mirror"}  # everything else: repeat


def uv_primvar_name(k: int) -> str:
    return "st" if k == 0 else f"st{k}"


def texture_dir(layer_path) -> Path:
    """Folder the textures of the layer at ``layer_path`` go to."""
    layer_path = Path(layer_path)
    return layer_path.with_name(f"{layer_path.stem}_textures")


def write_look_usd(stage, mesh_prim, mesh: Mesh, layer_path, *, looks_path: str, interpolation: str = "vertex",
                   time=None) -> list[Path]:
    """Author ``mesh``'s UVs, normals, tangents, colours, materials, textures and primitives on ``mesh_prim``
    (a UsdGeom.Mesh's prim whose faces are ``mesh.faces``, all triangles). ``layer_path``: where the layer will
    finally be (textures go next to it). Returns the texture files written."""
    UsdGeom, UsdShade, Sdf, Vt, Gf = pxr("UsdGeom", "UsdShade", "Sdf", "Vt", "Gf")
    geom = UsdGeom.Mesh(mesh_prim)
    pv_api = UsdGeom.PrimvarsAPI(mesh_prim)
    fvi = mesh.faces.astype(np.int32).ravel()
    interp = UsdGeom.Tokens.vertex if interpolation == "vertex" else UsdGeom.Tokens.faceVarying

    def primvar(name, vtype, values, np_type):
        pv = pv_api.CreatePrimvar(name, vtype, interp)
        pv.Set(np_type.FromNumpy(np.ascontiguousarray(values)))
        if interp == UsdGeom.Tokens.faceVarying:  # one value per vertex, indexed by the face corners
            pv.SetIndices(Vt.IntArray.FromNumpy(fvi))
        return pv

    lk = mesh.look
    uv_sets = ([mesh.uvs] if mesh.uvs is not None else
               ([np.zeros((mesh.n_vertices, 2), np.float32)] if lk is not None and lk.uv_sets else []))
    uv_sets += list(lk.uv_sets) if lk is not None else []
    for k, uv in enumerate(uv_sets):
        st = np.c_[uv[:, 0], 1.0 - uv[:, 1]].astype(np.float32)
        primvar(uv_primvar_name(k), Sdf.ValueTypeNames.TexCoord2fArray, st, Vt.Vec2fArray)
    if lk is None:
        return []
    if lk.normals is not None:
        if interp == UsdGeom.Tokens.vertex:
            geom.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(lk.normals, dtype=np.float32)))
            geom.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        else:
            primvar("normals", Sdf.ValueTypeNames.Normal3fArray, lk.normals.astype(np.float32), Vt.Vec3fArray)
    if lk.tangents is not None:
        primvar("tangents", Sdf.ValueTypeNames.Float4Array, lk.tangents.astype(np.float32), Vt.Vec4fArray)
    if lk.colors is not None:
        primvar("displayColor", Sdf.ValueTypeNames.Color3fArray, lk.colors[:, :3].astype(np.float32), Vt.Vec3fArray)
        primvar("displayOpacity", Sdf.ValueTypeNames.FloatArray, lk.colors[:, 3].astype(np.float32), Vt.FloatArray)

    written = _write_textures(lk, layer_path)
    rel = {i: f"./{p.parent.name}/{p.name}" for i, p in written.items()}
    mats = []
    if lk.materials:
        UsdGeom.Scope.Define(stage, looks_path)
        taken: set[str] = set()
        for m in lk.materials:
            mats.append(_define_material(stage, f"{looks_path}/{sanitize_name(m.name, taken)}", m, lk, rel))
    pid = lk.face_primitives(mesh.n_faces)
    used = [p for p in range(lk.n_primitives) if (pid == p).any()]
    mats_used = [lk.materials[lk.primitives[p].material] for p in used if lk.primitives[p].material >= 0]
    if mats_used and all(m.double_sided for m in mats_used):  # USD: a property of the gprim, not the material
        geom.CreateDoubleSidedAttr(True)
    binding = UsdShade.MaterialBindingAPI.Apply(mesh_prim)
    if len(used) <= 1:
        mi = lk.primitives[used[0]].material if used else -1
        if mi >= 0:
            binding.Bind(mats[mi])
    else:
        taken = {c.GetName() for c in mesh_prim.GetChildren()}
        for p in used:
            sub = binding.CreateMaterialBindSubset(sanitize_name(lk.primitives[p].name, taken),
                                                   Vt.IntArray.FromNumpy(np.flatnonzero(pid == p).astype(np.int32)),
                                                   UsdGeom.Tokens.face)
            mi = lk.primitives[p].material
            if mi >= 0:
                UsdShade.MaterialBindingAPI.Apply(sub.GetPrim()).Bind(mats[mi])
        binding.SetMaterialBindSubsetsFamilyType(UsdGeom.Tokens.partition)
    return list(written.values())


def _write_textures(lk, layer_path) -> dict[int, Path]:
    """Texture index -> file written (the Look's bytes unchanged); only textures some material uses."""
    used = sorted({r.texture for m in lk.materials for r in m.texture_refs().values()})
    if not used:
        return {}
    folder = texture_dir(layer_path)
    out, taken = {}, set()
    for i in used:
        t = lk.textures[i]
        name = sanitize_name(t.name or f"texture_{i}", taken)
        out[i] = atomic_write_bytes(folder / f"{name}{MIME_SUFFIX.get(t.mime, '.bin')}", t.data)
    return out


def _define_material(stage, path: str, m, lk, rel: dict[int, str]):
    UsdShade, Sdf, Gf = pxr("UsdShade", "Sdf", "Gf")
    mat = UsdShade.Material.Define(stage, path)
    mat.GetPrim().SetCustomDataByKey("articulate:materialName", m.name)
    ps = UsdShade.Shader.Define(stage, f"{path}/PreviewSurface")
    ps.CreateIdAttr("UsdPreviewSurface")
    mat.CreateSurfaceOutput().ConnectToSource(ps.ConnectableAPI(), "surface")
    F, C3 = Sdf.ValueTypeNames.Float, Sdf.ValueTypeNames.Color3f
    bc = [float(x) for x in m.base_color]
    ps.CreateInput("useSpecularWorkflow", Sdf.ValueTypeNames.Int).Set(0)
    ps.CreateInput("diffuseColor", C3).Set(Gf.Vec3f(*bc[:3]))
    ps.CreateInput("opacity", F).Set(bc[3] if m.alpha_mode != "OPAQUE" else 1.0)
    if m.alpha_mode == "MASK":
        ps.CreateInput("opacityThreshold", F).Set(float(m.alpha_cutoff))
    ps.CreateInput("metallic", F).Set(float(m.metallic))
    ps.CreateInput("roughness", F).Set(float(m.roughness))
    ps.CreateInput("emissiveColor", C3).Set(Gf.Vec3f(*[float(x) for x in m.emissive]))
    readers: dict[int, object] = {}

    def texture(slot: str, ref, scale, colour: bool):
        if ref is None or ref.texture not in rel:
            return None
        if ref.uv_set not in readers:
            r = UsdShade.Shader.Define(stage, f"{path}/{uv_primvar_name(ref.uv_set)}Reader")
            r.CreateIdAttr("UsdPrimvarReader_float2")
            r.CreateInput("varname", Sdf.ValueTypeNames.String).Set(uv_primvar_name(ref.uv_set))
            r.CreateOutput("result", Sdf.ValueTypeNames.Float2)
            readers[ref.uv_set] = r
        t = UsdShade.Shader.Define(stage, f"{path}/{slot}")
        t.CreateIdAttr("UsdUVTexture")
        t.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(rel[ref.texture]))
        t.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(readers[ref.uv_set].ConnectableAPI(), "result")
        tex = lk.textures[ref.texture]
        t.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set(_WRAP.get(tex.wrap_s, "repeat"))
        t.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set(_WRAP.get(tex.wrap_t, "repeat"))
        t.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB" if colour else "raw")
        if scale is not None:
            t.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*[float(x) for x in scale]))
        return t

    def connect(inp_name, vtype, shader, out_name, out_type):
        ps.CreateInput(inp_name, vtype).ConnectToSource(shader.ConnectableAPI(), out_name)
        shader.CreateOutput(out_name, out_type)

    F3 = Sdf.ValueTypeNames.Float3
    t = texture("baseColorTexture", m.base_color_texture, bc, True)
    if t is not None:
        connect("diffuseColor", C3, t, "rgb", F3)
        if m.alpha_mode != "OPAQUE":
            connect("opacity", F, t, "a", F)
    t = texture("metallicRoughnessTexture", m.metallic_roughness_texture, (1.0, m.roughness, m.metallic, 1.0), False)
    if t is not None:
        connect("roughness", F, t, "g", F)
        connect("metallic", F, t, "b", F)
    if m.normal_texture is not None and m.normal_texture.texture in rel:
        s = float(m.normal_texture.scale)
        t = texture("normalTexture", m.normal_texture, (2.0 * s, 2.0 * s, 2.0, 1.0), False)
        t.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(-s, -s, -1.0, 0.0))
        connect("normal", Sdf.ValueTypeNames.Normal3f, t, "rgb", F3)
    if m.occlusion_texture is not None and m.occlusion_texture.texture in rel:  # glTF: 1 + strength * (r - 1)
        s = float(m.occlusion_texture.scale)
        t = texture("occlusionTexture", m.occlusion_texture, (s, s, s, 1.0), False)
        t.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(1.0 - s, 1.0 - s, 1.0 - s, 0.0))
        connect("occlusion", F, t, "r", F)
    t = texture("emissiveTexture", m.emissive_texture, (*m.emissive, 1.0), True)
    if t is not None:
        connect("emissiveColor", C3, t, "rgb", F3)
    return mat
