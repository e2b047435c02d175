"""The look of a mesh: what a renderer or an engine needs besides positions and triangles, carried unchanged from
reader to writer (a leaf: numpy arrays, bytes and names; no file IO, no image decoding).

* vertex attributes beyond ``Mesh.uvs`` (= TEXCOORD_0): further UV sets, normals, tangents, vertex colours;
* materials (the glTF 2.0 metallic-roughness model: every field is glTF's, so glTF round-trips exactly and
  UsdPreviewSurface / Blender's Principled BSDF get the same numbers);
* textures as the *encoded* file bytes (PNG/JPEG/...) plus their MIME type, so a writer embeds or copies them
  byte for byte (never re-encodes), and the sampler settings;
* the mesh's split into primitives (glTF primitives, USD GeomSubsets, FBX material slots): a primitive id per face
  and, per primitive, its name and material.

Conventions: UVs as glTF stores them (``v`` down from the image's top edge; USD writers flip to ``st``), colours
linear RGBA, tangents ``[V, 4]`` with the bitangent sign in ``w`` (glTF TANGENT).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InvalidInputError

#: glTF sampler codes (the numbers glTF files store; other formats map to them)
NEAREST, LINEAR = 9728, 9729
REPEAT, CLAMP_TO_EDGE, MIRRORED_REPEAT = 10497, 33071, 33648

#: MIME type -> file suffix for textures written next to a USD layer / an FBX
MIME_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/ktx2": ".ktx2"}


def mime_of(data: bytes, fallback: str = "image/png") -> str:
    """MIME type of encoded image bytes from their magic number (``fallback`` when unknown)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:12] == b"\xabKTX 20\xbb\r\n\x1a\n":
        return "image/ktx2"
    return fallback


@dataclass
class Texture:
    """An image as its encoded bytes (never decoded here) and how it is sampled."""

    data: bytes  # the encoded file (PNG/JPEG/...), byte for byte what the source held
    mime: str = "image/png"
    name: str = ""  # the source's image name or file name (writers derive file names from it)
    mag_filter: int | None = None  # glTF codes (NEAREST / LINEAR); None = unspecified
    min_filter: int | None = None
    wrap_s: int = REPEAT
    wrap_t: int = REPEAT


@dataclass
class TextureRef:
    """A material's use of a texture: which one, through which UV set, and its scalar (normal scale / occlusion
    strength; 1 elsewhere)."""

    texture: int  # index into Look.textures
    uv_set: int = 0  # 0 = Mesh.uvs (TEXCOORD_0), k >= 1 = Look.uv_sets[k - 1]
    scale: float = 1.0


@dataclass
class Material:
    """glTF 2.0 metallic-roughness material (defaults are glTF's)."""

    name: str = "material"
    base_color: tuple = (1.0, 1.0, 1.0, 1.0)  # linear RGBA (baseColorFactor)
    metallic: float = 1.0
    roughness: float = 1.0
    emissive: tuple = (0.0, 0.0, 0.0)
    alpha_mode: str = "OPAQUE"  # OPAQUE | MASK | BLEND
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    base_color_texture: TextureRef | None = None
    metallic_roughness_texture: TextureRef | None = None  # G = roughness, B = metallic
    normal_texture: TextureRef | None = None
    occlusion_texture: TextureRef | None = None
    emissive_texture: TextureRef | None = None

    def texture_refs(self) -> dict[str, TextureRef]:
        """{slot name: ref} of the slots in use (slot names are the glTF ones)."""
        slots = {"baseColorTexture": self.base_color_texture, "metallicRoughnessTexture": self.metallic_roughness_texture,
                 "normalTexture": self.normal_texture, "occlusionTexture": self.occlusion_texture,
                 "emissiveTexture": self.emissive_texture}
        return {k: v for k, v in slots.items() if v is not None}


@dataclass
class Primitive:
    """One sub-mesh: a name and its material (index into Look.materials, -1 = none)."""

    name: str = "primitive"
    material: int = -1


