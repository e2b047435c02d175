"""glTF 2.0 / GLB reader: meshes (Draco too) with their look (every UV set, normals, tangents, colours, materials,
textures as bytes, primitives), node parts, skins, animations and morph-target clips."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..core import Animation, Mesh, PartLabels, Rig, Skeleton, SkinWeights, sanitize_name
from ..core.look import REPEAT, Look, Material, Primitive, Texture, TextureRef, merge_looks, mime_of
from ..core.transforms import compose_trs, quat_normalize, world_to_local
from ..errors import AssetReadError

log = logging.getLogger(__name__)

_CTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


class _J:
    """Attribute view of a glTF JSON object, converted once: missing keys read as None;
    ``extensions``/``extras``/``attributes`` stay plain dicts."""

    _RAW = ("extensions", "extras", "attributes")

    def __init__(self, d: dict):
        for k, v in d.items():
            self.__dict__[k] = v if k in _J._RAW else _wrap(v)

    def __getattr__(self, k):  # only called for missing keys
        return None


def _wrap(v):
    if isinstance(v, dict):
        return _J(v)
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return [_J(x) for x in v]
    return v


def _parse_gltf(path: Path, data: bytes):
    """(json dict, binary chunk or None) from .glb or .gltf bytes."""
    import json
    import struct
    if data[:4] == b"glTF":
        if len(data) < 20:
            raise AssetReadError(path, "GLB header is truncated")
        _, version, length = struct.unpack_from("<4sII", data, 0)
        if version != 2:
            raise AssetReadError(path, f"unsupported GLB container version {version} (glTF 2.0 needs version 2)")
        if length > len(data):
            raise AssetReadError(path, f"GLB is truncated ({len(data)} of {length} bytes)")
        off, doc, blob = 12, None, None
        while off + 8 <= length:
            clen, ctype = struct.unpack_from("<II", data, off)
            chunk = data[off + 8: off + 8 + clen]
            if len(chunk) < clen:
                raise AssetReadError(path, "GLB chunk is truncated")
            if ctype == 0x4E4F534A:
                doc = chunk
            elif ctype == 0x004E4942 and blob is None:
                blob = chunk
            off += 8 + clen + (-clen % 4)
        if doc is None:
            raise AssetReadError(path, "GLB has no JSON chunk")
    else:
        doc, blob = data, None
    try:
        j = json.loads(doc.decode("utf-8").rstrip(" \x00"))
    except (UnicodeDecodeError, ValueError) as e:
        raise AssetReadError(path, f"not a readable glTF/GLB file (bad JSON: {e})") from e
    if not isinstance(j, dict) or not str((j.get("asset") or {}).get("version", "")).startswith("2"):
        raise AssetReadError(path, "not a glTF 2.0 file (asset.version must be 2.x)")
    return j, blob


class _Doc:
    def __init__(self, path: Path):
        self.path = path
        try:
            data = path.read_bytes()
        except OSError as e:
            raise AssetReadError(path, str(e)) from e
        j, self._blob = _parse_gltf(path, data)
        self.g = _J(j)
        self._buffers: dict[int, bytes] = {}

    def buffer(self, i: int) -> bytes:
        if i not in self._buffers:
            b = self.g.buffers[i]
            if b.uri is None:
                data = self._blob
            elif b.uri.startswith("data:"):
                import base64
                data = base64.b64decode(b.uri.split(",", 1)[1])
            else:
                f = self.path.parent / b.uri
                if not f.exists():
                    raise AssetReadError(self.path, f"buffer file '{b.uri}' is missing")
                data = f.read_bytes()
            if data is None or len(data) < b.byteLength:
                raise AssetReadError(self.path, f"buffer {i} is truncated ({0 if data is None else len(data)} of {b.byteLength} bytes)")
            self._buffers[i] = data
        return self._buffers[i]

    def view_bytes(self, i: int) -> bytes:
        bv = self.g.bufferViews[i]
        data = self.buffer(bv.buffer)
        off = bv.byteOffset or 0
        return data[off: off + bv.byteLength]

    def accessor(self, i: int) -> np.ndarray:
        a = self.g.accessors[i]
        dt = np.dtype(_CTYPE[a.componentType])
        nc = _NCOMP[a.type]
        if a.bufferView is None:
            out = np.zeros((a.count, nc), dtype=dt)
        else:
            bv = self.g.bufferViews[a.bufferView]
            raw = self.view_bytes(a.bufferView)
            off = a.byteOffset or 0
            stride = bv.byteStride or dt.itemsize * nc
            need = off + stride * (a.count - 1) + dt.itemsize * nc if a.count else 0
            if need > len(raw):
                raise AssetReadError(self.path, f"accessor {i} reads past the end of its buffer view")
            out = np.ndarray((a.count, nc), dtype=dt, buffer=raw, offset=off, strides=(stride, dt.itemsize)).copy()
        if a.sparse is not None:
            s = a.sparse
            idx_dt = np.dtype(_CTYPE[s.indices.componentType])
            idx = np.frombuffer(self.view_bytes(s.indices.bufferView), dtype=idx_dt, count=s.count,
                                offset=s.indices.byteOffset or 0)
            val = np.frombuffer(self.view_bytes(s.values.bufferView), dtype=dt, count=s.count * nc,
                                offset=s.values.byteOffset or 0).reshape(s.count, nc)
            out[idx] = val
        if a.normalized and dt.kind in "iu":
            out = _dequantize(out)
        return out.reshape(a.count, nc) if nc > 1 else out.reshape(a.count)


def _dequantize(x: np.ndarray) -> np.ndarray:
    info = np.iinfo(x.dtype)
    if info.min < 0:
        return np.maximum(x.astype(np.float32) / info.max, -1.0)
    return x.astype(np.float32) / info.max


def _node_local(n) -> np.ndarray:
    if n.matrix and len(n.matrix) == 16:
        return np.array(n.matrix, dtype=np.float64).reshape(4, 4).T  # glTF is column-major
    t = np.array(n.translation or [0, 0, 0], dtype=np.float64)
    r = np.array(n.rotation or [0, 0, 0, 1], dtype=np.float64)  # x, y, z, w
    s = np.array(n.scale or [1, 1, 1], dtype=np.float64)
    return compose_trs(t, np.r_[r[3], r[:3]], s)


class _Scene:
    """Node hierarchy of the default scene with rest-pose world transforms."""

    def __init__(self, doc: _Doc):
        g = doc.g
        nodes = g.nodes or []
        self.n = len(nodes)
        self.parent = np.full(self.n, -1, dtype=np.int64)
        for i, nd in enumerate(nodes):
            for c in nd.children or []:
                self.parent[c] = i
        scene = g.scenes[g.scene or 0] if g.scenes else None
        roots = scene.nodes if scene is not None else [i for i in range(self.n) if self.parent[i] < 0]
        self.order: list[int] = []
        stack = list(reversed(roots))
        while stack:
            i = stack.pop()
            self.order.append(i)
            stack.extend(reversed(nodes[i].children or []))
        self.local = np.stack([_node_local(nd) for nd in nodes]) if self.n else np.zeros((0, 4, 4))

    def world(self, local: np.ndarray) -> np.ndarray:  # local [..., N, 4, 4]
        w = local.copy()
        for i in self.order:
            p = self.parent[i]
            if p >= 0:
                w[..., i, :, :] = w[..., p, :, :] @ local[..., i, :, :]
        return w


_READ_ATTRIBUTES = ("POSITION", "NORMAL", "TANGENT", "COLOR_0", "JOINTS_0", "WEIGHTS_0", "JOINTS_1", "WEIGHTS_1")


def _primitive_arrays(doc: _Doc, prim):
    ext = (prim.extensions or {}).get("KHR_draco_mesh_compression")
    attrs = {k: v for k, v in (prim.attributes or {}).items() if v is not None}
    if ext is not None:
        import DracoPy
        try:
            dm = DracoPy.decode(doc.view_bytes(ext["bufferView"]))
        except Exception as e:
            raise AssetReadError(doc.path, f"Draco-compressed primitive could not be decoded: {e}") from e
        out = {}
        for name, uid in ext["attributes"].items():
            a = dm.get_attribute_by_unique_id(uid)
            data = np.asarray(a["data"])
            acc = doc.g.accessors[attrs[name]] if name in attrs else None
            if acc is not None and acc.normalized and data.dtype.kind in "iu":
                data = _dequantize(data)
            out[name] = data
        faces = np.asarray(dm.faces, dtype=np.int64).reshape(-1, 3)
        return out, faces
    out = {name: doc.accessor(i) for name, i in attrs.items() if name in _READ_ATTRIBUTES or name.startswith("TEXCOORD_")}
    if "POSITION" not in out:
        raise AssetReadError(doc.path, "primitive has no POSITION attribute")
    nv = len(out["POSITION"])
    mode = 4 if prim.mode is None else prim.mode
    idx = doc.accessor(prim.indices).astype(np.int64) if prim.indices is not None else np.arange(nv)
    if mode == 4:
        faces = idx.reshape(-1, 3)
    elif mode == 5:  # strip
        f = np.stack([idx[:-2], idx[1:-1], idx[2:]], 1)
        f[1::2] = f[1::2][:, [1, 0, 2]]
        faces = f
    elif mode == 6:  # fan
        faces = np.stack([np.full(len(idx) - 2, idx[0]), idx[1:-1], idx[2:]], 1)
    else:
        return out, np.zeros((0, 3), dtype=np.int64)  # points/lines: no surface
    return out, faces


def _sample_channel(times, values, interp, t, is_rot):
    """Sample a glTF animation sampler at times t [T]."""
    if interp == "CUBICSPLINE":
        k = len(times)
        v = values.reshape(k, 3, -1)
        vin, val, vout = v[:, 0], v[:, 1], v[:, 2]
    else:
        val = values.reshape(len(times), -1)
    t = np.clip(t, times[0], times[-1])
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
    j = np.minimum(i + 1, len(times) - 1)
    dt = np.where(j > i, times[j] - times[i], 1.0)
    u = np.where(j > i, (t - times[i]) / dt, 0.0)[:, None]
    if interp == "STEP":
        out = val[i]
    elif interp == "CUBICSPLINE":
        u2, u3 = u * u, u * u * u
        out = ((2 * u3 - 3 * u2 + 1) * val[i] + (u3 - 2 * u2 + u) * dt[:, None] * vout[i]
               + (-2 * u3 + 3 * u2) * val[j] + (u3 - u2) * dt[:, None] * vin[j])
    elif is_rot:
        a, b = val[i], val[j].copy()
        dot = (a * b).sum(1, keepdims=True)
        b = np.where(dot < 0, -b, b)
        dot = np.abs(dot).clip(max=1.0)
        th = np.arccos(dot)
        s = np.sin(th)
        small = s < 1e-6
        wa = np.where(small, 1 - u, np.sin((1 - u) * th) / np.where(small, 1, s))
        wb = np.where(small, u, np.sin(u * th) / np.where(small, 1, s))
        out = wa * a + wb * b
    else:
        out = (1 - u) * val[i] + u * val[j]
    if is_rot:
        out = quat_normalize(out)
    return out


def load_gltf(path, *, fps: float = 30.0) -> "Asset":
    """Read a .gltf/.glb: mesh (all triangle primitives, Draco too), node parts and the skinned rig if any."""
    from ..errors import ArticulateError
    path = Path(path)
    try:
        return _load_gltf(path, fps)
    except ArticulateError:
        raise
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:  # dangling indices, wrong types
        raise AssetReadError(path, f"malformed glTF ({type(e).__name__}: {e})") from e


def _load_gltf(path: Path, fps: float) -> "Asset":
    from .asset import Asset
    doc = _Doc(path)
    g = doc.g
    sc = _Scene(doc)
    rest_world = sc.world(sc.local)

    # joints: every node used by any skin, ordered so parents precede children
    skin_nodes = sorted({j for s in (g.skins or []) for j in s.joints})
    joint_set = set(skin_nodes)
    joint_nodes = [i for i in sc.order if i in joint_set]
    jindex = {n: k for k, n in enumerate(joint_nodes)}

    def joint_parent(n):
        p = sc.parent[n]
        while p >= 0 and p not in joint_set:
            p = sc.parent[p]
        return jindex.get(int(p), -1) if p >= 0 else -1

    bind_world = np.array([rest_world[n] for n in joint_nodes]).reshape(-1, 4, 4)
    for s in g.skins or []:  # inverse bind matrices define the bind pose
        if s.inverseBindMatrices is None:
            continue
        ibm = doc.accessor(s.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
        for k, n in enumerate(s.joints):
            bind_world[jindex[n]] = np.linalg.inv(ibm[k])

    verts, faces, part_of_vertex, part_names, joints_l, weights_l, uvs_l, looks_l = [], [], [], [], [], [], [], []
    appearance_l: list[tuple] = []  # per kept primitive: (colour [n, 3], uv [n, 2] | None, texture index | None)
    nvert = 0
    has_skin = bool(joint_nodes)
    for n in sc.order:
        nd = g.nodes[n]
        if nd.mesh is None:
            continue
        mesh = g.meshes[nd.mesh]
        node_verts, node_faces, node_j, node_w, node_app, node_uv, node_look = [], [], [], [], [], [], []
        base = 0
        for pi, prim in enumerate(mesh.primitives):
            arrs, f = _primitive_arrays(doc, prim)
            p = np.asarray(arrs["POSITION"], dtype=np.float64)
            if len(f) == 0:
                continue
            node_app.append(_primitive_appearance(g, prim, arrs, len(p)))
            node_verts.append(p)
            node_uv.append(np.asarray(arrs["TEXCOORD_0"], dtype=np.float32).reshape(-1, 2)
                           if "TEXCOORD_0" in arrs else None)
            pname = (mesh.name or nd.name or f"mesh_{nd.mesh}") + (f"_{pi}" if len(mesh.primitives) > 1 else "")
            node_look.append(_primitive_look(arrs, len(p), len(f), prim.material, pname))
            node_faces.append(f + base)
            base += len(p)
            if nd.skin is not None and "JOINTS_0" in arrs:
                js = np.asarray(g.skins[nd.skin].joints)
                jj = [arrs["JOINTS_0"]] + ([arrs["JOINTS_1"]] if "JOINTS_1" in arrs else [])
                ww = [arrs["WEIGHTS_0"]] + ([arrs["WEIGHTS_1"]] if "WEIGHTS_1" in arrs else [])
                jj = np.concatenate(jj, 1).astype(np.int64)
                ww = np.concatenate(ww, 1).astype(np.float64)
                node_j.append(np.vectorize(lambda k: jindex[int(js[k])])(jj) if jj.size else jj)
                node_w.append(ww)
            else:
                node_j.append(None)
                node_w.append(None)
        if not node_verts:
            continue
        v = np.concatenate(node_verts)
        f = np.concatenate(node_faces)
        if has_skin and nd.skin is None:
            # rigid mesh: follows its nearest joint ancestor; static meshes are not part of the rig
            p = sc.parent[n]
            while p >= 0 and p not in joint_set:
                p = sc.parent[p]
            if p < 0:
                log.info("%s: mesh node %d (%s) is not skinned nor under a joint; left out of the rig", path.name, n, nd.name)
                continue
            j = jindex[int(p)]
            vw = (rest_world[n] @ np.c_[v, np.ones(len(v))].T).T[:, :3]
            m = bind_world[j] @ np.linalg.inv(rest_world[int(p)])
            v = (m @ np.c_[vw, np.ones(len(v))].T).T[:, :3]
            node_look = [lk.transformed(m[:3, :3] @ rest_world[n][:3, :3]) for lk in node_look]
            jj = np.full((len(v), 1), j)
            ww = np.ones((len(v), 1))
        elif nd.skin is not None:
            jj = np.concatenate(node_j)
            ww = np.concatenate(node_w)
        else:
            v = (rest_world[n] @ np.c_[v, np.ones(len(v))].T).T[:, :3]
            node_look = [lk.transformed(rest_world[n][:3, :3]) for lk in node_look]
            jj = ww = None
        verts.append(v)
        appearance_l.extend(node_app)
        uvs_l.extend(node_uv)
        looks_l.extend(node_look)
        faces.append(f + nvert)
        part_of_vertex.append(np.full(len(v), len(part_names)))
        part_names.append(nd.name or mesh.name or f"node_{n}")
        joints_l.append(jj)
        weights_l.append(ww)
        nvert += len(v)

    if not verts:
        raise AssetReadError(path, "contains no triangle mesh")
    taken: set[str] = set()
    appearance = _appearance(doc, appearance_l)
    # TEXCOORD_0 (glTF convention: v down from the image top), zeros for primitives without one
    uvs = (np.concatenate([u if u is not None else np.zeros((n, 2), np.float32)
                           for u, n in zip(uvs_l, _prim_sizes(appearance_l))])
           if any(u is not None for u in uvs_l) else None)
    look = _document_look(doc, looks_l, appearance_l)
    mesh = Mesh(np.concatenate(verts), np.concatenate(faces), name=sanitize_name(path.stem), uvs=uvs, look=look)
    parts = PartLabels(np.concatenate(part_of_vertex), [sanitize_name(nm, taken) for nm in part_names])

    rig = None
    if has_skin:
        k = max(j.shape[1] for j in joints_l)
        J = np.concatenate([np.pad(j, ((0, 0), (0, k - j.shape[1]))) for j in joints_l])
        W = np.concatenate([np.pad(w, ((0, 0), (0, k - w.shape[1]))) for w in weights_l])
        s = W.sum(1, keepdims=True)
        W = np.where(s > 0, W / np.where(s > 0, s, 1), 0)
        dense = np.zeros((len(J), len(joint_nodes)))
        np.add.at(dense, (np.repeat(np.arange(len(J)), k), J.ravel()), W.ravel())
        skin = SkinWeights.from_dense(dense, k=max(k, 1))
        names_taken: set[str] = set()
        names = [sanitize_name(g.nodes[n].name or f"joint_{n}", names_taken) for n in joint_nodes]
        parents = np.array([joint_parent(n) for n in joint_nodes], dtype=np.int64)
        rest_j = np.array([rest_world[n] for n in joint_nodes])
        skel = Skeleton(names, parents, world_to_local(parents, rest_j), bind_world)
        anims = [_read_animation(doc, sc, a, ai, joint_nodes, parents, fps) for ai, a in enumerate(g.animations or [])]
        rig = Rig(mesh, skel, skin, parts, [a for a in anims if a is not None], metadata={"source": str(path)})
    return Asset(path=path, mesh=mesh, parts=parts, rig=rig, appearance=appearance)


def _primitive_look(arrs: dict, n: int, n_faces: int, material, name: str) -> Look:
    """The look of one primitive: TEXCOORD_1.., NORMAL, TANGENT, COLOR_0 and its material (glTF index)."""
    k = 1
    uv_sets = []
    while f"TEXCOORD_{k}" in arrs:
        uv_sets.append(np.asarray(arrs[f"TEXCOORD_{k}"], dtype=np.float32).reshape(n, 2))
        k += 1
    get = arrs.get
    return Look(uv_sets, get("NORMAL"), get("TANGENT"), get("COLOR_0"),
                primitives=[Primitive(sanitize_name(name), -1 if material is None else int(material))],
                primitive_of_face=np.zeros(n_faces, np.int32))


def _prim_sizes(apps: list) -> list[int]:
    return [len(c) for c, _, _ in apps]


def _document_look(doc, prim_looks: list, apps: list) -> "Look | None":
    """One Look for the kept primitives: vertex attributes stacked, the document's materials and textures (glTF
    order, so material indices stay the file's) and one Primitive per glTF primitive."""
    g = doc.g
    sizes = _prim_sizes(apps)
    nf = [len(lk.primitive_of_face) for lk in prim_looks]
    gl_material = [lk.primitives[0].material for lk in prim_looks]  # glTF material index of each primitive
    merged = merge_looks([replace(lk, primitives=[replace(lk.primitives[0], material=-1)]) for lk in prim_looks],
                         sizes, nf)
    if merged is None:
        return None
    textures = [_read_texture(doc, ti) for ti in range(len(g.textures or []))]
    materials = [_read_material(m, i) for i, m in enumerate(g.materials or [])]
    prims = [Primitive(p.name, m) for p, m in zip(merged.primitives, gl_material)]
    return replace(merged, materials=materials, textures=textures, primitives=prims).validate(sum(sizes), sum(nf),
                                                                                              str(doc.path))


