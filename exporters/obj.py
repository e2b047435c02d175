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