@dataclass
class Look:
    """Everything about a mesh's appearance that a writer must keep (see the module docstring)."""

    uv_sets: list = field(default_factory=list)  # [[V, 2] float32]: TEXCOORD_1, TEXCOORD_2, ... (0 is Mesh.uvs)
    normals: np.ndarray | None = None  # [V, 3] float32, unit length
    tangents: np.ndarray | None = None  # [V, 4] float32, xyz unit, w = +-1
    colors: np.ndarray | None = None  # [V, 4] float32 linear RGBA (COLOR_0)
    materials: list = field(default_factory=list)  # [Material]
    textures: list = field(default_factory=list)  # [Texture]
    primitives: list = field(default_factory=lambda: [Primitive()])  # [Primitive]
    primitive_of_face: np.ndarray | None = None  # [F] int32 index into primitives (None: every face in primitive 0)

    def __post_init__(self):
        self.uv_sets = [np.asarray(u, dtype=np.float32).reshape(-1, 2) for u in self.uv_sets]
        if self.normals is not None:
            self.normals = np.asarray(self.normals, dtype=np.float32).reshape(-1, 3)
        if self.tangents is not None:
            self.tangents = np.asarray(self.tangents, dtype=np.float32).reshape(-1, 4)
        if self.colors is not None:
            c = np.asarray(self.colors, dtype=np.float32)
            c = c.reshape(len(c), -1)
            self.colors = np.c_[c, np.ones((len(c), 1), np.float32)] if c.shape[1] == 3 else c
        if self.primitive_of_face is not None:
            self.primitive_of_face = np.asarray(self.primitive_of_face, dtype=np.int32).reshape(-1)
        if not self.primitives:
            self.primitives = [Primitive()]

    @property
    def n_primitives(self) -> int:
        return len(self.primitives)

    def face_primitives(self, n_faces: int) -> np.ndarray:  # [F] int32
        """Primitive id of every face (all 0 when the look has no per-face ids)."""
        if self.primitive_of_face is None:
            return np.zeros(n_faces, dtype=np.int32)
        return self.primitive_of_face

    def material_of(self, primitive: int) -> "Material | None":
        m = self.primitives[primitive].material
        return self.materials[m] if 0 <= m < len(self.materials) else None

    def static(self) -> "Look":
        """The part of the look that stays valid while the surface deforms (a mesh cache's static data):
        everything but normals and tangents."""
        return replace(self, normals=None, tangents=None)

    def select_faces(self, keep: np.ndarray) -> "Look":
        """The look of the mesh restricted to faces ``keep`` (bool [F] or indices); vertices unchanged."""
        if self.primitive_of_face is None:
            return self
        return replace(self, primitive_of_face=self.primitive_of_face[keep])

    def subset(self, vertices: np.ndarray, faces: np.ndarray) -> "Look":
        """The look of a sub-mesh made of ``vertices`` (ids [n], in the new order) and faces ``faces`` (bool [F] or
        ids) of this mesh: vertex attributes gathered, per-face primitive ids selected; materials/textures kept."""
        pick = lambda a: None if a is None else a[vertices]  # noqa: E731
        pof = self.primitive_of_face[faces] if self.primitive_of_face is not None else None
        return replace(self, uv_sets=[u[vertices] for u in self.uv_sets], normals=pick(self.normals),
                       tangents=pick(self.tangents), colors=pick(self.colors), primitive_of_face=pof)

    def transformed(self, linear: np.ndarray) -> "Look":
        """The look of the mesh after its vertices went through ``v @ linear.T`` (normals by the inverse
        transpose, tangent directions by ``linear``; both renormalised; the tangent sign flips with a mirror)."""
        linear = np.asarray(linear, dtype=np.float64)[:3, :3]
        n = t = None
        if self.normals is not None:
            n = self.normals.astype(np.float64) @ np.linalg.inv(linear)
            n = (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)).astype(np.float32)
        if self.tangents is not None:
            d = self.tangents[:, :3].astype(np.float64) @ linear.T
            d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-30)
            w = self.tangents[:, 3:] * (1.0 if np.linalg.det(linear) >= 0 else -1.0)
            t = np.c_[d, w].astype(np.float32)
        return replace(self, normals=n, tangents=t)

    def validate(self, n_vertices: int, n_faces: int, source: str | None = None) -> "Look":
        """Check sizes and indices; raise InvalidInputError naming the field."""
        for name, a in [*((f"uv_sets[{i}]", u) for i, u in enumerate(self.uv_sets)), ("normals", self.normals),
                        ("tangents", self.tangents), ("colors", self.colors)]:
            if a is not None and len(a) != n_vertices:
                raise InvalidInputError(f"look.{name} has {len(a)} rows for {n_vertices} vertices", field=f"look.{name}",
                                        source=source)
        pf = self.primitive_of_face
        if pf is not None:
            if len(pf) != n_faces:
                raise InvalidInputError(f"look.primitive_of_face has {len(pf)} entries for {n_faces} faces",
                                        field="look.primitive_of_face", source=source)
            if len(pf) and (pf.min() < 0 or pf.max() >= len(self.primitives)):
                i = int(np.flatnonzero((pf < 0) | (pf >= len(self.primitives)))[0])
                raise InvalidInputError(f"face {i} is in primitive {int(pf[i])} of {len(self.primitives)}",
                                        field=f"look.primitive_of_face[{i}]", source=source)
        for p, prim in enumerate(self.primitives):
            if prim.material >= len(self.materials):
                raise InvalidInputError(f"primitive {p} ('{prim.name}') uses material {prim.material} of "
                                        f"{len(self.materials)}", field=f"look.primitives[{p}]", source=source)
        for mi, m in enumerate(self.materials):
            for slot, ref in m.texture_refs().items():
                if not 0 <= ref.texture < len(self.textures):
                    raise InvalidInputError(f"material {mi} ('{m.name}') {slot} uses texture {ref.texture} of "
                                            f"{len(self.textures)}", field=f"look.materials[{mi}]", source=source)
                if not 0 <= ref.uv_set <= len(self.uv_sets):
                    raise InvalidInputError(f"material {mi} ('{m.name}') {slot} reads UV set {ref.uv_set}; the mesh "
                                            f"has {len(self.uv_sets) + 1}", field=f"look.materials[{mi}]", source=source)
        return self