def _image_bytes(doc, index: int) -> bytes:
    im = doc.g.images[index]
    if im.bufferView is not None:
        return bytes(doc.view_bytes(im.bufferView))
    if im.uri is not None and im.uri.startswith("data:"):
        import base64
        return base64.b64decode(im.uri.split(",", 1)[1])
    if im.uri is not None:
        from urllib.parse import unquote
        f = doc.path.parent / unquote(im.uri)
        if not f.exists():
            raise AssetReadError(doc.path, f"image file '{im.uri}' is missing")
        return f.read_bytes()
    raise AssetReadError(doc.path, f"image {index} has neither bufferView nor uri")


def _read_texture(doc, ti: int) -> Texture:
    g = doc.g
    t = g.textures[ti]
    src = t.source
    if src is None:  # e.g. only an extension (KHR_texture_basisu) names the image
        src = next((e.get("source") for e in (t.extensions or {}).values() if isinstance(e, dict) and "source" in e), None)
    if src is None:
        raise AssetReadError(doc.path, f"texture {ti} has no image")
    im = g.images[int(src)]
    data = _image_bytes(doc, int(src))
    name = im.name or (Path(im.uri).stem if im.uri and not im.uri.startswith("data:") else f"texture_{ti}")
    s = g.samplers[t.sampler] if t.sampler is not None and g.samplers else None
    return Texture(data, im.mimeType or mime_of(data), sanitize_name(name),
                   s.magFilter if s is not None else None, s.minFilter if s is not None else None,
                   (s.wrapS or REPEAT) if s is not None else REPEAT, (s.wrapT or REPEAT) if s is not None else REPEAT)


