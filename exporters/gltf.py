"""Write a Rig as glTF 2.0 / GLB: skinned mesh, joint nodes, inverse bind matrices, animations."""
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


def write_rig_gltf(rig: Rig, path, *, animations: bool = True) -> Path:
    """Write ``rig`` to ``path`` (.glb binary or .gltf with embedded buffer) atomically."""
    import pygltflib as G
    rig.validate()
    path = Path(path)
    if path.suffix.lower() not in (".glb", ".gltf"):
        raise InvalidInputError(f"glTF output must end in .glb or .gltf, got '{path.suffix}'", field="output")
    skel, mesh, skin = rig.skeleton, rig.mesh, rig.skin
    J = skel.n_joints
    b = _Blob()
    FLOAT, U16, U32 = 5126, 5123, 5125
    pos = b.add(mesh.vertices.astype(np.float32), "VEC3", FLOAT, 34962, minmax=True)
    idx = b.add(mesh.faces.astype(np.uint32).ravel(), "SCALAR", U32, 34963)
    attrs = G.Attributes(POSITION=pos)
    k = skin.max_influences
    kk = 4 * ((k + 3) // 4)
    ji = np.zeros((mesh.n_vertices, kk), dtype=np.uint16)
    jw = np.zeros((mesh.n_vertices, kk), dtype=np.float32)
    ji[:, :k], jw[:, :k] = skin.indices, skin.weights
    attrs.JOINTS_0 = b.add(ji[:, :4].copy(), "VEC4", U16, 34962)
    attrs.WEIGHTS_0 = b.add(jw[:, :4].copy(), "VEC4", FLOAT, 34962)
    if kk > 4:
        attrs.JOINTS_1 = b.add(ji[:, 4:8].copy(), "VEC4", U16, 34962)
        attrs.WEIGHTS_1 = b.add(jw[:, 4:8].copy(), "VEC4", FLOAT, 34962)
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
                   meshes=[G.Mesh(name=mesh.name, primitives=[G.Primitive(attributes=attrs, indices=idx, mode=4)])],
                   skins=[G.Skin(joints=list(range(J)), inverseBindMatrices=ibm_acc, skeleton=roots[0])])
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
