"""Read a USD Mesh prim with its look (:class:`sdk.core.Look`): the inverse of ``exporters.usd_look``, and general
enough for other tools' files.

:func:`read_usd_mesh` returns the prim's triangles and per-vertex attributes. Face-varying primvars (UVs with seams,
as most DCC tools write them) split a vertex wherever its corners disagree, so every corner keeps its own value;
``vertex_of`` maps each returned vertex to the prim's point it came from (for skin weights and animation).
Materials: ``UsdPreviewSurface`` networks (constant inputs and ``UsdUVTexture`` connections read through
``UsdPrimvarReader_float2``), bound on the mesh or on ``materialBind`` GeomSubsets (one primitive per subset).
Texture files are read as bytes, unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import sanitize_name
from ..core.look import CLAMP_TO_EDGE, MIRRORED_REPEAT, REPEAT, Look, Material, Primitive, Texture, TextureRef, mime_of
from ._lazy import pxr

_WRAP = {"clamp": CLAMP_TO_EDGE, "mirror": MIRRORED_REPEAT, "repeat": REPEAT, "black": CLAMP_TO_EDGE}


@dataclass
class UsdMesh:
    points: np.ndarray  # [V, 3] world space (at ``time``)
    faces: np.ndarray  # [F, 3]
    vertex_of: np.ndarray  # [V] the prim's point index of every vertex
    uvs: np.ndarray | None  # [V, 2] glTF convention (v down)
    look: Look | None
    triangle_of_polygon: np.ndarray  # [F] the prim's face (polygon) index of every triangle


def _fan(cnt: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fan triangles (vertex ids [F, 3]) and their corner positions in faceVertexIndices [F, 3]; polygon of each."""
    starts = np.r_[0, np.cumsum(cnt)[:-1]].astype(np.int64)
    ntri = np.clip(cnt - 2, 0, None).astype(np.int64)
    s = np.repeat(starts, ntri)
    k = np.arange(ntri.sum()) - np.repeat(np.cumsum(ntri) - ntri, ntri) + 1
    corner = np.stack([s, s + k, s + k + 1], 1)
    return idx[corner].astype(np.int64), corner, np.repeat(np.arange(len(cnt)), ntri)


def _corner_values(UsdGeom, pv, time, tri, corner, poly, n_points):
    """A primvar's values per triangle corner [F, 3, C], or None when it cannot be mapped."""
    vals = pv.Get(time)
    if vals is None:
        return None
    a = np.asarray(vals, dtype=np.float64)
    a = a.reshape(len(a), -1)
    if pv.IsIndexed():
        a = a[np.asarray(pv.GetIndices(time), dtype=np.int64)]
    it = pv.GetInterpolation()
    if it in (UsdGeom.Tokens.vertex, UsdGeom.Tokens.varying) and len(a) == n_points:
        return a[tri]
    if it == UsdGeom.Tokens.faceVarying and len(a) > corner.max(initial=-1):
        return a[corner]
    if it == UsdGeom.Tokens.uniform and len(a) > poly.max(initial=-1):
        return np.repeat(a[poly][:, None], 3, 1)
    if it == UsdGeom.Tokens.constant and len(a):
        return np.broadcast_to(a[:1][None], (len(tri), 3, a.shape[1]))
    return None