def _tex_ref(info, scale_key: str | None = None) -> "TextureRef | None":
    if info is None or info.index is None:
        return None
    scale = getattr(info, scale_key) if scale_key else None
    return TextureRef(int(info.index), int(info.texCoord or 0), 1.0 if scale is None else float(scale))


def _read_material(m, i: int) -> Material:
    pbr = m.pbrMetallicRoughness or _J({})
    bc = pbr.baseColorFactor
    return Material(sanitize_name(m.name or f"material_{i}"),
                    tuple(float(x) for x in bc) if bc is not None else (1.0, 1.0, 1.0, 1.0),
                    1.0 if pbr.metallicFactor is None else float(pbr.metallicFactor),
                    1.0 if pbr.roughnessFactor is None else float(pbr.roughnessFactor),
                    tuple(float(x) for x in m.emissiveFactor) if m.emissiveFactor is not None else (0.0, 0.0, 0.0),
                    m.alphaMode or "OPAQUE", 0.5 if m.alphaCutoff is None else float(m.alphaCutoff),
                    bool(m.doubleSided), _tex_ref(pbr.baseColorTexture), _tex_ref(pbr.metallicRoughnessTexture),
                    _tex_ref(m.normalTexture, "scale"), _tex_ref(m.occlusionTexture, "strength"),
                    _tex_ref(m.emissiveTexture))


