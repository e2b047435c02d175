"""Write a Rig as glTF 2.0 / GLB: skinned mesh (primitives, every vertex attribute, materials, textures), joint
nodes, inverse bind matrices, animations."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import Rig
from sdk.errors import InvalidInputError
from sdk.util.atomic import atomic_path


class _Blob:
    def __init__(self):
        self.data = bytearray()
        self.views, self.accessors = [], []

    def add(self, arr: np.ndarray, gtype: str, ctype: int, target: int | None = None, minmax: bool = False) -> int:
        import pygltflib as G
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(arr).tobytes()
        self.views.append(G.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw), target=target))
        self.data.extend(raw)
        acc = G.Accessor(bufferView=len(self.views) - 1, componentType=ctype, count=len(arr), type=gtype)
        if minmax:
            a2 = arr.reshape(len(arr), -1)
            acc.min, acc.max = a2.min(0).tolist(), a2.max(0).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1


    def add_bytes(self, raw: bytes) -> int:
        """A buffer view holding ``raw`` as is (an image); returns the view index."""
        import pygltflib as G
        while len(self.data) % 4:
            self.data.append(0)
        self.views.append(G.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw)))
        self.data.extend(raw)
        return len(self.views) - 1


def save_gltf(gltf, blob: _Blob, path: Path) -> Path:
    """Attach ``blob``'s buffer views and accessors to ``gltf`` and write it atomically: binary ``.glb``, or ``.gltf``
    JSON with the buffer as a data URI."""
    import pygltflib as G
    gltf.bufferViews, gltf.accessors = blob.views, blob.accessors
    gltf.buffers = [G.Buffer(byteLength=len(blob.data))]
    with atomic_path(path) as tmp:
        gltf.set_binary_blob(bytes(blob.data))
        if path.suffix.lower() == ".glb":
            gltf.save_binary(str(tmp))
        else:
            gltf.convert_buffers(G.BufferFormat.DATAURI)
            gltf.save_json(str(tmp))
    return path


def vertex_attributes(mesh) -> dict[str, tuple[np.ndarray, str]]:
    """{glTF attribute name: (per-vertex array, accessor type)} of a mesh's look (TEXCOORD_n, NORMAL, TANGENT,
    COLOR_0); POSITION and skin attributes are the caller's."""
    out = {}
    if mesh.uvs is not None:
        out["TEXCOORD_0"] = (mesh.uvs.astype(np.float32), "VEC2")
    lk = mesh.look
    if lk is not None:
        if mesh.uvs is None and lk.uv_sets:  # a later set cannot exist without set 0
            out["TEXCOORD_0"] = (np.zeros((mesh.n_vertices, 2), np.float32), "VEC2")
        for k, uv in enumerate(lk.uv_sets, 1):
            out[f"TEXCOORD_{k}"] = (uv.astype(np.float32), "VEC2")
        if lk.normals is not None:
            out["NORMAL"] = (lk.normals.astype(np.float32), "VEC3")
        if lk.tangents is not None:
            out["TANGENT"] = (lk.tangents.astype(np.float32), "VEC4")
        if lk.colors is not None:
            out["COLOR_0"] = (lk.colors.astype(np.float32), "VEC4")
    return out