def read_usd_mesh(prim, time=None, *, world: bool = True) -> UsdMesh | None:
    """Triangles, per-vertex attributes and look of the UsdGeom.Mesh ``prim`` (None when it has no faces)."""
    Usd, UsdGeom = pxr("Usd"), pxr("UsdGeom")
    t = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    m = UsdGeom.Mesh(prim)
    pts, cnt, idx = m.GetPointsAttr().Get(t), m.GetFaceVertexCountsAttr().Get(t), m.GetFaceVertexIndicesAttr().Get(t)
    if pts is None or cnt is None or idx is None or len(pts) == 0:
        return None
    p = np.asarray(pts, dtype=np.float64)
    cnt, idx = np.asarray(cnt, dtype=np.int64), np.asarray(idx, dtype=np.int64)
    tri, corner, poly = _fan(cnt, idx)
    if not len(tri):
        return None
    if m.GetOrientationAttr().Get() == UsdGeom.Tokens.leftHanded:
        tri, corner = tri[:, [0, 2, 1]], corner[:, [0, 2, 1]]
    if world:
        xf = np.asarray(UsdGeom.XformCache(t).GetLocalToWorldTransform(prim), dtype=np.float64).T  # USD: row vectors
        p = p @ xf[:3, :3].T + xf[:3, 3]
        lin = xf[:3, :3]
    else:
        lin = np.eye(3)
    api = UsdGeom.PrimvarsAPI(prim)
    # per-corner attributes: UV sets (st, st1, ... then any other texCoord2f primvar), normals, tangents, colours
    uv_names = [n for n in ["st"] + [f"st{k}" for k in range(1, 8)] if api.HasPrimvar(n)]
    for pv in api.GetPrimvars():
        n = pv.GetPrimvarName()
        if n not in uv_names and pv.GetTypeName() in ("texCoord2f[]", "float2[]") and not n.startswith("skel:"):
            uv_names.append(str(n))
    attrs: dict[str, np.ndarray] = {}
    for n in uv_names:
        c = _corner_values(UsdGeom, api.GetPrimvar(n), t, tri, corner, poly, len(p))
        if c is not None:
            attrs[f"uv:{n}"] = c[..., :2]
    nrm = None
    if api.HasPrimvar("normals"):
        nrm = _corner_values(UsdGeom, api.GetPrimvar("normals"), t, tri, corner, poly, len(p))
    elif m.GetNormalsAttr().HasAuthoredValue():
        vals = np.asarray(m.GetNormalsAttr().Get(t), dtype=np.float64).reshape(-1, 3)
        it = m.GetNormalsInterpolation()
        nrm = (vals[tri] if it in (UsdGeom.Tokens.vertex, UsdGeom.Tokens.varying) and len(vals) == len(p) else
               vals[corner] if it == UsdGeom.Tokens.faceVarying and len(vals) > corner.max() else
               np.repeat(vals[poly][:, None], 3, 1) if it == UsdGeom.Tokens.uniform and len(vals) > poly.max() else None)
    if nrm is not None:
        attrs["normal"] = nrm
    for key, name in (("tangent", "tangents"), ("color", "displayColor"), ("opacity", "displayOpacity")):
        if api.HasPrimvar(name):
            c = _corner_values(UsdGeom, api.GetPrimvar(name), t, tri, corner, poly, len(p))
            if c is not None:
                attrs[key] = c
    # split vertices whose corners disagree (face-varying seams); vertex order kept where nothing is split
    vertex_of = np.arange(len(p))
    faces = tri
    if attrs:
        per_corner = np.concatenate([tri.reshape(-1, 1).astype(np.float64)] +
                                    [a.reshape(len(tri) * 3, -1) for a in attrs.values()], 1)
        per_vertex = np.full((len(p), per_corner.shape[1]), np.nan)
        per_vertex[tri.ravel()] = per_corner
        same = np.all(np.isclose(per_vertex[tri.ravel()], per_corner, rtol=0, atol=1e-7), axis=1)
        if not same.all():
            keys, inv = np.unique(per_corner, axis=0, return_inverse=True)
            inv = inv.reshape(-1)
            first = np.full(len(keys), len(inv))
            np.minimum.at(first, inv, np.arange(len(inv)))
            order = np.argsort(first, kind="stable")  # new vertices in first-use order
            rank = np.empty(len(keys), np.int64)
            rank[order] = np.arange(len(keys))
            faces = rank[inv].reshape(-1, 3)
            vertex_of = keys[order, 0].astype(np.int64)
            per_vertex = keys[order]
        cols = {}
        c0 = 1
        for k, a in attrs.items():
            w = a.shape[-1]
            cols[k] = per_vertex[:, c0:c0 + w]
            c0 += w
        missing = np.isnan(per_vertex[:, 0])  # points no face uses: take no attribute values
        for k in cols:
            cols[k] = np.where(missing[:, None], 0.0, cols[k])
    else:
        cols = {}
    pts_out = p[vertex_of]
    uvs = None
    uv_sets = []
    for n in uv_names:
        if f"uv:{n}" in cols:
            st = cols[f"uv:{n}"]
            uv_sets.append(np.c_[st[:, 0], 1.0 - st[:, 1]].astype(np.float32))
    if uv_sets:
        uvs, uv_sets = uv_sets[0], uv_sets[1:]
    normals = tangents = colors = None
    if "normal" in cols:
        n = cols["normal"] @ np.linalg.inv(lin)
        normals = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    if "tangent" in cols and cols["tangent"].shape[1] == 4:
        d = cols["tangent"][:, :3] @ lin.T
        tangents = np.c_[d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-30), cols["tangent"][:, 3:]]
    if "color" in cols:
        colors = np.c_[cols["color"][:, :3], cols["opacity"][:, :1] if "opacity" in cols else np.ones((len(vertex_of), 1))]
    materials, textures, prims, pof = _read_bindings(prim, poly, len(cnt))
    look = None
    if uv_sets or normals is not None or tangents is not None or colors is not None or materials or len(prims) > 1:
        look = Look(uv_sets, normals, tangents, colors, materials, textures, prims, pof)
    return UsdMesh(pts_out, faces, vertex_of, uvs, look, poly)