def _primitive_appearance(g, prim, arrs: dict, n: int) -> tuple:
    """(linear base colour per vertex [n, 3], TEXCOORD_0 [n, 2] or None, base-colour texture index or None)."""
    factor = np.ones(3)
    tex = None
    if prim.material is not None and g.materials:
        pbr = g.materials[prim.material].pbrMetallicRoughness
        if pbr is not None:
            if pbr.baseColorFactor is not None:
                factor = np.asarray(pbr.baseColorFactor, dtype=np.float64)[:3]
            if pbr.baseColorTexture is not None and (pbr.baseColorTexture.texCoord or 0) == 0:
                tex = int(pbr.baseColorTexture.index)
    col = np.broadcast_to(factor, (n, 3)).copy()
    if "COLOR_0" in arrs:
        c = np.asarray(arrs["COLOR_0"], dtype=np.float64).reshape(n, -1)[:, :3]
        col = col * c
    uv = np.asarray(arrs["TEXCOORD_0"], dtype=np.float64).reshape(n, 2) if "TEXCOORD_0" in arrs else None
    return col, uv, (tex if uv is not None else None)


def _decode_image(doc, index: int) -> np.ndarray:
    """glTF image -> [H, W, 3] float32 in [0, 1] (the stored, sRGB-encoded values)."""
    im = doc.g.images[index]
    if im.bufferView is not None:
        data = doc.view_bytes(im.bufferView)
    elif im.uri is not None and im.uri.startswith("data:"):
        import base64
        data = base64.b64decode(im.uri.split(",", 1)[1])
    elif im.uri is not None:
        f = doc.path.parent / im.uri
        if not f.exists():
            raise AssetReadError(doc.path, f"image file '{im.uri}' is missing")
        data = f.read_bytes()
    else:
        raise AssetReadError(doc.path, f"image {index} has neither bufferView nor uri")
    import io
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover
        from ..errors import MissingDependencyError
        raise MissingDependencyError("pillow", "reading glTF textures") from e
    try:
        arr = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255.0
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad asset
        raise AssetReadError(doc.path, f"image {index} could not be decoded: {e}") from e
    return arr


