"""What a loader returns: the mesh, its parts, and (for rigged inputs) the ground-truth rig."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import Mesh, PartLabels, Rig, sanitize_name
from ..errors import InvalidInputError


@dataclass
class Appearance:
    """Base colour of an asset's surface, per vertex of ``Asset.mesh`` (glTF: material baseColorFactor x COLOR_0,
    and the base-colour texture through TEXCOORD_0 where ``textured``). Colours are as stored (sRGB-encoded)."""

    vertex_colors: np.ndarray  # [V, 3] float32 in [0, 1]
    uvs: np.ndarray  # [V, 2] float32, glTF convention (0, 0) = the image's top-left; zeros where untextured
    texture: np.ndarray | None = None  # [H, W, 3] float32 in [0, 1]
    textured: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # [V] samples the texture


@dataclass
class Asset:
    path: Path | None
    mesh: Mesh
    parts: PartLabels | None = None
    rig: Rig | None = None  # ground-truth rig when the file carries a skin
    appearance: Appearance | None = None  # surface colours / texture, when the format carries them

    def parts_from_skin(self) -> PartLabels:
        """Kinematic parts as SP4D defines them (App. B): argmax of the skinning weights.

        Joints that win no vertex are dropped; part names are the winning joints' names and
        ``joint_of_part`` maps each part back to its joint.
        """
        if self.rig is None:
            raise InvalidInputError("--parts-from-skin needs an input with a skin (JOINTS_0/WEIGHTS_0)",
                                    field="parts", source=str(self.path))
        winner = self.rig.skin.indices[:, 0]  # weights are sorted descending
        used = np.unique(winner)
        remap = np.full(self.rig.skeleton.n_joints, -1)
        remap[used] = np.arange(len(used))
        return PartLabels(remap[winner], [self.rig.skeleton.names[j] for j in used], joint_of_part=used)


def parts_from_labels(mesh: Mesh, labels, *, per_face: bool | None = None, names=None) -> PartLabels:
    """Part labels from a per-vertex or per-face integer array."""
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise InvalidInputError(f"part labels must be integers, got {labels.dtype}", field="parts")
    if per_face is None:
        if len(labels) == mesh.n_vertices:
            per_face = False
        elif len(labels) == mesh.n_faces:
            per_face = True
        else:
            raise InvalidInputError(f"part label array has {len(labels)} entries; the mesh has {mesh.n_vertices} vertices "
                                    f"and {mesh.n_faces} faces", field="parts")
    if per_face:
        if len(labels) != mesh.n_faces:
            raise InvalidInputError(f"{len(labels)} face labels for {mesh.n_faces} faces", field="parts")
        if labels.min() < 0:
            f = int(np.flatnonzero(labels < 0)[0])
            raise InvalidInputError(f"face {f} has negative part label {int(labels[f])}", field=f"parts[{f}]")
        return PartLabels.from_face_labels(mesh.faces, labels, mesh.n_vertices, names)
    return PartLabels(labels.astype(np.int64), list(names) if names else [])


def load_obj(path) -> Asset:
    """Wavefront OBJ; each ``o``/``g`` group becomes a part. Polygons are fan-triangulated. ``vt``/``vn`` per corner
    (vertices split where corners disagree), ``usemtl`` primitives and ``mtllib`` materials/textures form the look."""
    from ..errors import AssetReadError
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise AssetReadError(path, str(e)) from e
    verts, faces, face_group = [], [], []
    vts, vns, corners, face_mtl, mtl_names, mtllibs = [], [], [], [], [], []
    cur_mtl = -1
    groups: list[str] = []
    gid = -1

    def group(name):
        nonlocal gid
        if name in groups:
            gid = groups.index(name)
        else:
            groups.append(name)
            gid = len(groups) - 1

    def ref(tok: str, k: int, n: int) -> int:
        parts = tok.split("/")
        if len(parts) <= k or not parts[k]:
            return -1
        i = int(parts[k])
        return i - 1 if i > 0 else n + i

    for ln, line in enumerate(text.splitlines(), 1):
        if line.startswith("v "):
            parts = line.split()
            try:
                verts.append([float(x) for x in parts[1:4]])
            except ValueError as e:
                raise AssetReadError(path, f"line {ln}: bad vertex '{line.strip()}'") from e
            if len(verts[-1]) != 3:
                raise AssetReadError(path, f"line {ln}: vertex needs 3 coordinates")
        elif line.startswith("vt "):
            vals = line.split()[1:3]
            vts.append([float(x) for x in vals] + [0.0] * (2 - len(vals)))
        elif line.startswith("vn "):
            vns.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("f "):
            toks = line.split()[1:]
            try:
                idx = [ref(t, 0, len(verts)) for t in toks]
                tc = [ref(t, 1, len(vts)) for t in toks]
                nc = [ref(t, 2, len(vns)) for t in toks]
            except ValueError as e:
                raise AssetReadError(path, f"line {ln}: bad face '{line.strip()}'") from e
            if gid < 0:
                group(path.stem)
            for k in range(1, len(idx) - 1):
                faces.append([idx[0], idx[k], idx[k + 1]])
                corners.append([(idx[c], tc[c], nc[c]) for c in (0, k, k + 1)])
                face_group.append(gid)
                face_mtl.append(cur_mtl)
        elif line.startswith(("o ", "g ")):
            nm = line[2:].strip() or f"group_{len(groups)}"
            group(nm)
        elif line.startswith("usemtl "):
            nm = line[7:].strip()
            if nm not in mtl_names:
                mtl_names.append(nm)
            cur_mtl = mtl_names.index(nm)
        elif line.startswith("mtllib "):
            mtllibs.append(line[7:].strip())
    if not verts or not faces:
        raise AssetReadError(path, "OBJ has no faces" if verts else "OBJ has no vertices")
    if faces and (vts or vns):  # texture coordinates / normals per corner: split vertices where corners disagree
        verts, faces, uvs, look = _obj_look(path, np.array(verts), np.array(corners, dtype=np.int64).reshape(-1, 3, 3),
                                            np.array(vts).reshape(-1, 2), np.array(vns).reshape(-1, 3),
                                            np.array(face_mtl), mtl_names, mtllibs)
    else:
        uvs = look = None
        if mtl_names:
            _, _, _, look = _obj_look(path, np.array(verts), np.array(corners, dtype=np.int64).reshape(-1, 3, 3),
                                      np.zeros((0, 2)), np.zeros((0, 3)), np.array(face_mtl), mtl_names, mtllibs)
    mesh = Mesh(np.array(verts), np.array(faces), name=sanitize_name(path.stem), uvs=uvs, look=look)
    bad = (mesh.faces < 0).any(1) | (mesh.faces >= mesh.n_vertices).any(1)
    if bad.any():  # before the part labels index with them
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"face {i} references vertex out of range {mesh.faces[i].tolist()} (the OBJ has "
                                f"{mesh.n_vertices} vertices)", field=f"faces[{i}]", source=str(path))
    used = np.unique(face_group)
    remap = np.full(len(groups), -1)
    remap[used] = np.arange(len(used))
    taken: set[str] = set()
    names = [sanitize_name(groups[g], taken) for g in used]
    fl = remap[np.array(face_group)]
    return Asset(path, mesh, PartLabels.from_face_labels(mesh.faces, fl, mesh.n_vertices, names) if len(used) > 1 else None)


def _obj_look(path: Path, verts, corners, vts, vns, face_mtl, mtl_names, mtllibs):
    """(vertices, faces, uvs, look) of an OBJ with per-corner ``vt``/``vn`` and ``usemtl``: a vertex keeps its index
    when all its corners agree, else it is split per distinct (v, vt, vn); materials from the ``mtllib`` files
    (missing ones: named, default values)."""
    from ..core.look import Look, Primitive
    from ..errors import AssetReadError
    F = len(corners)
    key = corners.reshape(-1, 3)
    if len(key) and (key[:, 0].min() < 0 or key[:, 0].max() >= len(verts)):
        return verts, corners[..., 0], None, None  # load_obj names the face that is out of range
    if len(key) and (key[:, 1:].max(0) >= [len(vts), len(vns)]).any():
        raise AssetReadError(path, "a face references a texture coordinate or normal that does not exist")
    first = np.full((len(verts), 2), -2, dtype=np.int64)
    first[key[:, 0]] = key[:, 1:]
    consistent = bool(np.all(first[key[:, 0]] == key[:, 1:]))
    if consistent:  # one (vt, vn) per vertex: keep the file's vertex order
        vertex_key = np.c_[np.arange(len(verts)), first]
        faces = corners[..., 0]
    else:
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        vertex_key, faces = uniq, inv.reshape(F, 3)
    vi, ti, ni = vertex_key[:, 0], vertex_key[:, 1], vertex_key[:, 2]
    uvs = None
    if len(vts):
        st = np.where((ti >= 0)[:, None], vts[np.maximum(ti, 0)], 0.0)
        uvs = np.c_[st[:, 0], 1.0 - st[:, 1]].astype(np.float32)  # OBJ's origin is bottom-left
    normals = None
    if len(vns):
        n = np.where((ni >= 0)[:, None], vns[np.maximum(ni, 0)], 0.0)
        normals = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    materials, textures = _read_mtl(path, mtllibs, mtl_names)
    prims = [Primitive(sanitize_name(n), i) for i, n in enumerate(mtl_names)]
    pof = np.asarray(face_mtl, dtype=np.int64)
    if (pof < 0).any():
        prims.append(Primitive(sanitize_name(path.stem), -1))
        pof = np.where(pof < 0, len(prims) - 1, pof)
    look = Look([], normals, None, None, materials, textures, prims or None, pof.astype(np.int32) if len(prims) > 1 else None)
    return verts[vi], faces, uvs, look


def _read_mtl(path: Path, mtllibs: list, names: list):
    """Materials named ``names`` from the MTL files (Kd, d/Tr, Ke, Pm, Pr, map_Kd, norm/map_Bump/bump, map_Ke);
    texture files read as bytes (a missing texture file is a logged warning naming it; the material keeps the rest)."""
    from ..core.look import Material, Texture, TextureRef, mime_of
    found: dict[str, dict] = {}
    for lib in mtllibs:
        f = path.parent / lib
        if not f.is_file():
            continue
        cur = None
        for line in f.read_text(errors="replace").splitlines():
            tok = line.strip().split()
            if not tok or tok[0].startswith("#"):
                continue
            if tok[0] == "newmtl":
                cur = found.setdefault(" ".join(tok[1:]), {"_dir": f.parent})
            elif cur is not None and len(tok) > 1:
                cur[tok[0]] = tok[1:]
    textures, tex_index = [], {}

    def tex(d, *keys):
        for k in keys:
            if k in d:
                tf = (d["_dir"] / d[k][-1]).resolve()
                if not tf.is_file():  # common for downloaded OBJs: keep the mesh and say so
                    import logging
                    logging.getLogger(__name__).warning("%s: texture file '%s' of the material library is missing; "
                                                        "the material is read without it", path.name, d[k][-1])
                    return None
                if str(tf) not in tex_index:
                    data = tf.read_bytes()
                    tex_index[str(tf)] = len(textures)
                    textures.append(Texture(data, mime_of(data), sanitize_name(tf.stem)))
                return TextureRef(tex_index[str(tf)])
        return None

    mats = []
    for n in names:
        d = found.get(n, {"_dir": path.parent})
        kd = [float(x) for x in d.get("Kd", ["1", "1", "1"])[:3]]
        alpha = float(d["d"][0]) if "d" in d else (1.0 - float(d["Tr"][0]) if "Tr" in d else 1.0)
        m = Material(sanitize_name(n), (*kd, alpha), float(d.get("Pm", ["0"])[0]), float(d.get("Pr", ["1"])[0]),
                     tuple(float(x) for x in d.get("Ke", ["0", "0", "0"])[:3]),
                     "BLEND" if alpha < 1.0 else "OPAQUE")
        m.base_color_texture = tex(d, "map_Kd")
        m.normal_texture = tex(d, "norm", "map_Bump", "bump")
        m.emissive_texture = tex(d, "map_Ke")
        mats.append(m)
    return mats, textures


def load_ply(path) -> Asset:
    """PLY mesh; a vertex property named part/label/part_id/segment gives parts."""
    import trimesh
    from ..errors import AssetReadError
    path = Path(path)
    try:
        tm = trimesh.load(str(path), force="mesh", process=False)
    except Exception as e:
        raise AssetReadError(path, f"not a readable PLY ({type(e).__name__}: {e})") from e
    if not hasattr(tm, "vertices") or len(tm.vertices) == 0:
        raise AssetReadError(path, "PLY has no vertices")
    mesh = Mesh(np.asarray(tm.vertices), np.asarray(tm.faces), name=sanitize_name(path.stem))
    parts = None
    props = (tm.metadata.get("_ply_raw", {}) or {}).get("vertex", {}).get("data")
    if props is not None and props.dtype.names:
        for key in ("part", "label", "part_id", "segment"):
            if key in props.dtype.names:
                parts = PartLabels(np.asarray(props[key]).astype(np.int64))
                break
    return Asset(path, mesh, parts)


def usd_mesh_prims(stage, root=None):
    """Yield (prim, world points [V, 3], triangles [F, 3]) for every Mesh prim with faces under ``root``
    (default: the whole stage), at the default time. Polygons are fan-triangulated."""
    from ._lazy import pxr
    Usd, UsdGeom = pxr("Usd"), pxr("UsdGeom")
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    prims = Usd.PrimRange(root) if root is not None else stage.Traverse()
    for prim in prims:
        if not prim.IsA(UsdGeom.Mesh):
            continue
        m = UsdGeom.Mesh(prim)
        pts = m.GetPointsAttr().Get()
        cnt = m.GetFaceVertexCountsAttr().Get()
        idx = m.GetFaceVertexIndicesAttr().Get()
        if pts is None or cnt is None or idx is None or len(pts) == 0:
            continue
        p = np.asarray(pts, dtype=np.float64)
        xf = np.asarray(cache.GetLocalToWorldTransform(prim), dtype=np.float64).T  # USD is row-vector
        p = p @ xf[:3, :3].T + xf[:3, 3]
        cnt, idx = np.asarray(cnt), np.asarray(idx)
        starts = np.r_[0, np.cumsum(cnt)[:-1]]
        tri = [[idx[s], idx[s + k], idx[s + k + 1]] for s, c in zip(starts, cnt) for k in range(1, c - 1)]
        if tri:
            yield prim, p, np.asarray(tri, dtype=np.int64)


def load_usd_mesh(path) -> Asset:
    """Meshes of a USD stage in world space (rest time) with their looks; each Mesh prim becomes a part. A stage with
    a UsdSkel-skinned mesh is read as a rig (:func:`sdk.io.usdskel.read_rig_usd`)."""
    from ..core.look import merge_looks
    from ..errors import AssetReadError
    from ._lazy import pxr
    from .usd_look import read_usd_mesh
    from .usdskel import has_skin, read_rig_usd
    Usd, UsdGeom = pxr("Usd"), pxr("UsdGeom")
    path = Path(path)
    stage = Usd.Stage.Open(str(path)) if path.exists() else None
    if stage is None:
        raise AssetReadError(path, "USD stage could not be opened")
    if has_skin(stage):
        return read_rig_usd(path)
    got, names = [], []
    for prim in stage.Traverse():
        if prim.IsA(UsdGeom.Mesh):
            um = read_usd_mesh(prim)
            if um is not None:
                got.append(um)
                names.append(prim.GetName())
    if not got:
        raise AssetReadError(path, "stage has no Mesh prims with faces")
    offs = np.cumsum([0] + [len(u.points) for u in got])
    has_uv = any(u.uvs is not None for u in got)
    uvs = np.concatenate([u.uvs if u.uvs is not None else np.zeros((len(u.points), 2), np.float32) for u in got]) \
        if has_uv else None
    look = merge_looks([u.look for u in got], [len(u.points) for u in got], [len(u.faces) for u in got])
    mesh = Mesh(np.concatenate([u.points for u in got]), np.concatenate([u.faces + o for u, o in zip(got, offs)]),
                name=sanitize_name(path.stem), uvs=uvs, look=look)
    taken: set[str] = set()
    groups = np.concatenate([np.full(len(u.points), i) for i, u in enumerate(got)])
    parts = PartLabels(groups, [sanitize_name(n, taken) for n in names]) if len(names) > 1 else None
    return Asset(path, mesh, parts)