def _read_bindings(prim, poly: np.ndarray, n_polys: int):
    """Materials/textures bound to the mesh and its materialBind subsets -> (materials, textures, primitives,
    primitive id per triangle)."""
    UsdShade, UsdGeom = pxr("UsdShade"), pxr("UsdGeom")
    api = UsdShade.MaterialBindingAPI(prim)
    materials, textures, tex_index, mat_index = [], [], {}, {}

    def material_id(mat) -> int:
        if not mat:
            return -1
        key = str(mat.GetPath())
        if key not in mat_index:
            mat_index[key] = len(materials)
            materials.append(_read_material(mat, textures, tex_index, prim))
        return mat_index[key]

    subsets = api.GetMaterialBindSubsets()
    prims: list[Primitive] = []
    pof = None
    if subsets:
        poly_prim = np.full(n_polys, -1, np.int64)
        for s in subsets:
            ind = np.asarray(s.GetIndicesAttr().Get() or [], dtype=np.int64)
            ind = ind[(ind >= 0) & (ind < n_polys)]
            mat = UsdShade.MaterialBindingAPI(s.GetPrim()).ComputeBoundMaterial()[0]
            poly_prim[ind] = len(prims)
            prims.append(Primitive(sanitize_name(s.GetPrim().GetName()), material_id(mat)))
        if (poly_prim < 0).any():  # faces in no subset: the mesh's own binding
            poly_prim[poly_prim < 0] = len(prims)
            prims.append(Primitive(sanitize_name(prim.GetName()), material_id(api.ComputeBoundMaterial()[0])))
        pof = poly_prim[poly].astype(np.int32)
    else:
        prims = [Primitive(sanitize_name(prim.GetName()), material_id(api.ComputeBoundMaterial()[0]))]
    if UsdGeom.Mesh(prim).GetDoubleSidedAttr().Get():
        for m in materials:
            m.double_sided = True
    return materials, textures, prims, pof


def _asset_bytes(path: str) -> "bytes | None":
    """Bytes of a resolved asset path: a file, or a file inside a package (``x.usdz[textures/a.png]``)."""
    if Path(path).is_file():
        return Path(path).read_bytes()
    Ar = pxr("Ar")
    asset = Ar.GetResolver().OpenAsset(Ar.ResolvedPath(path))
    if asset is None:
        return None
    return bytes(memoryview(asset.GetBuffer())) if hasattr(asset, "GetBuffer") else None