def _appearance(doc, prims: list[tuple]):
    """Per-vertex base colours and UVs of the kept primitives, plus the (first) base-colour texture image."""
    from .asset import Appearance
    col = np.concatenate([c for c, _, _ in prims]) if prims else np.zeros((0, 3))
    uv = np.concatenate([u if u is not None else np.zeros((len(c), 2)) for c, u, _ in prims]) if prims else \
        np.zeros((0, 2))
    texs = [t for _, _, t in prims if t is not None]
    texture, textured = None, np.zeros(len(col), dtype=bool)
    if texs:
        tex_index = texs[0]
        if len(set(texs)) > 1:
            log.info("%s: %d base-colour textures; only texture %d is sampled", doc.path.name, len(set(texs)), tex_index)
        src = doc.g.textures[tex_index].source
        if src is not None:
            texture = _decode_image(doc, int(src))
            textured = np.concatenate([np.full(len(c), t == tex_index) for c, _, t in prims])
    return Appearance(vertex_colors=col.astype(np.float32), uvs=uv.astype(np.float32), texture=texture,
                      textured=textured)


def _read_animation(doc, sc, anim, ai, joint_nodes, parents, fps):
    chans = [c for c in anim.channels if c.target.path in ("translation", "rotation", "scale") and c.target.node is not None]
    if not chans:
        return None
    samplers = anim.samplers
    tmax = 0.0
    tmin = np.inf
    data = []
    for c in chans:
        s = samplers[c.sampler]
        times = doc.accessor(s.input).astype(np.float64).reshape(-1)
        vals = doc.accessor(s.output).astype(np.float64)
        tmax, tmin = max(tmax, times[-1]), min(tmin, times[0])
        data.append((c.target.node, c.target.path, times, vals, s.interpolation or "LINEAR"))
    T = max(int(round((tmax - tmin) * fps)) + 1, 1)
    t = tmin + np.arange(T) / fps
    g = doc.g
    trs = []
    for nd in g.nodes:  # rest TRS (matrix nodes stay static)
        trs.append([np.array(nd.translation or [0, 0, 0], float), np.array(nd.rotation or [0, 0, 0, 1], float),
                    np.array(nd.scale or [1, 1, 1], float)])
    local = np.broadcast_to(sc.local, (T,) + sc.local.shape).copy()
    animated = {}
    for node, p, times, vals, interp in data:
        v = _sample_channel(times, vals.reshape(len(times) * (3 if interp == "CUBICSPLINE" else 1), -1), interp, t, p == "rotation")
        animated.setdefault(node, {})[p] = v
    for node, chs in animated.items():
        tt = chs.get("translation", np.broadcast_to(trs[node][0], (T, 3)))
        rr = chs.get("rotation", np.broadcast_to(trs[node][1], (T, 4)))
        ss = chs.get("scale", np.broadcast_to(trs[node][2], (T, 3)))
        local[:, node] = compose_trs(tt, np.concatenate([rr[:, 3:], rr[:, :3]], 1), ss)
    world = sc.world(local)[:, joint_nodes]
    jl = world_to_local(parents, world)
    name = anim.name or f"animation_{ai}"
    return Animation.from_local_matrices(sanitize_name(name), fps, jl)


