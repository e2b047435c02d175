"""Wavefront OBJ writer: vertices, triangles and (optionally) groups, which ``sdk.io`` reads back as parts."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.util.atomic import atomic_write_text


def obj_text(vertices: np.ndarray, faces: np.ndarray, *, face_groups: np.ndarray | None = None,
             group_names: list[str] | None = None, header: str | None = None, precision: str = ".6f") -> str:
    """OBJ text. vertices [V, 3]; faces [F, 3] (0-based); ``face_groups`` [F] group id per face (``g`` blocks in id
    order, named ``group_names[id]`` or ``part{id}``); ``precision`` is the float format of the coordinates."""
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    lines = [f"# {header}"] if header else []
    lines += [f"v {x:{precision}} {y:{precision}} {z:{precision}}" for x, y, z in v]
    if face_groups is None:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f]
    else:
        g = np.asarray(face_groups, dtype=np.int64).reshape(-1)
        for p in range(int(g.max()) + 1 if len(g) else 0):
            lines.append(f"g {group_names[p] if group_names else f'part{p}'}")
            lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f[g == p]]
    return "\n".join(lines) + "\n"


def write_obj(vertices: np.ndarray, faces: np.ndarray, path, **kw) -> Path:
    """Write :func:`obj_text` to ``path`` atomically."""
    path = Path(path)
    atomic_write_text(path, obj_text(vertices, faces, **kw))
    return path


def write_obj_look(mesh, path, *, texture_dir: Path | None = None, precision: str = ".9g") -> Path:
    """``mesh`` with its look as OBJ + MTL: ``vt`` (v flipped to OBJ's bottom-left origin) and ``vn`` per vertex,
    ``usemtl`` per primitive, ``OUT.mtl`` (Kd/d/Ke and the PBR extension's Pr/Pm, ``map_Kd``/``norm``/``map_Ke``)
    and the textures' bytes unchanged in ``texture_dir`` (default ``OUT_textures/``), referenced relatively.
    A mesh without a look is written as :func:`write_obj` does (plus ``vt`` when it has uvs)."""
    from sdk.core import sanitize_name
    from sdk.core.look import MIME_SUFFIX
    from sdk.util.atomic import atomic_write_bytes
    path = Path(path)
    lk = mesh.look
    v, f = np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
    lines = [f"v {x:{precision}} {y:{precision}} {z:{precision}}" for x, y, z in v]
    uv = mesh.uvs
    if uv is not None:
        lines += [f"vt {a:{precision}} {1.0 - b:{precision}}" for a, b in np.asarray(uv, dtype=np.float64)]
    nrm = lk.normals if lk is not None else None
    if nrm is not None:
        lines += [f"vn {a:{precision}} {b:{precision}} {c:{precision}}" for a, b, c in np.asarray(nrm, np.float64)]

    def corner(i):
        i += 1
        return f"{i}/{i if uv is not None else ''}/{i}" if nrm is not None else (f"{i}/{i}" if uv is not None else f"{i}")

    if lk is None or not lk.materials:
        lines += [f"f {corner(a)} {corner(b)} {corner(c)}" for a, b, c in f]
        atomic_write_text(path, "\n".join(lines) + "\n")
        return path
    tex_dir = texture_dir or path.with_name(f"{path.stem}_textures")
    rel_dir = Path(_relpath(tex_dir, path.parent))
    used = sorted({r.texture for m in lk.materials for r in m.texture_refs().values()})
    files, taken = {}, set()
    for i in used:
        t = lk.textures[i]
        name = f"{sanitize_name(t.name or f'texture_{i}', taken)}{MIME_SUFFIX.get(t.mime, '.png')}"
        atomic_write_bytes(tex_dir / name, t.data)
        files[i] = (rel_dir / name).as_posix()
    mtl, mat_names, taken = [], [], set()
    for m in lk.materials:
        nm = sanitize_name(m.name, taken)
        mat_names.append(nm)
        r, g, b, a = (float(x) for x in m.base_color)
        mtl += [f"newmtl {nm}", f"Kd {r:.9g} {g:.9g} {b:.9g}", f"d {a:.9g}", f"Pm {m.metallic:.9g}",
                f"Pr {m.roughness:.9g}", "Ke " + " ".join(f"{float(x):.9g}" for x in m.emissive)]
        for key, ref in (("map_Kd", m.base_color_texture), ("norm", m.normal_texture), ("map_Ke", m.emissive_texture)):
            if ref is not None and ref.texture in files:
                mtl.append(f"{key} {files[ref.texture]}")
        mtl.append("")
    mtl_path = path.with_suffix(".mtl")
    atomic_write_text(mtl_path, "\n".join(mtl))
    lines.insert(0, f"mtllib {mtl_path.name}")
    pid = lk.face_primitives(len(f))
    for p, prim in enumerate(lk.primitives):
        sel = f[pid == p]
        if not len(sel):
            continue
        lines.append(f"g {sanitize_name(prim.name)}")
        if prim.material >= 0:
            lines.append(f"usemtl {mat_names[prim.material]}")
        lines += [f"f {corner(a)} {corner(b)} {corner(c)}" for a, b, c in sel]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _relpath(target: Path, base: Path) -> str:
    import os
    return os.path.relpath(target, base)