def _source(inp):
    """(shader, output name) an input is connected to, or (None, None)."""
    UsdShade = pxr("UsdShade")
    if not inp or not inp.HasConnectedSource():
        return None, None
    src, out, _ = inp.GetConnectedSource()
    return UsdShade.Shader(src.GetPrim()), str(out)


def _value(shader, name, default):
    inp = shader.GetInput(name)
    v = inp.Get() if inp else None
    return default if v is None else v


def _read_material(mat, textures: list, tex_index: dict, mesh_prim) -> Material:
    UsdShade = pxr("UsdShade")
    name = mat.GetPrim().GetCustomDataByKey("articulate:materialName") or mat.GetPrim().GetName()
    out = Material(sanitize_name(str(name)))
    surf = mat.ComputeSurfaceSource()[0]
    if not surf or surf.GetIdAttr().Get() != "UsdPreviewSurface":
        return out
    ps = UsdShade.Shader(surf.GetPrim())

    def tex(inp_name):
        sh, port = _source(ps.GetInput(inp_name))
        if sh is None or sh.GetIdAttr().Get() != "UsdUVTexture":
            return None, None, None
        f = sh.GetInput("file").Get() if sh.GetInput("file") else None
        path = (f.resolvedPath or f.path) if f is not None else ""
        data = _asset_bytes(path) if path else None
        if data is None:
            return None, None, None
        key = str(Path(path).resolve()) if Path(path).is_file() else path
        if key not in tex_index:
            tex_index[key] = len(textures)
            textures.append(Texture(data, mime_of(data), sanitize_name(Path(path).stem), None, None,
                                    _WRAP.get(str(_value(sh, "wrapS", "repeat")), REPEAT),
                                    _WRAP.get(str(_value(sh, "wrapT", "repeat")), REPEAT)))
        uv_set = 0
        rd, _ = _source(sh.GetInput("st"))
        if rd is not None:
            var = str(_value(rd, "varname", "st"))
            uv_set = int(var[2:]) if var.startswith("st") and var[2:].isdigit() else 0
        scale = tuple(float(x) for x in _value(sh, "scale", (1.0, 1.0, 1.0, 1.0)))
        return TextureRef(tex_index[key], uv_set), scale, port

    dc = tuple(float(x) for x in _value(ps, "diffuseColor", (0.18, 0.18, 0.18)))
    opacity = float(_value(ps, "opacity", 1.0))
    ref, scale, _ = tex("diffuseColor")
    if ref is not None:
        out.base_color_texture, dc = ref, scale[:3]
        if ps.GetInput("opacity") and ps.GetInput("opacity").HasConnectedSource():
            opacity = scale[3]
    out.base_color = (*dc, opacity)
    out.metallic = float(_value(ps, "metallic", 0.0))
    out.roughness = float(_value(ps, "roughness", 0.5))
    ref, scale, _ = tex("roughness")
    if ref is not None:
        out.metallic_roughness_texture, out.roughness = ref, scale[1]
        mref, mscale, _ = tex("metallic")
        if mref is not None:
            out.metallic = mscale[2]
    out.emissive = tuple(float(x) for x in _value(ps, "emissiveColor", (0.0, 0.0, 0.0)))
    ref, scale, _ = tex("emissiveColor")
    if ref is not None:
        out.emissive_texture, out.emissive = ref, scale[:3]
    ref, scale, _ = tex("normal")
    if ref is not None:
        ref.scale = scale[0] / 2.0
        out.normal_texture = ref
    ref, scale, _ = tex("occlusion")
    if ref is not None:
        ref.scale = scale[0]
        out.occlusion_texture = ref
    thr = ps.GetInput("opacityThreshold")
    if thr and thr.Get() is not None and float(thr.Get()) > 0:
        out.alpha_mode, out.alpha_cutoff = "MASK", float(thr.Get())
    elif opacity < 1.0 or (ps.GetInput("opacity") and ps.GetInput("opacity").HasConnectedSource()):
        out.alpha_mode = "BLEND"
    return out