def read_morph_clip(path, mesh: Mesh, clip: str | None = None, fps: float | None = None):
    """A morph-target animation (what ``exporters.gltf_morph`` writes: one mesh node, ``weights`` channels) baked to
    vertices -> (vertices [T, V, 3] matching ``mesh`` = ``load_gltf(path).mesh``, fps, clip name); None when the
    file has no animated morph targets. Frames are the sampler's key times (its own rate unless ``fps`` is given)."""
    from ..errors import InvalidInputError
    path = Path(path)
    doc = _Doc(path)
    g = doc.g
    nodes = [i for i, nd in enumerate(g.nodes or []) if nd.mesh is not None]
    morph = [i for i in nodes if any(p.targets for p in g.meshes[g.nodes[i].mesh].primitives)]
    if not morph:
        return None
    n = morph[0]
    anims = [(ai, a) for ai, a in enumerate(g.animations or [])
             if any(c.target.node == n and c.target.path == "weights" for c in a.channels)]
    if not anims:
        return None
    if clip is not None:
        anims = [(ai, a) for ai, a in anims if (a.name or f"animation_{ai}") == clip] or None
        if anims is None:
            raise InvalidInputError(f"no morph-target clip named {clip!r}", field="clip", source=str(path))
    ai, anim = anims[0]
    ch = next(c for c in anim.channels if c.target.node == n and c.target.path == "weights")
    s = anim.samplers[ch.sampler]
    times = doc.accessor(s.input).astype(np.float64).reshape(-1)
    prims = [p for p in g.meshes[g.nodes[n].mesh].primitives if len(_primitive_arrays(doc, p)[1])]
    K = len(prims[0].targets or [])
    disp = np.concatenate([np.stack([doc.accessor(t.POSITION) for t in p.targets], 0) for p in prims], 1)  # [K, V, 3]
    if len(nodes) != 1 or disp.shape[1] != mesh.n_vertices:
        raise InvalidInputError("morph-target clips are read from files with one mesh node (a mesh-cache flipbook)",
                                field="targets", source=str(path))
    w = doc.accessor(s.output).astype(np.float64).reshape(len(times) * (3 if s.interpolation == "CUBICSPLINE" else 1), K)
    if fps is None:
        fps = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 30.0
        t = times
    else:
        t = times[0] + np.arange(max(int(round((times[-1] - times[0]) * fps)) + 1, 1)) / fps
    wt = _sample_channel(times, w, s.interpolation or "LINEAR", t, False)  # [T, K]
    lin = _Scene(doc).world(_Scene(doc).local)[n][:3, :3]
    vertices = mesh.vertices[None] + np.einsum("tk,kvc->tvc", wt, disp.astype(np.float64)) @ lin.T
    return vertices, float(fps), anim.name or f"animation_{ai}"