def primitive_vertices(mesh) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(primitive id, vertex ids [n] (sorted), local faces [f, 3])] in primitive order: each primitive gets the
    vertices its faces use (all of them when there is one primitive, so vertex order and count are kept)."""
    lk = mesh.look
    n_prim = lk.n_primitives if lk is not None else 1
    pid = lk.face_primitives(mesh.n_faces) if lk is not None else np.zeros(mesh.n_faces, np.int32)
    out = []
    for p in range(n_prim):
        f = mesh.faces[pid == p]
        if not len(f):
            continue
        vs = np.arange(mesh.n_vertices) if n_prim == 1 else np.unique(f)
        out.append((p, vs, np.searchsorted(vs, f) if n_prim > 1 else f))
    return out


def write_look(gltf, b: _Blob, look) -> None:
    """glTF materials, textures (images embedded byte for byte in buffer views), samplers from a Look."""
    import pygltflib as G
    if look is None:
        return
    for i, t in enumerate(look.textures):
        view = b.add_bytes(t.data)
        gltf.images.append(G.Image(name=t.name or f"image_{i}", bufferView=view, mimeType=t.mime))
        gltf.samplers.append(G.Sampler(magFilter=t.mag_filter, minFilter=t.min_filter, wrapS=t.wrap_s, wrapT=t.wrap_t))
        gltf.textures.append(G.Texture(sampler=i, source=i))

    def info(ref, cls=G.TextureInfo, key=None):
        if ref is None:
            return None
        ti = cls(index=ref.texture, texCoord=ref.uv_set)
        if key is not None:
            setattr(ti, key, ref.scale)
        return ti

    for m in look.materials:
        gltf.materials.append(G.Material(
            name=m.name, alphaMode=m.alpha_mode, alphaCutoff=m.alpha_cutoff if m.alpha_mode == "MASK" else None,
            doubleSided=m.double_sided, emissiveFactor=list(m.emissive),
            pbrMetallicRoughness=G.PbrMetallicRoughness(
                baseColorFactor=list(m.base_color), metallicFactor=m.metallic, roughnessFactor=m.roughness,
                baseColorTexture=info(m.base_color_texture),
                metallicRoughnessTexture=info(m.metallic_roughness_texture)),
            normalTexture=info(m.normal_texture, G.NormalMaterialTexture, "scale"),
            occlusionTexture=info(m.occlusion_texture, G.OcclusionTextureInfo, "strength"),
            emissiveTexture=info(m.emissive_texture)))


def mesh_primitives(b: _Blob, mesh, extra: dict[str, tuple[np.ndarray, str, int]] | None = None,
                    targets: list[np.ndarray] | None = None) -> list:
    """glTF primitives of ``mesh``: one per look primitive, each with its own vertices (POSITION, the look's
    attributes and ``extra`` {name: (per-vertex array, type, componentType)}, e.g. JOINTS_0) and material;
    ``targets`` [[V, 3]] morph-target displacements."""
    import pygltflib as G
    FLOAT, U32 = 5126, 5125
    look_attrs = vertex_attributes(mesh)
    prims = []
    for p, vs, f in primitive_vertices(mesh):
        attrs = G.Attributes(POSITION=b.add(mesh.vertices[vs].astype(np.float32), "VEC3", FLOAT, 34962, minmax=True))
        for name, (arr, gtype) in look_attrs.items():
            setattr(attrs, name, b.add(arr[vs], gtype, FLOAT, 34962))
        for name, (arr, gtype, ctype) in (extra or {}).items():
            setattr(attrs, name, b.add(np.ascontiguousarray(arr[vs]), gtype, ctype, 34962))
        tg = [{"POSITION": b.add(np.asarray(d, np.float32)[vs], "VEC3", FLOAT, 34962, minmax=True)} for d in targets or []]
        mat = mesh.look.primitives[p].material if mesh.look is not None else -1
        prims.append(G.Primitive(attributes=attrs, indices=b.add(f.astype(np.uint32).ravel(), "SCALAR", U32, 34963),
                                 mode=4, material=mat if mat >= 0 else None, targets=tg or None))
    return prims


def write_rig_gltf(rig: Rig, path, *, animations: bool = True) -> Path:
    """Write ``rig`` to ``path`` (.glb binary or .gltf with embedded buffer) atomically: the mesh's primitives
    with every vertex attribute, material and texture of its look, the skin and the animations."""
    import pygltflib as G
    rig.validate()
    path = Path(path)
    if path.suffix.lower() not in (".glb", ".gltf"):
        raise InvalidInputError(f"glTF output must end in .glb or .gltf, got '{path.suffix}'", field="output")
    skel, mesh, skin = rig.skeleton, rig.mesh, rig.skin
    J = skel.n_joints
    b = _Blob()
    FLOAT, U16 = 5126, 5123
    k = skin.max_influences
    kk = 4 * ((k + 3) // 4)
    ji = np.zeros((mesh.n_vertices, kk), dtype=np.uint16)
    jw = np.zeros((mesh.n_vertices, kk), dtype=np.float32)
    ji[:, :k], jw[:, :k] = skin.indices, skin.weights
    extra = {"JOINTS_0": (ji[:, :4], "VEC4", U16), "WEIGHTS_0": (jw[:, :4], "VEC4", FLOAT)}
    if kk > 4:
        extra.update({"JOINTS_1": (ji[:, 4:8], "VEC4", U16), "WEIGHTS_1": (jw[:, 4:8], "VEC4", FLOAT)})
    prims = mesh_primitives(b, mesh, extra)
    ibm = np.linalg.inv(skel.bind_world).transpose(0, 2, 1).astype(np.float32)  # column-major
    ibm_acc = b.add(ibm.reshape(J, 16), "MAT4", FLOAT)

    from sdk.core.transforms import decompose_trs
    t, q, s = decompose_trs(skel.rest_local)
    nodes = []
    for j in range(J):
        nodes.append(G.Node(name=skel.names[j], translation=t[j].tolist(), rotation=[*q[j, 1:].tolist(), float(q[j, 0])],
                            scale=s[j].tolist(), children=[int(c) for c in skel.children(j)]))
    mesh_node = len(nodes)
    nodes.append(G.Node(name=mesh.name or "mesh", mesh=0, skin=0))
    roots = [j for j in range(J) if skel.parents[j] < 0]
    gltf = G.GLTF2(asset=G.Asset(generator="articulate-sdk", version="2.0"), scene=0,
                   scenes=[G.Scene(nodes=roots + [mesh_node])], nodes=nodes,
                   meshes=[G.Mesh(name=mesh.name, primitives=prims)],
                   skins=[G.Skin(joints=list(range(J)), inverseBindMatrices=ibm_acc, skeleton=roots[0])])
    write_look(gltf, b, mesh.look)
    if animations:
        for anim in rig.animations:
            T = anim.n_frames
            times = b.add((np.arange(T) / anim.fps).astype(np.float32), "SCALAR", FLOAT, minmax=True)
            samplers, channels = [], []
            for j in range(J):
                for key, arr, gtype in (("translation", anim.translations[:, j], "VEC3"),
                                        ("rotation", np.c_[anim.rotations[:, j, 1:], anim.rotations[:, j, :1]], "VEC4"),
                                        ("scale", anim.scales[:, j], "VEC3")):
                    out = b.add(arr.astype(np.float32), gtype, FLOAT)
                    samplers.append(G.AnimationSampler(input=times, output=out, interpolation="LINEAR"))
                    channels.append(G.AnimationChannel(sampler=len(samplers) - 1, target=G.AnimationChannelTarget(node=j, path=key)))
            gltf.animations.append(G.Animation(name=anim.name, samplers=samplers, channels=channels))
    return save_gltf(gltf, b, path)