def merge_looks(looks: list, n_vertices: list, n_faces: list) -> "Look | None":
    """One look for meshes concatenated in order (vertex attributes stacked, primitives appended, equal textures and
    materials kept once); a vertex attribute missing on some mesh is filled (UVs 0, normals/tangents 0, colours 1)."""
    if all(lk is None for lk in looks):
        return None
    looks = [lk if lk is not None else Look() for lk in looks]

    def stack(get, width, fill):
        if all(get(lk) is None for lk in looks):
            return None
        return np.concatenate([get(lk) if get(lk) is not None else np.full((nv, width), fill, np.float32)
                               for lk, nv in zip(looks, n_vertices)])

    n_uv = max(len(lk.uv_sets) for lk in looks)
    uv_sets = [np.concatenate([lk.uv_sets[k] if k < len(lk.uv_sets) else np.zeros((nv, 2), np.float32)
                               for lk, nv in zip(looks, n_vertices)]) for k in range(n_uv)]
    materials, textures, prims, pof = [], [], [], []
    for lk, nf in zip(looks, n_faces):
        tmap = []
        for t in lk.textures:  # the same image in several meshes is kept once
            k = next((i for i, u in enumerate(textures) if u == t), None)
            if k is None:
                textures.append(t)
                k = len(textures) - 1
            tmap.append(k)
        mmap = []
        for m in lk.materials:
            refs = {k: (replace(r, texture=tmap[r.texture]) if r is not None else None) for k, r in
                    (("base_color_texture", m.base_color_texture), ("metallic_roughness_texture", m.metallic_roughness_texture),
                     ("normal_texture", m.normal_texture), ("occlusion_texture", m.occlusion_texture),
                     ("emissive_texture", m.emissive_texture))}
            m = replace(m, **refs)
            k = next((i for i, u in enumerate(materials) if u == m), None)
            if k is None:
                materials.append(m)
                k = len(materials) - 1
            mmap.append(k)
        p0 = len(prims)
        prims.extend(replace(p, material=mmap[p.material] if p.material >= 0 else -1) for p in lk.primitives)
        pof.append(lk.face_primitives(nf) + p0)
    return Look(uv_sets, stack(lambda lk: lk.normals, 3, 0.0), stack(lambda lk: lk.tangents, 4, 0.0),
                stack(lambda lk: lk.colors, 4, 1.0), materials, textures, prims,
                np.concatenate(pof) if pof else None)
